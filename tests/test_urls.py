"""The public URL scheme has one home (``issuer.urls``): what is signed into credentials cannot
drift between copies."""

from __future__ import annotations

import re
from pathlib import Path

from issuer import urls

PACKAGE = Path(__file__).resolve().parents[1] / "issuer"
#: A URL path built by hand after the base URL (``f"{base_url}/credentials/..."``).
HAND_BUILT = re.compile(r"""\{(?:[a-z_.]*base_url|base)\}/""")


def test_no_module_but_urls_builds_public_urls_by_hand() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "urls.py" and "core" not in path.relative_to(PACKAGE).parts
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if HAND_BUILT.search(line)
    ]
    assert offenders == []


def test_the_scheme() -> None:
    base = "https://merkki.example"
    assert urls.credential_url(base, "c1") == f"{base}/credentials/c1"
    assert urls.credential_url(base, "c1").startswith(urls.credentials_prefix(base))
    assert urls.oid4vci_token_url(base) == f"{base}/oid4vci/token"
    assert urls.oid4vci_nonce_url(base) == f"{base}/oid4vci/nonce"
    assert urls.oid4vci_credential_url(base) == f"{base}/oid4vci/credential"
    assert urls.manage_url(base, "c1", "t") == f"{base}/credentials/c1/manage/t"
    assert urls.verify_url(base, "c1") == f"{base}/verify/c1"
    assert urls.achievement_url(base, "b", 2, "sv") == f"{base}/badges/b/v2/sv"
    assert urls.artwork_url(base, "b", 2, "png") == f"{base}/badges/b/v2/image.png"
    assert urls.profile_url(base, "hamk") == f"{base}/issuers/hamk"
    assert urls.did_document_url(base, "hamk") == f"{base}/issuers/hamk/did.json"
    assert urls.logo_url(base, "hamk") == f"{base}/catalog/institutions/hamk/logo"
    assert urls.status_list_url(base, "hamk", "revocation", 3) == (
        f"{base}/status/hamk/revocation/3"
    )


def test_the_lti_addresses() -> None:
    base = "https://merkki.example"
    assert urls.lti_login_url(base) == f"{base}/lti/login"
    assert urls.lti_launch_url(base) == f"{base}/lti/launch"
    assert urls.lti_jwks_url(base) == f"{base}/lti/jwks.json"
    assert urls.lti_register_url(base, "t") == f"{base}/lti/register?invite=t"
