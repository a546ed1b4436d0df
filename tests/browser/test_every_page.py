"""Every page of the app (``site.py``: each public and staff page, in the states it can be in),
in Finnish, Swedish and English, checked in one pass:

* axe-core finds no violation of WCAG 2.0 and 2.1, levels A and AA, at desktop width (1280 px)
  and phone width (390 px) (``axe.py``);
* no page scrolls sideways at 390, 360 or 320 px (1.4.10 Reflow, ``measure.overflow``);
* every focus indicator, and every text field's, select's and text area's border, has a
  contrast of at least 3:1 against its backgrounds (1.4.11, ``measure``; measured in Finnish
  only, since no colour depends on the language);
* and nothing on the way logs a console error or a Content-Security-Policy violation.

``test_the_checks_see_what_they_look_for`` shows, on a page made to break each rule, that each
check catches it.

Each page is loaded once per language, at desktop width, and then narrowed in place: a
viewport change lays the same document out again with the phone width's media queries, as a
fresh load at that width would (no script on these pages depends on the width), at a fraction of
the cost of loading every page four times. The three languages' pages load and run axe side by
side, one browser context each: their renderer processes use both cores while the app answers.
The pass runs once for the module (``sweep``); each test reports its own findings, page by page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from tests.browser import axe, measure
from tests.browser.conftest import (
    CSP_REPORTER,
    LANGUAGES,
    Browse,
    LiveServer,
    sign_in_as_admin,
)
from tests.browser.site import Site

pytestmark = pytest.mark.browser

DESKTOP = ViewportSize(width=1280, height=900)
#: Phone widths, widest first: a common phone (390 x 844), a small one (360), and the 320 CSS
#: pixels WCAG 2.1's reflow criterion names.
PHONES = (
    ViewportSize(width=390, height=844),
    ViewportSize(width=360, height=740),
    ViewportSize(width=320, height=640),
)
#: Widths at which axe runs.
AXE_WIDTHS = (DESKTOP["width"], PHONES[0]["width"])


@dataclass
class Findings:
    violations: dict[int, list[axe.Violation]] = field(
        default_factory=lambda: {width: [] for width in AXE_WIDTHS}
    )
    overflowing: list[str] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    borders: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    pages: int = 0
    focus_measured: int = 0
    borders_measured: int = 0


@pytest.fixture(scope="module")
def axe_source() -> str:
    return axe.source()


@pytest.fixture(scope="module")
def sweep(
    browser: Browser, live_server: LiveServer, site: Site, axe_source: str
) -> Iterator[Findings]:
    findings = Findings()
    watch = Browse(browser, live_server.url)
    # The error answers the sweep asks for on purpose (a refused sign-in, forms with errors,
    # unknown addresses and credentials, a revoked badge's certificate): Chromium logs their
    # status as console errors.
    watch.allow(r"status of (400|401|404|409|410|422)")
    pages: dict[str, Page] = {}
    for lang in LANGUAGES:
        # A context per language: each keeps its own language cookie, which the answers to
        # form submissions are in.
        context = browser.new_context(
            base_url=live_server.url,
            viewport=DESKTOP,
            locale=lang,
            extra_http_headers={"Accept-Language": lang},
        )
        watch.contexts.append(context)
        context.add_init_script(CSP_REPORTER)
        context.add_init_script(axe_source)
        pages[lang] = context.new_page()
        watch.watch(pages[lang])
    try:
        for signed_in, visits in ((False, site.public()), (True, site.staff())):
            if signed_in:
                for page in pages.values():
                    sign_in_as_admin(page, live_server)
            for visit in visits:
                for lang, page in pages.items():
                    page.set_viewport_size(DESKTOP)
                    visit.start(page, lang)
                for page in pages.values():
                    page.wait_for_load_state()
                _check(pages, visit.name, findings)
        findings.console = list(watch.problems)
        yield findings
    finally:
        watch.close()


def _axe(pages: dict[str, Page], name: str, width: int) -> list[axe.Violation]:
    """axe on every page at once (each page has a renderer process of its own)."""
    for page in pages.values():
        axe.start(page)
    return [
        found
        for lang, page in pages.items()
        for found in axe.collect(page, f"{name} [{lang}] {width} px")
    ]


def _check(pages: dict[str, Page], name: str, findings: Findings) -> None:
    """Every check on the same page in each language, as just opened at desktop width and then
    narrowed to each phone width in turn. The contrasts are measured on the first language's
    page only: no colour depends on the language."""
    findings.pages += len(pages)
    findings.violations[DESKTOP["width"]] += _axe(pages, name, DESKTOP["width"])
    lang, page = next(iter(pages.items()))
    where = f"{name} [{lang}]"
    focus = measure.focus_contrast(page)
    findings.focus_measured += len(focus)
    findings.focus += [f"{where}: {item}" for item in focus if item.failing]
    borders = measure.border_contrast(page)
    findings.borders_measured += len(borders)
    findings.borders += [f"{where}: {item}" for item in borders if item.failing]
    for viewport in PHONES:
        width = viewport["width"]
        for page in pages.values():
            page.set_viewport_size(viewport)
        if width in AXE_WIDTHS:
            findings.violations[width] += _axe(pages, name, width)
        for lang, page in pages.items():
            found = measure.overflow(page)
            if found.scrolls_sideways:
                sticking = "".join(f"\n    {item}" for item in found.sticking)
                findings.overflowing.append(
                    f"{name} [{lang}] at {width} px: {found.scroll_width} px wide{sticking}"
                )


def _report(found: list[str] | list[axe.Violation]) -> str:
    return f"{len(found)} found:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize("width", AXE_WIDTHS)
def test_axe_finds_no_violation(sweep: Findings, width: int) -> None:
    assert sweep.pages > 0
    found = sweep.violations[width]
    assert not found, _report(found)


def test_no_page_scrolls_sideways_at_phone_widths(sweep: Findings) -> None:
    assert not sweep.overflowing, _report(sweep.overflowing)


def test_focus_indicators_have_3_to_1_contrast(sweep: Findings) -> None:
    assert sweep.focus_measured > sweep.pages, "too few focus indicators were measured"
    assert not sweep.focus, _report(sweep.focus)


def test_form_control_borders_have_3_to_1_contrast(sweep: Findings) -> None:
    assert sweep.borders_measured > 0, "no form control was measured"
    assert not sweep.borders, _report(sweep.borders)


def test_no_console_errors_or_csp_violations_on_the_way(sweep: Findings) -> None:
    assert not sweep.console, _report(sweep.console)


#: A page that breaks each rule the sweep checks: an unlabelled text field (axe), the old focus
#: ring and control border colours (1.7-2.0:1 and 1.4:1), and a word wider than a phone.
BROKEN_PAGE = """<!doctype html><html lang="fi"><head><title>Rikki</title><style>
input { border: 1px solid #d8dde3; }
a:focus-visible, input:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
</style></head><body><main>
<p>Ammattikorkeakoulututkintokoulutusohjelmasuunnittelijakokonaisuusselvitystyöryhmä</p>
<a href="#x">Linkki</a> <input type="text">
</main></body></html>"""


def test_the_checks_see_what_they_look_for(browse: Browse, axe_source: str) -> None:
    page = browse.page("fi")
    page.set_viewport_size(PHONES[-1])
    page.set_content(BROKEN_PAGE)
    page.evaluate(axe_source)
    assert "label" in {found.rule for found in axe.violations(page, "broken page")}
    assert measure.overflow(page).scrolls_sideways
    focus = measure.focus_contrast(page)
    assert len(focus) == 2
    assert all(item.failing and item.ratio is not None and item.ratio < 2.1 for item in focus)
    [border] = measure.border_contrast(page)
    assert border.failing
    assert border.ratio is not None
    assert round(border.ratio, 1) == 1.4
