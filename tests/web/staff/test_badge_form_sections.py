"""The badge-class form of issue 15: sections with plain-language labels, learning-outcome rows
added and removed without a script, the learner-page preview, JPEG and WebP artwork converted
(and hostile images refused with a message that says why), and errors tied to their fields."""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Flask
from PIL import Image

from issuer.db import get_session
from issuer.services import badge_classes
from issuer.web.staff.badge_form import error_target
from tests.web.staff.support import World, complete_micro_credential, signed_in, simple_badge
from tests.web.staff.test_badge_classes import marked_fields, post_form

NEW = "/staff/badge-classes/new?lang=en"


def _raster(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(out, format=fmt)
    return out.getvalue()


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) declares ``width`` x ``height`` pixels."""
    data = _raster("JPEG", (16, 16))
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[at + 9 :]


def _textareas(html: str, prefix: str) -> dict[str, str]:
    found: list[tuple[str, str]] = re.findall(
        rf'<textarea id="({re.escape(prefix)}[^"]*)"[^>]*>([^<]*)<', html
    )
    return dict(found)


def test_the_form_has_five_sections_in_plain_language(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    html = client.get(NEW).get_data(as_text=True)
    for heading in (
        "Basics",
        "Learning outcomes",
        "EU micro-credential facts",
        "Skills, creator and package",
        "Artwork and publishing",
    ):
        assert re.search(rf'<h2 id="[a-z-]+-heading"[^>]*>.*{heading}</h2>', html), heading
    assert html.count('class="card form-section"') == 5
    assert '<label for="slug">Web address name</label>' in html
    assert '<label for="achievement_type">Type of achievement</label>' in html
    for jargon in ("slug)", "achievementType", "OB 3.0"):
        assert jargon not in html
    # Each help text is read with its control.
    assert re.search(r'<input type="text" id="slug"[^>]*aria-describedby="hint-slug"', html)
    assert "<script" not in html


def test_outcome_rows_are_added_and_removed_keeping_what_was_typed(
    app: Flask, world: World
) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = simple_badge("rivit")
    typed = {
        "outcome_rows": "3",
        "learning_outcomes.0.fi": "Osaa yksi.",
        "learning_outcomes.1.fi": "Osaa kaksi.",
        "learning_outcomes.2.fi": "Osaa kolme.",
        "learning_outcomes.2.en": "Can three.",
    }
    added = post_form(client, NEW, data, **typed, action="add_outcome")
    assert added.status_code == 200
    html = added.get_data(as_text=True)
    rows = _textareas(html, "learning_outcomes.")
    assert rows["learning_outcomes.2.en"] == "Can three."
    assert rows["learning_outcomes.3.fi"] == ""  # the new, fourth row
    assert "learning_outcomes.4.fi" not in rows
    # Focus goes to the new row; the rest of the form is as typed; nothing is saved or marked.
    assert re.search(r'<textarea id="learning_outcomes\.3\.fi"[^>]* autofocus', html)
    assert 'value="rivit"' in html
    assert not marked_fields(html)
    assert 'name="outcome_rows" value="4"' in html

    removed = post_form(
        client, NEW, data, **{**typed, "outcome_rows": "4"}, action="remove:learning_outcomes.1"
    )
    rows = _textareas(removed.get_data(as_text=True), "learning_outcomes.")
    assert rows["learning_outcomes.0.fi"] == "Osaa yksi."
    assert rows["learning_outcomes.1.fi"] == "Osaa kolme."  # the third moved up
    assert rows["learning_outcomes.1.en"] == "Can three."
    assert "Osaa kaksi." not in removed.get_data(as_text=True)
    assert 'name="outcome_rows" value="3"' in removed.get_data(as_text=True)
    with app.app_context():
        assert badge_classes.find_badge_class(get_session(), "rivit") is None


def test_a_skill_row_is_added(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    html = post_form(client, NEW, simple_badge("taidot"), action="add_skill").get_data(as_text=True)
    assert 'id="esco_skills.1.uri"' in html
    assert re.search(r'id="esco_skills\.1\.uri"[^>]* autofocus', html)


def test_enter_in_a_field_saves_rather_than_removing_a_row(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    html = client.get(NEW).get_data(as_text=True)
    form = html[html.index('id="badge-class-form"') :]
    first_button = re.search(r"<button [^>]*>", form)
    assert first_button is not None
    assert 'value="save"' in first_button.group(0)


def test_preview_shows_the_learner_page_and_saves_nothing(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = complete_micro_credential("esikatselu")
    response = post_form(client, NEW, data, action="preview")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Preview of the learner page" in html
    assert "Nothing has been saved" in html
    assert '<meta name="robots" content="noindex">' in html
    assert "Maija Meikäläinen (example)" in html
    assert data["name"]["en"] in html
    assert data["learning_outcomes"][0]["en"] in html
    assert 'src="data:image/svg+xml;base64,' in html  # default artwork, inline
    with app.app_context():
        assert badge_classes.find_badge_class(get_session(), "esikatselu") is None
    # The form's button opens it in a new tab, and says so.
    form = client.get(NEW).get_data(as_text=True)
    assert re.search(r'value="preview"[^>]*formtarget="_blank"', form)


def test_preview_of_an_edit_uses_the_current_artwork_and_a_jpeg_upload(
    app: Flask, world: World
) -> None:
    client = signed_in(app, world.a.issuer_email)
    slug = world.a.badge_slug
    with app.app_context():
        version = badge_classes.current_version(
            get_session(), badge_classes.get_badge_class(get_session(), slug)
        )
        data = dict(version.data)
        current_type = version.image_media_type
    url = f"/staff/badge-classes/{slug}/edit?lang=en"
    html = post_form(client, url, data, action="preview").get_data(as_text=True)
    assert "Preview of the learner page" in html
    assert f'src="data:{current_type};base64,' in html
    with_upload = post_form(
        client,
        url,
        data,
        action="preview",
        image=(io.BytesIO(_raster("JPEG")), "kuva.jpg", "image/jpeg"),
    ).get_data(as_text=True)
    assert 'src="data:image/png;base64,' in with_upload


def test_preview_of_an_incomplete_form_lists_what_is_missing(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = complete_micro_credential("kesken")
    data.pop("workload")
    response = post_form(client, NEW, data, action="preview")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="form-errors"' in html
    assert "A MicroCredential must have this" in html


def _created_image(app: Flask, slug: str) -> tuple[bytes, str]:
    with app.app_context():
        stored = badge_classes.get_badge_class(get_session(), slug)
        version = badge_classes.current_version(get_session(), stored)
        return version.image, version.image_media_type


def test_jpeg_and_webp_artwork_is_converted_to_png(app: Flask, world: World) -> None:
    client = signed_in(app, world.a.issuer_email)
    for slug, fmt, name, media_type in (
        ("jpeg-kuva", "JPEG", "kuva.jpg", "image/jpeg"),
        ("webp-kuva", "WEBP", "kuva.webp", "image/webp"),
    ):
        response = post_form(
            client,
            NEW,
            simple_badge(slug),
            image=(io.BytesIO(_raster(fmt, (600, 400))), name, media_type),
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        image, stored_type = _created_image(app, slug)
        assert stored_type == "image/png"
        assert image.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(image)) as decoded:
            assert decoded.size == (600, 400)


def _refusal(app: Flask, world: World, upload: Any, lang: str = "en") -> str:
    client = signed_in(app, world.a.issuer_email)
    response = post_form(
        client, f"/staff/badge-classes/new?lang={lang}", simple_badge("vihamielinen"), image=upload
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert marked_fields(html) == {"image"}
    with app.app_context():
        assert badge_classes.find_badge_class(get_session(), "vihamielinen") is None
    return html


def test_hostile_images_are_refused_with_the_reason(app: Flask, world: World) -> None:
    bomb = _jpeg_declaring(60000, 60000)
    assert len(bomb) < 2000
    assert "too many pixels" in _refusal(app, world, (io.BytesIO(bomb), "pommi.jpg", "image/jpeg"))
    truncated = _raster("JPEG", (400, 300))
    truncated = truncated[: len(truncated) // 2]
    html = _refusal(app, world, (io.BytesIO(truncated), "puoli.jpg", "image/jpeg"))
    assert "could not be read as an image" in html
    gif = _raster("GIF")
    html = _refusal(app, world, (io.BytesIO(gif), "kuva.jpg", "image/jpeg"))
    assert "cannot be used as artwork" in html
    assert "PNG, JPEG, WebP or SVG" in html
    html = _refusal(app, world, (io.BytesIO(gif), "kuva.gif", "image/gif"))
    assert "cannot be used as artwork" in html
    # In Finnish too.
    finnish = _refusal(app, world, (io.BytesIO(gif), "kuva.gif", "image/gif"), lang="fi")
    assert "cannot be used as artwork" not in finnish


def test_errors_are_tied_to_their_fields_and_the_summary_takes_focus(
    app: Flask, world: World
) -> None:
    client = signed_in(app, world.a.issuer_email)
    data = complete_micro_credential("virheet")
    data.pop("eqf_level")
    data["name"] = {"fi": "Nimi", "sv": "Namn\x08"}
    html = post_form(client, NEW, data).get_data(as_text=True)
    summary = html[
        html.index('id="form-errors"') : html.index("</ul>", html.index('id="form-errors"'))
    ]
    assert re.search(r'id="form-errors" role="alert" tabindex="-1" autofocus', html)
    assert 'href="#field-eqf_level"' in summary
    assert 'href="#field-name"' in summary
    assert re.search(
        r'<select id="eqf_level" name="eqf_level" aria-invalid="true" '
        r'aria-describedby="error-eqf_level hint-eqf_level">',
        html,
    )
    # An error of a text in three languages ties to each of its inputs, after the help text.
    for lang in ("fi", "sv", "en"):
        assert re.search(
            rf'id="name\.{lang}"[^>]*aria-invalid="true" aria-describedby="error-name hint-name"',
            html,
        ), lang
    # A field without an error is not marked.
    assert not re.search(r'id="description\.fi"[^>]*aria-invalid', html)
    assert html.count("autofocus") == 1


def test_summary_links_go_to_the_nearest_control_or_container() -> None:
    assert error_target("name.sv") == "name.sv"
    assert error_target("name") == "field-name"
    assert error_target("learning_outcomes.2.en") == "learning_outcomes.2.en"
    assert error_target("learning_outcomes.2") == "field-learning_outcomes.2"
    assert error_target("learning_outcomes") == "field-learning_outcomes"
    assert error_target("esco_skills.1.uri") == "field-esco_skills.1.uri"
    assert error_target("workload.ects") == "field-workload.ects"
    assert error_target("creator.name.fi") == "creator.name.fi"
    assert error_target("") == "badge-class-form"
    assert error_target("nonsense.field") == "badge-class-form"
