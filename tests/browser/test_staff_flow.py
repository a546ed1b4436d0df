"""A staff member signs in, creates a badge class through the form, sees the form mark what an
incomplete micro-credential lacks, issues the new badge, and lands on the learner's page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import assert_labelled
from tests.browser.conftest import Browse, LiveServer

pytestmark = pytest.mark.browser

#: What the EU Council Recommendation requires of a micro-credential and a plain badge does not.
MICRO_CREDENTIAL_ONLY = (
    "learning_outcomes",
    "workload",
    "eqf_level",
    "assessment_type",
    "participation_form",
    "quality_assurance",
)


def _fill_texts(page: Page, path: str, texts: dict[str, str]) -> None:
    for lang, text in texts.items():
        page.locator(f'[id="{path}.{lang}"]').fill(text)


def _fill_basics(page: Page, slug: str, achievement_type: str) -> None:
    page.get_by_label("Web address name").fill(slug)
    page.get_by_label("Type of achievement").select_option(achievement_type)
    name = page.get_by_role("group", name="Name (required)")
    name.get_by_label("Finnish").fill("Ensiapu selaimessa")
    name.get_by_label("Swedish").fill("Första hjälpen i webbläsaren")
    name.get_by_label("English").fill("First aid in the browser")
    _fill_texts(
        page,
        "description",
        {
            "fi": "Ensiavun perusteet.",
            "sv": "Grunderna i första hjälpen.",
            "en": "First aid basics.",
        },
    )
    _fill_texts(
        page,
        "criteria_narrative",
        {"fi": "Hyväksytty harjoitus.", "sv": "Godkänd övning.", "en": "A passed exercise."},
    )


def test_sign_in_create_badge_class_and_issue_it(browse: Browse, live_server: LiveServer) -> None:
    page = browse.page("en")

    # Wrong password first: the page says so and signs no one in.
    page.goto("/staff/login")
    page.get_by_label("E-mail address").fill(live_server.admin_email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The e-mail address or the password is not right."
    )
    assert page.url.endswith("/staff/login")

    page.get_by_label("E-mail address").fill(live_server.admin_email)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/$"))
    expect(page.get_by_text(f"Signed in as {live_server.admin_email}.")).to_be_visible()

    # A plain badge: the identity, name, description and criteria are enough.
    page.get_by_role("link", name="Badge classes").first.click()
    page.goto("/staff/badge-classes/new")
    _fill_basics(page, "ensiapu-selain", "Badge")
    page.get_by_label("Published in the public catalogue").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/staff/badge-classes/ensiapu-selain$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("First aid in the browser")
    expect(page.get_by_text("The badge class has been created.")).to_be_visible()
    # After the successful submit, focus is on the result, not at the top of the page.
    expect(page.locator("#flash-messages")).to_be_focused()
    # Published: the public catalogue shows it.
    assert page.request.get("/badges/ensiapu-selain").status == 200

    # Issue it through the staff issuing form.
    page.goto("/staff/issue/")
    page.get_by_label("Badge class", exact=True).select_option(label="First aid in the browser")
    page.get_by_label("Recipient's name").fill("Aino Selainen")
    page.get_by_label("Recipient's e-mail address").fill("aino@example.fi")
    page.get_by_label("Language of the badge and the e-mail").select_option("en")
    page.get_by_role("button", name="Issue", exact=True).click()
    page.wait_for_url(re.compile(r"/staff/issue/issued/[0-9a-f]{32}$"))
    credential_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text("Badge issued")
    expect(
        page.get_by_text("The badge was issued and the recipient will get an e-mail.")
    ).to_be_visible()

    # The issued page links to the learner's page, which shows the new credential.
    link = page.get_by_role("link", name=f"{live_server.url}/credentials/{credential_id}")
    link.click()
    page.wait_for_url(f"{live_server.url}/credentials/{credential_id}")
    expect(page.locator(".verdict h1")).to_have_text("Valid badge")
    expect(page.get_by_role("heading", level=2, name="First aid in the browser")).to_be_visible()
    expect(page.locator("strong", has_text="Aino Selainen")).to_be_visible()


def test_incomplete_micro_credential_marks_the_missing_fields(
    browse: Browse, sign_in: Callable[[Page], None]
) -> None:
    page = browse.page("en")
    # The form answers 422 on purpose; Chromium logs that status as a console error.
    browse.allow(r"status of 422")
    sign_in(page)
    page.goto("/staff/badge-classes/new")
    _fill_basics(page, "ensiapu-kesken", "MicroCredential")
    page.get_by_role("button", name="Save").click()

    summary = page.locator("#form-errors")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")
    # The summary takes focus after the failed submit (autofocus: no script), and each marked
    # control says it is invalid.
    expect(summary).to_be_focused()
    for field in ("eqf_level", "assessment_type", "participation_form"):
        expect(page.locator(f'[id="{field}"]')).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[id="name.en"]')).not_to_have_attribute("aria-invalid", "true")
    assert page.url.endswith("/staff/badge-classes/new")
    for field in MICRO_CREDENTIAL_ONLY:
        container = page.locator(f'[id="field-{field}"]')
        expect(container).to_have_class(re.compile(r"\bhas-error\b"))
        expect(container.locator(f'[id="error-{field}"]')).not_to_be_empty()
        # ... and the message is tied to the field for screen readers: the group or its
        # controls name it in aria-describedby.
        described = container.locator(f'[aria-describedby~="error-{field}"]')
        assert (
            container.get_attribute("aria-describedby") == f"error-{field}" or described.count()
        ), f"the error of {field} is not tied to it"
        # The summary links to the field it names.
        expect(summary.locator(f'a[href="#field-{field}"]').first).to_be_visible()
    # What was filled in is kept and not marked.
    expect(page.locator('[id="name.en"]')).to_have_value("First aid in the browser")
    expect(page.locator('[id="field-name"]')).not_to_have_class(re.compile(r"\bhas-error\b"))
    # Following a summary link moves to the field; the marked page still has its labels.
    summary.locator('a[href="#field-eqf_level"]').click()
    assert page.evaluate("() => location.hash") == "#field-eqf_level"
    assert_labelled(page, "en")
    # Nothing was created.
    assert page.request.get("/staff/badge-classes/ensiapu-kesken").status == 404
