<?php
// This file is part of Merkki's Moodle plugin local_merkki: it reports completions to Merkki's
// completion webhook (docs/integrations.md in the Merkki repository).
//
// This program is free software: you can redistribute it and/or modify it under the terms of the
// GNU General Public License as published by the Free Software Foundation, either version 3 of
// the License, or (at your option) any later version (the licence of Moodle plugins).

/**
 * Version of local_merkki.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$plugin->component = 'local_merkki';
$plugin->version = 2026120400;
$plugin->requires = 2022112800; // Moodle 4.1 LTS.
$plugin->maturity = MATURITY_ALPHA;
$plugin->release = '0.1';
