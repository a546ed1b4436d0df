<?php
// This file is part of local_merkki (GNU GPL v3 or later).

namespace local_merkki\task;

defined('MOODLE_INTERNAL') || die();

/**
 * Sends the queued completions to Merkki (docs/integrations.md, "Answers"): 202 is done; no
 * answer, 429, 5xx and a stale signature are retried later with the same body (Merkki answers a
 * repeat with the first report's job); any other answer is final and kept for the administrator.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class send_queue extends \core\task\scheduled_task {
    /** Reports sent per run. */
    const BATCH = 200;
    /** After this many attempts a report is marked failed. */
    const MAX_ATTEMPTS = 20;

    /**
     * @return string
     */
    public function get_name(): string {
        return get_string('tasksendqueue', 'local_merkki');
    }

    /**
     * Whether an answer is worth another attempt later.
     *
     * @param int $status HTTP status, 0 when there was no answer
     * @param string $answer the body
     * @return bool
     */
    public static function retryable(int $status, string $answer): bool {
        return $status === 0 || $status === 429 || $status >= 500
            || ($status === 401 && strpos($answer, 'stale_signature') !== false);
    }

    /**
     * Seconds to wait before attempt number $attempts + 1: 2, 4, 8... minutes, at most a day.
     *
     * @param int $attempts attempts made so far
     * @return int
     */
    public static function delay(int $attempts): int {
        return min(DAYSECS, 60 * (2 ** min($attempts, 11)));
    }

    public function execute(): void {
        global $DB;
        $config = get_config('local_merkki');
        if (empty($config->url) || empty($config->keyid) || empty($config->secret)) {
            mtrace('local_merkki: not configured; nothing sent');
            return;
        }
        $now = time();
        $rows = $DB->get_records_select(
            'local_merkki_queue', "status = 'pending' AND nextattempt <= ?", [$now], 'id', '*', 0, self::BATCH
        );
        foreach ($rows as $row) {
            [$status, $answer] = \local_merkki\client::post($config->url, $config->keyid, $config->secret, $row->payload);
            $row->attempts++;
            if ($status === 202) {
                $row->status = 'sent';
                $row->lasterror = null;
            } else {
                $row->lasterror = $status . ' ' . \core_text::substr($answer, 0, 1000);
                if (self::retryable($status, $answer) && $row->attempts < self::MAX_ATTEMPTS) {
                    $row->nextattempt = $now + self::delay($row->attempts);
                } else {
                    $row->status = 'failed';
                }
            }
            $DB->update_record('local_merkki_queue', $row);
            mtrace("local_merkki: {$row->eventid}: {$status} ({$row->status})");
        }
    }
}
