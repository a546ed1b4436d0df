<?php
// This file is part of local_merkki (GNU GPL v3 or later).

namespace local_merkki;

defined('MOODLE_INTERNAL') || die();

/**
 * Calls to Merkki's completion webhook, signed as docs/integrations.md says:
 * Merkki-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>.
 *
 * @package    local_merkki
 * @license    http://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class client {
    /** The webhook's path under Merkki's address. */
    const PATH = '/api/v1/completions';

    /**
     * The Merkki-Signature header's value for $signed (the exact body) at $time.
     *
     * @param string $secret the integration's signing secret
     * @param int $time Unix time of signing
     * @param string $signed the body, byte for byte as sent
     * @return string
     */
    public static function signature(string $secret, int $time, string $signed): string {
        return 't=' . $time . ',v1=' . hash_hmac('sha256', $time . '.' . $signed, $secret);
    }

    /**
     * POST $body to Merkki, signed now (a retry is signed anew: Merkki refuses a time more than
     * five minutes off).
     *
     * @param string $baseurl Merkki's address, e.g. https://merkki.example.fi
     * @param string $keyid the integration id, mki_...
     * @param string $secret the signing secret
     * @param string $body the JSON payload
     * @return array [int HTTP status (0: no answer), string answer or error]
     */
    public static function post(string $baseurl, string $keyid, string $secret, string $body): array {
        global $CFG;
        require_once($CFG->libdir . '/filelib.php');
        $curl = new \curl();
        $curl->setHeader([
            'Content-Type: application/json',
            'Merkki-Integration: ' . $keyid,
            'Merkki-Signature: ' . self::signature($secret, time(), $body),
        ]);
        $answer = $curl->post(rtrim($baseurl, '/') . self::PATH, $body);
        if ($curl->get_errno()) {
            return [0, (string) $curl->error];
        }
        $info = $curl->get_info();
        return [(int) ($info['http_code'] ?? 0), (string) $answer];
    }
}
