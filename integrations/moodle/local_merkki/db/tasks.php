<?php
// This file is part of local_merkki (GNU GPL v3 or later).

/**
 * The queue is sent every minute; failed calls are retried with a growing delay.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$tasks = [
    [
        'classname' => '\local_merkki\task\send_queue',
        'blocking' => 0,
        'minute' => '*',
        'hour' => '*',
        'day' => '*',
        'month' => '*',
        'dayofweek' => '*',
    ],
];
