"""The printable certificate's content: what the learner page shows, in the language the
credential was issued in, with the institution's profile, its logo and the badge artwork.

The PDF itself is made in ``issuer.services.certificate`` (no Flask); here the facts are
gathered and the labels translated through the catalogues (``force_locale``).

Only a credential in force, or expired (the certificate prints its validity date, and the QR
code leads to the verdict), gets a certificate: a revoked or suspended one does not, since a
print-out cannot show a later change of status and would be taken at face value. The route
answers 410 Gone for a revoked credential (for good) and 409 Conflict for a suspended one (the
suspension may be lifted), with a page in the reader's language; the learner page then offers
no certificate link.
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.eu_profile import eu_facts
from issuer.models import Credential, Institution
from issuer.services import badge_classes
from issuer.services.certificate import CertificateContent, CertificateLabels
from issuer.web.learner import artwork
from issuer.web.learner.page import REVOKED, SUSPENDED, country_name, page_facts

#: Statuses for which no certificate is made, with the HTTP status of the answer.
UNAVAILABLE = {REVOKED: 410, SUSPENDED: 409}


def labels() -> CertificateLabels:
    """The certificate's words in the current locale."""
    return CertificateLabels(
        title=_("Certificate"),
        awarded_to=_("Awarded to"),
        badge=_("Badge"),
        issued_by=_("Issued by"),
        date_of_issue=_("Date of issue"),
        # Formatted in the services module, with the date in the credential's language.
        valid_until=_("Valid until %(date)s", date="%(date)s"),
        learning_outcomes=_("Learning outcomes"),
        facts=_("Micro-credential facts"),
        verify=_("Verify this badge"),
        verify_hint=_(
            "Scan the code or open the link to check that this badge is genuine and valid:"
        ),
        credential_id=_("Credential ID"),
        page=_("Page %(page)s of %(pages)s", page="%(page)s", pages="%(pages)s"),
        shortened=_("Some texts were shortened to fit. The full texts are on the badge page:"),
    )


def _issuer_facts(institution: Institution, lang: str) -> list[tuple[str, str]]:
    """The institution's profile facts that an employer can check it by."""
    rows: list[tuple[str, str]] = []
    if institution.url:
        rows.append(("", institution.url))
    if institution.business_id:
        rows.append((_("Business ID (Y-tunnus)"), institution.business_id))
    if institution.oid:
        rows.append((_("Opintopolku organisation OID"), institution.oid))
    place = " ".join(
        part for part in (institution.postal_code, institution.address_locality) if part
    )
    address = ", ".join(part for part in (institution.street_address, place) if part)
    country = country_name(institution.address_country_code or "FI", lang)
    rows.append(("", f"{address}, {country}" if address else country))
    return rows


def _logo_png(institution: Institution) -> bytes | None:
    """The logo as PNG (SVG logos rendered like badge artwork), or None; a logo that cannot be
    rendered leaves the certificate without one rather than without a certificate."""
    if institution.logo is None:
        return None
    if institution.logo_media_type != "image/svg+xml":
        return institution.logo
    try:
        # 512 px across: about 260 dpi in the certificate's 50 mm logo box.
        return artwork.render_png(institution.logo, artwork.RENDER_SIZE)
    except artwork.ArtworkError:
        return None


def _badge_png(credential: Credential) -> bytes | None:
    try:
        return artwork.artwork_png(credential.badge_class_version)
    except artwork.ArtworkError:
        return None


def certificate_content(
    session: Session, credential: Credential, base_url: str
) -> CertificateContent:
    """Everything the certificate of ``credential`` shows, in the credential's language."""
    lang = credential.lang
    facts = page_facts(session, credential, lang)
    bc = badge_classes.parsed(credential.badge_class_version)
    # The learning outcomes get their own list; the other EU facts go in the table.
    outcomes_label = vocab.label("learning_outcomes", lang)
    rows = [(label, value) for label, value in eu_facts(bc, lang) if label != outcomes_label]
    with force_locale(lang):
        words = labels()
        issuer_facts = _issuer_facts(credential.institution, lang)
    return CertificateContent(
        lang=lang,
        holder=facts.holder,
        badge_name=facts.badge_name,
        description=facts.description,
        issuer_name=facts.issuer_name,
        issued_at=facts.issued_at,
        valid_until=facts.valid_until,
        verify_url=urls.verify_url(base_url, credential.id),
        page_url=urls.credential_url(base_url, credential.id),
        credential_id=credential.id,
        labels=words,
        learning_outcomes=tuple(facts.learning_outcomes),
        issuer_facts=tuple(issuer_facts),
        facts=tuple(rows),
        badge_image=_badge_png(credential),
        logo=_logo_png(credential.institution),
    )
