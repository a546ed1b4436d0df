"""The webhook signature scheme and the sealed secret box (issue 17)."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess
from pathlib import Path

import pytest

from issuer.core import secret_box, webhook_signature
from issuer.core.webhook_signature import SignatureError

SECRET = "whsec_test"
BODY = b'{"event_id":"1"}'


def test_the_signature_is_hmac_sha256_of_time_dot_body() -> None:
    """The documented recipe (docs/integrations.md: openssl dgst -sha256 -hmac)."""
    expected = hmac.new(b"whsec_test", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert webhook_signature.header_value(SECRET, 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_a_signature_matches_only_its_body_secret_and_time() -> None:
    parsed = webhook_signature.parse(webhook_signature.header_value(SECRET, 100, BODY))
    assert webhook_signature.matches(SECRET, parsed, BODY)
    assert not webhook_signature.matches(SECRET, parsed, BODY + b" ")
    assert not webhook_signature.matches("whsec_other", parsed, BODY)
    moved = webhook_signature.ParsedSignature(101, parsed.signatures)
    assert not webhook_signature.matches(SECRET, moved, BODY)


def test_one_of_several_signatures_suffices_and_other_schemes_are_ignored() -> None:
    good = webhook_signature.compute(SECRET, 100, BODY)
    parsed = webhook_signature.parse(f"t=100, v0=abc, v1={'0' * 64}, v1={good}")
    assert parsed.signatures == ("0" * 64, good)
    assert webhook_signature.matches(SECRET, parsed, BODY)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "signature_missing"),
        ("", "signature_missing"),
        ("v1=" + "0" * 64, "invalid_signature"),
        ("t=100", "invalid_signature"),
        ("t=abc,v1=" + "0" * 64, "invalid_signature"),
        ("t=100,v1=" + "0" * 63, "invalid_signature"),
        ("t=100,v1=" + "G" * 64, "invalid_signature"),
        ("t=1" + "0" * 20 + ",v1=" + "0" * 64, "invalid_signature"),
        ("t=100,v1=" + "0" * 64 + "," * 2000, "invalid_signature"),
    ],
)
def test_malformed_headers_are_refused(header: str | None, code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        webhook_signature.parse(header)
    assert caught.value.code == code


def test_the_time_window_is_five_minutes_either_way() -> None:
    parsed = webhook_signature.ParsedSignature(1000, ("0" * 64,))
    webhook_signature.check_time(parsed, 1000 + 300)
    webhook_signature.check_time(parsed, 1000 - 300)
    for now in (1000 + 301, 1000 - 301):
        with pytest.raises(SignatureError) as caught:
            webhook_signature.check_time(parsed, now)
        assert caught.value.code == "stale_signature"


def test_a_sealed_secret_opens_with_its_passphrase_and_row_only() -> None:
    box = secret_box.seal("passphrase", "whsec_secret", "row 1")
    assert box.startswith("v1:")
    assert "whsec_secret" not in box
    assert secret_box.open_box("passphrase", box, "row 1") == "whsec_secret"
    # Sealed anew each time (a random nonce): equal secrets do not show as equal boxes.
    assert secret_box.seal("passphrase", "whsec_secret", "row 1") != box
    for passphrase, associated, sealed in (
        ("another passphrase", "row 1", box),
        ("passphrase", "row 2", box),
        ("passphrase", "row 1", box[:-4] + "AAA="),
        ("passphrase", "row 1", "v2:" + box[3:]),
        ("passphrase", "row 1", "v1:not base64!"),
    ):
        with pytest.raises(secret_box.SecretBoxError) as caught:
            secret_box.open_box(passphrase, sealed, associated)
        assert "whsec_secret" not in caught.value.message


def test_the_documented_openssl_recipe_makes_the_same_signature() -> None:
    """docs/integrations.md signs with printf and openssl; its line, run as documented."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl on this machine")
    docs = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
    [recipe] = [
        line.strip()
        for line in docs.read_text(encoding="utf-8").splitlines()
        if line.startswith('SIG=$(printf \'%s.%s\' "$T" "$BODY"')
    ]
    body = '{"event_id":"x","learner":{"name":"Liisa \\\\ Ö"}}'
    script = f"{recipe}\nprintf '%s' \"$SIG\""
    result = subprocess.run(
        ["bash", "-c", script],
        env={"T": "1764856800", "BODY": body, "SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == webhook_signature.compute(SECRET, 1764856800, body.encode())
