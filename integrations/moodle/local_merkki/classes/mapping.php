<?php
// This file is part of local_merkki (GNU GPL v3 or later).

namespace local_merkki;

defined('MOODLE_INTERNAL') || die();

/**
 * Which badge class a completion awards: the "mappings" setting, one rule a line.
 *
 *     course:42 = pokot-ennakointiosaaminen        the course with id 42 is completed
 *     cm:311 = valohub-mentorointi                 the activity (course module) 311 is completed
 *     grade:88 >= 4 = valohub-digipedagogiikka     grade item 88's final grade reaches 4
 *
 * Lines starting with # and lines that do not parse are ignored.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class mapping {
    /** A badge class slug as Merkki writes them. */
    const SLUG = '[a-z][a-z0-9]*(?:-[a-z0-9]+)*';

    /**
     * The rules of the setting's text.
     *
     * @param string $text the setting
     * @return array[] each ['kind' => course|cm|grade, 'id' => int, 'threshold' => ?float, 'slug' => string]
     */
    public static function parse(string $text): array {
        $rules = [];
        foreach (preg_split('/\R/', $text) as $line) {
            $line = trim($line);
            if ($line === '' || $line[0] === '#') {
                continue;
            }
            $pattern = '/^(course|cm|grade):(\d+)(?:\s*>=\s*(\d+(?:\.\d+)?))?\s*=\s*(' . self::SLUG . ')$/';
            if (!preg_match($pattern, $line, $match)) {
                continue;
            }
            $threshold = $match[3] === '' ? null : (float) $match[3];
            if (($match[1] === 'grade') !== ($threshold !== null)) {
                continue; // A threshold belongs to grade rules, and every grade rule has one.
            }
            $rules[] = ['kind' => $match[1], 'id' => (int) $match[2], 'threshold' => $threshold, 'slug' => $match[4]];
        }
        return $rules;
    }

    /**
     * The badge classes a completion of ($kind, $id) awards.
     *
     * @param array[] $rules from parse()
     * @param string $kind course, cm or grade
     * @param int $id the course, course module or grade item id
     * @param float|null $grade the final grade (grade rules only)
     * @return string[] slugs
     */
    public static function slugs(array $rules, string $kind, int $id, ?float $grade = null): array {
        $slugs = [];
        foreach ($rules as $rule) {
            if ($rule['kind'] !== $kind || $rule['id'] !== $id) {
                continue;
            }
            if ($kind === 'grade' && ($grade === null || $grade < $rule['threshold'])) {
                continue;
            }
            $slugs[$rule['slug']] = true;
        }
        return array_keys($slugs);
    }
}
