"""The public URL scheme: every URL that is signed into a credential, printed in an e-mail or
answered by the API is built here, and only here.

These URLs are part of what the service has issued (credential ids, achievement ids, status
list ids, the issuer's profile and logo): once credentials carry them they must never change,
so there is one obvious place to read and keep them. ``base_url`` is ``ISSUER_BASE_URL`` without
a trailing slash (``config.normalize_base_url``). The issuer DID (``did:web``) is derived from
the same base in ``issuer.core.did.did_web_for``.

This module imports nothing of the application: the engine, the services, the web layer and
the CLI can all use it.
"""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

CREDENTIALS = "/credentials/"
ISSUERS = "/issuers/"
STATUS = "/status/"


def credential_url(base_url: str, credential_id: str) -> str:
    """The credential's ``id`` and its public page (``GET /credentials/<id>``)."""
    return f"{base_url}{CREDENTIALS}{credential_id}"


def credentials_prefix(base_url: str) -> str:
    """What every one of our credential ids starts with."""
    return f"{base_url}{CREDENTIALS}"


def manage_url(base_url: str, credential_id: str, token: str) -> str:
    """The learner's private manage link (the token is stored hashed)."""
    return f"{base_url}{CREDENTIALS}{credential_id}/manage/{token}"


#: The learner's wallet page, under the manage link (``manage_url`` + this).
MANAGE_WALLET = "/wallet"


def manage_wallet_url(base_url: str, credential_id: str, token: str) -> str:
    """The learner's "Add to wallet" page behind the private manage link."""
    return manage_url(base_url, credential_id, token) + MANAGE_WALLET


def verify_url(base_url: str, credential_id: str) -> str:
    """The employer verification page; the QR code encodes it."""
    return f"{base_url}/verify/{credential_id}"


def achievement_url(base_url: str, slug: str, version: int, lang: str) -> str:
    """The ``achievement.id`` of badge class ``slug`` version ``version`` in ``lang``."""
    return f"{base_url}/badges/{slug}/v{version}/{lang}"


def badge_page_url(base_url: str, slug: str) -> str:
    """The badge class's page in the catalogue (its current version)."""
    return f"{base_url}/badges/{slug}"


def artwork_url(base_url: str, slug: str, version: int, extension: str) -> str:
    """The artwork of one badge-class version (``image.svg`` or ``image.png``)."""
    return f"{base_url}/badges/{slug}/v{version}/image.{extension}"


def profile_url(base_url: str, slug: str) -> str:
    """The institution's OB 3.0 ``Profile``."""
    return f"{base_url}{ISSUERS}{slug}"


def issuers_prefix(base_url: str) -> str:
    """What every one of our issuer profile URLs starts with."""
    return f"{base_url}{ISSUERS}"


def did_document_url(base_url: str, slug: str) -> str:
    """Where the institution's ``did:web`` document is served."""
    return f"{base_url}{ISSUERS}{slug}/did.json"


def logo_url(base_url: str, slug: str) -> str:
    """The institution's logo (the issuer Profile's ``image``)."""
    return f"{base_url}/catalog/institutions/{slug}/logo"


def status_list_url(base_url: str, slug: str, purpose: str, number: int) -> str:
    """A status list credential's URL and ``id`` (Bitstring Status List)."""
    return f"{base_url}{STATUS}{slug}/{purpose}/{number}"


def status_prefix(base_url: str) -> str:
    """What every one of our status list URLs starts with."""
    return f"{base_url}{STATUS}"


def oid4vci_token_url(base_url: str) -> str:
    """The OpenID4VCI token endpoint (OpenID4VCI 1.0 §6; in the RFC 8414 metadata)."""
    return f"{base_url}/oid4vci/token"


def oid4vci_nonce_url(base_url: str) -> str:
    """The OpenID4VCI nonce endpoint (§7; ``nonce_endpoint`` in the issuer metadata)."""
    return f"{base_url}/oid4vci/nonce"


def oid4vci_credential_url(base_url: str) -> str:
    """The OpenID4VCI credential endpoint (§8; ``credential_endpoint``)."""
    return f"{base_url}/oid4vci/credential"


def api_badge_class_url(base_url: str, slug: str) -> str:
    """A badge class in the JSON API (the ``Location`` of a created one)."""
    return f"{base_url}/api/v1/badge-classes/{slug}"


def staff_login_url(base_url: str) -> str:
    return f"{base_url}/staff/login"


def staff_outbox_url(base_url: str) -> str:
    """Where staff read the mails that wait for a mail server (printed by ``make run``)."""
    return f"{base_url}/staff/issue/outbox"


# --- wallets (issue 18) -----------------------------------------------------------------------


def wallet_url(base_url: str, token: str) -> str:
    """An offer's interaction URL (the "Add to wallet" QR code): a wallet reads the protocols
    from it (``Accept: application/json``), a browser gets a page about them. ``iuv=1``
    ("interaction URL version 1") is how the Learner Credential Wallet tells an interaction URL
    from other links it scans."""
    return f"{base_url}/wallet/{token}?iuv=1"


def wallet_exchange_url(base_url: str, token: str) -> str:
    """The VC-API exchange of an offer (what the Learner Credential Wallet posts to)."""
    return f"{base_url}/wallet/{token}/exchange"


def oid4vci_offer_url(base_url: str, pre_authorized_code: str) -> str:
    """The OpenID4VCI credential offer by reference (OpenID4VCI 1.0 §4.1.3
    ``credential_offer_uri``), named by the offer's pre-authorized code."""
    return f"{base_url}/oid4vci/offers/{pre_authorized_code}"


def credential_offer_uri(base_url: str, pre_authorized_code: str) -> str:
    """The OpenID4VCI credential offer as a wallet link (OpenID4VCI 1.0 §4.1:
    ``openid-credential-offer://?credential_offer_uri=<URL-encoded offer URL>``)."""
    target = quote(oid4vci_offer_url(base_url, pre_authorized_code), safe="")
    return f"openid-credential-offer://?credential_offer_uri={target}"


def holder_bound_copy_id(copy_id: str) -> str:
    """The ``id`` of a holder-bound copy of a credential: a ``urn:uuid`` (VC 2.0 §4.4 allows
    any URL), not a page of ours: the copy is the holder's, the learner page stays the
    original's."""
    return UUID(hex=copy_id).urn


# --- the LTI tool (issuer.web.lti): what platforms are told to call ---------------------------


def lti_login_url(base_url: str) -> str:
    """OIDC login initiation (LTI 1.3 Core section 5.1.1)."""
    return f"{base_url}/lti/login"


def lti_launch_url(base_url: str) -> str:
    """Launches, Deep Linking requests and the resource links Merkki places."""
    return f"{base_url}/lti/launch"


def lti_jwks_url(base_url: str) -> str:
    """The tool's public key set."""
    return f"{base_url}/lti/jwks.json"


def lti_register_url(base_url: str, invite: str) -> str:
    """A one-time Dynamic Registration link."""
    return f"{base_url}/lti/register?invite={invite}"
