"""The badge-class form in the browser (issue 15): learning-outcome rows added and removed with
the form's own buttons, focus where the person is working, the preview of the learner page in a
new tab, and a WTForms form's error summary taking focus; all without a script on the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Browse

pytestmark = pytest.mark.browser


def test_outcome_rows_are_added_and_removed_without_a_script(
    browse: Browse, sign_in: Callable[[Page], None]
) -> None:
    page = browse.page("en")
    sign_in(page)
    page.goto("/staff/badge-classes/new")
    assert page.locator("main script").count() == 0
    outcomes = page.locator('textarea[id^="learning_outcomes."][id$=".fi"]')
    expect(outcomes).to_have_count(3)
    page.locator('[id="learning_outcomes.0.fi"]').fill("Osaa ensimmäisen asian.")
    page.locator('[id="learning_outcomes.2.fi"]').fill("Osaa kolmannen asian.")
    page.get_by_label("Web address name").fill("rivit-selaimessa")

    page.get_by_role("button", name="Add a learning outcome").click()
    expect(outcomes).to_have_count(4)
    # Focus is on the new row, and what was typed is still there (the empty row between is
    # dropped, as saving would drop it).
    expect(page.locator('[id="learning_outcomes.3.fi"]')).to_be_focused()
    expect(page.locator('[id="learning_outcomes.1.fi"]')).to_have_value("Osaa kolmannen asian.")
    expect(page.get_by_label("Web address name")).to_have_value("rivit-selaimessa")

    page.get_by_role("button", name="Remove outcome 1", exact=True).click()
    expect(page.locator('[id="learning_outcomes.0.fi"]')).to_have_value("Osaa kolmannen asian.")
    expect(page.locator("#learning-outcomes-heading")).to_be_focused()
    expect(page.get_by_text("Osaa ensimmäisen asian.")).to_have_count(0)
    # Nothing was saved on the way.
    assert page.request.get("/staff/badge-classes/rivit-selaimessa").status == 404


def test_enter_in_a_text_field_saves(browse: Browse, sign_in: Callable[[Page], None]) -> None:
    page = browse.page("en")
    browse.allow(r"status of 422")
    sign_in(page)
    page.goto("/staff/badge-classes/new")
    page.locator('[id="learning_outcomes.0.fi"]').fill("Osaa asian.")
    page.get_by_label("Web address name").fill("enter-tallentaa")
    page.get_by_label("Web address name").press("Enter")
    # Saving was tried (and refused: the name is missing); no row was removed.
    expect(page.locator("#form-errors")).to_be_focused()
    expect(page.locator('[id="learning_outcomes.0.fi"]')).to_have_value("Osaa asian.")


def test_preview_opens_the_learner_page_in_a_new_tab(
    browse: Browse, sign_in: Callable[[Page], None]
) -> None:
    page = browse.page("en")
    sign_in(page)
    page.goto("/staff/badge-classes/new")
    page.get_by_label("Web address name").fill("esikatselu-selaimessa")
    page.get_by_label("Type of achievement").select_option("Badge")
    name = page.get_by_role("group", name="Name (required)")
    name.get_by_label("English").fill("Previewed in the browser")
    page.locator('[id="description.en"]').fill("A badge seen before it exists.")
    page.locator('[id="criteria_narrative.en"]').fill("Look at it.")
    page.locator('[id="learning_outcomes.0.en"]').fill("The participant can preview a badge.")
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Preview the learner page").click()
    preview = opened.value
    preview.wait_for_load_state()
    expect(preview.get_by_role("heading", name="Preview of the learner page")).to_be_visible()
    expect(preview.get_by_role("heading", level=2, name="Previewed in the browser")).to_be_visible()
    expect(preview.get_by_role("listitem").filter(has_text="can preview a badge")).to_be_visible()
    expect(preview.get_by_text("Maija Meikäläinen (example)").first).to_be_visible()
    # The form stays as it was in its own tab, and nothing was saved.
    expect(page.get_by_label("Web address name")).to_have_value("esikatselu-selaimessa")
    assert page.request.get("/staff/badge-classes/esikatselu-selaimessa").status == 404
    preview.close()


def test_a_wtforms_form_ties_errors_to_fields_and_focuses_the_summary(
    browse: Browse, sign_in: Callable[[Page], None]
) -> None:
    page = browse.page("en")
    browse.allow(r"status of 4\d\d")
    sign_in(page)
    page.goto("/staff/password")
    page.evaluate("() => document.querySelectorAll('form').forEach((f) => f.noValidate = true)")
    page.locator("main form button[type=submit]").last.click()
    summary = page.locator("#form-errors")
    expect(summary).to_be_focused()
    current = page.locator("#current")
    expect(current).to_have_attribute("aria-invalid", "true")
    expect(current).to_have_attribute("aria-describedby", "error-current")
    expect(page.locator("#error-current")).not_to_be_empty()
    summary.get_by_role("link").first.click()
    expect(current).to_be_focused()
