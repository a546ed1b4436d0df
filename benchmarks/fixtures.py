"""What the benchmarks work on: realistic Merkki micro-credentials and an issuer with a key.

The credential is what ``issuer.services.issue_many`` builds for a national badge class: the
Finnish version of a POKOT micro-credential with every EU element (learning outcomes,
workload and ECTS, EQF/NQF level, assessment, quality assurance, ESCO skills, ...), its
Swedish and English versions linked, the issuing institution's profile with address and
identifiers, a revocation status entry, evidence and activity dates. Each credential has its
own recipient, salt, id and date, so nothing can be cached across credentials that would not
be cached in production.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.core.badgeclass.achievement import achievement_json
from issuer.core.badgeclass.fileformat import load_badge_templates
from issuer.core.badgeclass.model import BadgeClassData
from issuer.core.credential import build_credential, evidence_entry, issuer_profile
from issuer.core.did import did_web_document, did_web_to_url, verification_method_id
from issuer.core.multikey import encode_public_key
from issuer.core.resolver import ChainResolver, DidWebResolver
from issuer.core.status_list import status_entry

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = "https://merkki.example.fi"
TEMPLATE = "pokot-asiakaslahtoinen-kumppanuusosaaminen"
LANGUAGES = ("fi", "sv", "en")

_FIRST_NAMES = ["Liisa", "Matti", "Aino", "Juhani", "Åsa", "Väinö", "Ella", "Onni", "Saara"]
_LAST_NAMES = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Lindqvist", "Hämäläinen"]


def badge_class(slug: str = TEMPLATE) -> BadgeClassData:
    for found in load_badge_templates(ROOT / "badge_templates"):
        if found.slug == slug:
            return found
    raise LookupError(f"no badge template {slug!r}")


def template_svg(slug: str = TEMPLATE) -> bytes:
    return (ROOT / "badge_templates" / slug / "image.svg").read_bytes()


@dataclass(frozen=True)
class Issuer:
    did: str
    private_key: Ed25519PrivateKey
    verification_method: str
    did_document: dict[str, Any]

    def resolver(self) -> ChainResolver:
        """did:web resolution from the issuer's own DID document (what the service does for
        its own institutions: a lookup, no network)."""
        url = did_web_to_url(self.did)
        documents = {url: self.did_document}
        return ChainResolver([DidWebResolver(documents.__getitem__)])

    def profile(self, lang: str) -> dict[str, Any]:
        names = {
            "fi": "Hämeen ammattikorkeakoulu",
            "sv": "Tavastlands yrkeshögskola",
            "en": "Häme University of Applied Sciences",
        }
        return issuer_profile(
            did=self.did,
            name=names[lang],
            url="https://www.hamk.fi",
            email="info@hamk.fi",
            address={
                "streetAddress": "Visamäentie 35 A",
                "postalCode": "13100",
                "addressLocality": "Hämeenlinna",
                "addressCountry": "Suomi",
                "addressCountryCode": "FI",
            },
            other_identifiers=[
                ("ext:BusinessId", "1234567-8"),
                ("ext:OpintopolkuOid", "1.2.246.562.10.12345678901"),
            ],
        )


def make_issuer(seed: int = 7) -> Issuer:
    generator = random.Random(seed)
    private_key = Ed25519PrivateKey.from_private_bytes(generator.randbytes(32))
    did = "did:web:merkki.example.fi:institutions:hamk"
    multibase = encode_public_key(private_key.public_key())
    return Issuer(
        did=did,
        private_key=private_key,
        verification_method=verification_method_id(did, multibase),
        did_document=did_web_document(did, [multibase]),
    )


def micro_credentials(issuer: Issuer, count: int, *, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` unsigned credentials of the template badge class, each for another person."""
    generator = random.Random(seed)
    bc = badge_class()
    version_url = f"{BASE_URL}/badges/{bc.slug}/v1"
    achievements = {
        lang: achievement_json(
            bc,
            lang=lang,
            achievement_id=f"{version_url}/{lang}",
            image_url=f"{version_url}/image.svg",
            related=[(other, f"{version_url}/{other}") for other in LANGUAGES if other != lang],
        )
        for lang in LANGUAGES
    }
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    credentials = []
    for number in range(count):
        lang = "fi"
        first, last = generator.choice(_FIRST_NAMES), generator.choice(_LAST_NAMES)
        credential_id = generator.randbytes(16).hex()
        valid_from = start + timedelta(minutes=number)
        list_url = f"{BASE_URL}/status/hamk/revocation/1"
        credentials.append(
            build_credential(
                credential_id=f"{BASE_URL}/credentials/{credential_id}",
                issuer=issuer.profile(lang),
                achievement=achievements[lang],
                recipient_name=f"{first} {last}",
                recipient_email=f"{first}.{last}{number}@example.fi".lower(),
                salt=generator.randbytes(16).hex(),
                valid_from=valid_from,
                credential_status=status_entry(
                    list_url, generator.randrange(131_072), "revocation"
                ),
                evidence=[
                    evidence_entry(
                        url=f"https://portfolio.example.fi/{credential_id}",
                        narrative="Näyttö arvioitiin työelämäkumppanin kanssa.",
                    )
                ],
                activity_start="2025-09-01",
                activity_end="2025-12-19",
            )
        )
    return credentials
