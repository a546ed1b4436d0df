<?php
// This file is part of local_merkki (GNU GPL v3 or later).

/**
 * English strings of local_merkki.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$string['pluginname'] = 'Merkki';
$string['url'] = 'Merkki address';
$string['url_desc'] = 'The address of the Merkki service, e.g. https://merkki.example.fi';
$string['keyid'] = 'Integration id';
$string['keyid_desc'] = 'The id Merkki shows for the integration (mki_...).';
$string['secret'] = 'Signing secret';
$string['secret_desc'] = 'The secret Merkki showed once when the integration was created (whsec_...).';
$string['mappings'] = 'Badges to award';
$string['mappings_desc'] = 'One rule a line: "course:ID = badge-class-slug" (course completed), "cm:ID = slug" (activity completed), "grade:ITEMID >= GRADE = slug" (final grade reaches GRADE).';
$string['tasksendqueue'] = 'Report completions to Merkki';
$string['privacy:metadata:merkki'] = 'Completions are reported to the Merkki service, which issues the badge to the learner.';
$string['privacy:metadata:merkki:email'] = 'The learner\'s e-mail address, which recognises the learner and receives the badge.';
$string['privacy:metadata:merkki:fullname'] = 'The learner\'s name, written into the badge.';
$string['privacy:metadata:merkki:lang'] = 'The learner\'s language, the language of the badge.';
$string['privacy:metadata:queue'] = 'Reports waiting to be sent to Merkki.';
$string['privacy:metadata:queue:payload'] = 'The report: the learner\'s e-mail address, name and language, and the badge class.';
