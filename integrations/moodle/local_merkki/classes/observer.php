<?php
// This file is part of local_merkki (GNU GPL v3 or later).

namespace local_merkki;

defined('MOODLE_INTERNAL') || die();

/**
 * Puts completions the mappings award a badge for into the queue; the scheduled task sends them
 * (a user's request never waits for Merkki, and a failed call is retried).
 *
 * The event_id is built from what identifies the completion, not from Moodle's log row, so that
 * the same completion reported again (a re-triggered event, a retry) is issued once:
 * <site>:<course|cm|grade>:<id>:user:<userid>:<badge class>.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class observer {
    /** course_modules_completion.completionstate: complete, and complete with a pass grade. */
    const COMPLETE_STATES = [1, 2];

    /**
     * @param \core\event\course_completed $event
     */
    public static function course_completed(\core\event\course_completed $event): void {
        self::queue($event, 'course', (int) $event->courseid);
    }

    /**
     * @param \core\event\course_module_completion_updated $event
     */
    public static function module_completion_updated(\core\event\course_module_completion_updated $event): void {
        $completion = $event->get_record_snapshot('course_modules_completion', $event->objectid);
        if (!$completion || !in_array((int) $completion->completionstate, self::COMPLETE_STATES, true)) {
            return; // Incomplete, or complete with a fail grade.
        }
        self::queue($event, 'cm', (int) $event->contextinstanceid);
    }

    /**
     * @param \core\event\user_graded $event
     */
    public static function user_graded(\core\event\user_graded $event): void {
        $finalgrade = $event->other['finalgrade'] ?? null;
        if ($finalgrade === null) {
            return;
        }
        self::queue($event, 'grade', (int) $event->other['itemid'], (float) $finalgrade);
    }

    /**
     * Queue one report per badge class the mappings give for this completion.
     *
     * @param \core\event\base $event
     * @param string $kind course, cm or grade
     * @param int $id the course, course module or grade item id
     * @param float|null $grade the final grade of a grade event
     */
    private static function queue(\core\event\base $event, string $kind, int $id, ?float $grade = null): void {
        global $DB, $CFG;
        $config = get_config('local_merkki');
        if (empty($config->url) || empty($config->mappings)) {
            return;
        }
        $slugs = mapping::slugs(mapping::parse((string) $config->mappings), $kind, $id, $grade);
        $userid = (int) $event->relateduserid;
        if (!$slugs || !$userid) {
            return;
        }
        $user = $DB->get_record('user', ['id' => $userid, 'deleted' => 0]);
        if (!$user || empty($user->email)) {
            return;
        }
        $site = parse_url($CFG->wwwroot, PHP_URL_HOST) . (string) parse_url($CFG->wwwroot, PHP_URL_PATH);
        $learner = ['email' => $user->email, 'name' => fullname($user)];
        $lang = substr((string) $user->lang, 0, 2); // Moodle's sv_fi is Swedish.
        if (in_array($lang, ['fi', 'sv', 'en'], true)) {
            $learner['lang'] = $lang;
        }
        foreach ($slugs as $slug) {
            $eventid = "{$site}:{$kind}:{$id}:user:{$userid}:{$slug}";
            if ($DB->record_exists('local_merkki_queue', ['eventid' => $eventid])) {
                continue; // Reported already (or waiting): Merkki would answer the same job.
            }
            $payload = [
                'event_id' => $eventid,
                'event_type' => $event->eventname,
                'badge_class' => $slug,
                'learner' => $learner,
                'course_id' => (int) $event->courseid,
                'platform_id' => $CFG->wwwroot,
                'occurred_at' => gmdate('Y-m-d\TH:i:s\Z', (int) $event->timecreated),
            ];
            if ($grade !== null) {
                $payload['grade'] = (string) round($grade, 2);
            }
            $DB->insert_record('local_merkki_queue', (object) [
                'eventid' => $eventid,
                'payload' => json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE),
                'status' => 'pending',
                'attempts' => 0,
                'nextattempt' => 0,
                'timecreated' => time(),
            ]);
        }
    }
}
