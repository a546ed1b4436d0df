"""The preview of the learner page from the badge-class form (issue 15): the page a learner will
get, drawn with the learner page's own template from what the form holds, for an example
holder. Nothing is saved or signed, and the page says so at its top; its links lead nowhere
real (there is no credential), and search engines are told not to index it.

The artwork is shown inline as a ``data:`` URL (the CSP's ``img-src`` allows it): an upload sent
with the preview, else the badge class's current artwork, else the plain default artwork that
saving would create.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core import eu_vocabularies as vocab
from issuer.core import qr
from issuer.core.badgeclass.eu_profile import eu_facts
from issuer.core.badgeclass.fileformat import parse_badge_class, validate_badge_class
from issuer.core.badgeclass.model import BadgeClassData
from issuer.models import BadgeClass, Institution
from issuer.services import badge_classes, images
from issuer.web.i18n import current_language
from issuer.web.learner.page import VALID, PageFacts, PageLinks, country_name
from issuer.web.staff.badge_form import errors_by_field

#: Stands in for the slug of a badge class not yet named: the preview needs none.
_PLACEHOLDER_SLUG = "preview"
#: Where the preview's links point: nowhere (there is no credential yet).
_NOWHERE = "#preview"


def _data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _artwork(
    session: Session, bc: BadgeClassData, badge_class: BadgeClass | None, image: Any
) -> str:
    if isinstance(image, images.CleanImage):
        return _data_url(image.media_type, image.data)
    if badge_class is not None:
        version = badge_classes.current_version(session, badge_class)
        return _data_url(version.image_media_type, version.image)
    artwork = images.default_artwork(bc.competence_areas)
    return _data_url(artwork.media_type, artwork.data)


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def preview_facts(
    bc: BadgeClassData, institution: Institution | None, lang: str, now: datetime
) -> PageFacts:
    """What the learner page would show, for an example holder issued ``now``."""
    holder = _("Maija Meikäläinen (example)")
    issuer_name = institution.name(lang) if institution is not None else _("Your institution")
    country = institution.address_country_code if institution is not None else None
    badge_name = bc.name.get(lang)
    rows: list[tuple[str, str]] = [
        (vocab.label("title", lang), badge_name),
        (vocab.label("learner_identification", lang), holder),
        (vocab.label("awarding_body", lang), issuer_name),
        (vocab.label("issuer_country", lang), country_name(country or "FI", lang)),
        (vocab.label("date_of_issue", lang), now.date().isoformat()),
    ]
    rows.extend(eu_facts(bc, lang))
    return PageFacts(
        credential_id=_PLACEHOLDER_SLUG,
        badge_name=badge_name,
        description=bc.description.get(lang),
        learning_outcomes=[outcome.get(lang) for outcome in bc.learning_outcomes],
        holder=holder,
        issuer_name=issuer_name,
        issued_at=now,
        valid_until=None if bc.validity_months is None else _add_months(now, bc.validity_months),
        status=VALID,
        facts=rows,
        evidence=[],
        results=[],
        image_alt=badge_name,
        achievement_type=bc.achievement_type,
    )


def render_preview(
    session: Session,
    data: dict[str, Any],
    *,
    institution: Institution | None,
    badge_class: BadgeClass | None,
    image: Any,
) -> ResponseReturnValue:
    """The preview page (200), or the list of what must be fixed before there is one (422)."""
    data = dict(data)
    data.setdefault("slug", _PLACEHOLDER_SLUG)
    problems = errors_by_field(validate_badge_class(data))
    if problems:
        return (
            render_template(
                "staff/badge_class_preview_problems.html",
                problems=problems,
                # No links: the fields are in the form, in the tab the preview was opened from.
                error_targets=dict.fromkeys(problems, ""),
            ),
            422,
        )
    bc = parse_badge_class(data)
    lang = current_language()
    facts = preview_facts(bc, institution, lang, datetime.now(UTC))
    artwork = _artwork(session, bc, badge_class, image)
    qr_code = _data_url(
        "image/svg+xml", qr.qr_svg(f"{get_settings().base_url}/verify/{_PLACEHOLDER_SLUG}")
    )
    links = PageLinks(
        page=_NOWHERE,
        verify=_NOWHERE,
        badge_png=artwork,
        badge_svg=artwork,
        credential_json=_NOWHERE,
        qr_png=qr_code,
        qr_svg=qr_code,
        certificate=_NOWHERE,
        linkedin=_NOWHERE,
    )
    return render_template(
        "staff/badge_class_preview.html",
        credential=None,
        facts=facts,
        links=links,
        hidden=False,
        indexable=False,
    )
