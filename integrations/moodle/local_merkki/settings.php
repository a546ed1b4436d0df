<?php
// This file is part of local_merkki (GNU GPL v3 or later).

/**
 * Site administration > Plugins > Local plugins > Merkki.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

if ($hassiteconfig) {
    $settings = new admin_settingpage('local_merkki', get_string('pluginname', 'local_merkki'));
    $ADMIN->add('localplugins', $settings);
    $settings->add(new admin_setting_configtext('local_merkki/url',
        get_string('url', 'local_merkki'), get_string('url_desc', 'local_merkki'), '', PARAM_URL));
    $settings->add(new admin_setting_configtext('local_merkki/keyid',
        get_string('keyid', 'local_merkki'), get_string('keyid_desc', 'local_merkki'), '', PARAM_ALPHANUMEXT));
    $settings->add(new admin_setting_configpasswordunmask('local_merkki/secret',
        get_string('secret', 'local_merkki'), get_string('secret_desc', 'local_merkki'), ''));
    $settings->add(new admin_setting_configtextarea('local_merkki/mappings',
        get_string('mappings', 'local_merkki'), get_string('mappings_desc', 'local_merkki'), '', PARAM_RAW));
}
