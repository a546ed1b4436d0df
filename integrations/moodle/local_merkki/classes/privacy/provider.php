<?php
// This file is part of local_merkki (GNU GPL v3 or later).

namespace local_merkki\privacy;

use core_privacy\local\metadata\collection;

defined('MOODLE_INTERNAL') || die();

/**
 * What the plugin sends to Merkki and keeps meanwhile.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class provider implements \core_privacy\local\metadata\provider {
    /**
     * @param collection $collection
     * @return collection
     */
    public static function get_metadata(collection $collection): collection {
        $collection->add_external_location_link('merkki', [
            'email' => 'privacy:metadata:merkki:email',
            'fullname' => 'privacy:metadata:merkki:fullname',
            'lang' => 'privacy:metadata:merkki:lang',
        ], 'privacy:metadata:merkki');
        $collection->add_database_table('local_merkki_queue', [
            'payload' => 'privacy:metadata:queue:payload',
        ], 'privacy:metadata:queue');
        return $collection;
    }
}
