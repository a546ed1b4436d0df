<?php
// This file is part of local_merkki (GNU GPL v3 or later).

/**
 * The events that report a completion (docs/integrations.md, "Moodle event mapping").
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$observers = [
    [
        'eventname' => '\core\event\course_completed',
        'callback' => '\local_merkki\observer::course_completed',
    ],
    [
        'eventname' => '\core\event\course_module_completion_updated',
        'callback' => '\local_merkki\observer::module_completion_updated',
    ],
    [
        'eventname' => '\core\event\user_graded',
        'callback' => '\local_merkki\observer::user_graded',
    ],
];
