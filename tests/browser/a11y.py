"""Keyboard and labelling checks run inside the page (WCAG 2.1: 2.1.1 Keyboard, 2.4.1 Bypass
Blocks, 2.4.3 Focus Order, 2.4.7 Focus Visible, 1.3.1/4.1.2 Name, Role, Value, 3.1.1 Language
of Page).

``tab_stops`` lists what sequential keyboard navigation must reach, in DOM order (the order the
browser follows when no element has a positive ``tabindex``), and marks each element with
``data-tab-stop``; ``walk_tabs`` then presses Tab once per stop and reports where focus went
and whether it was visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

#: Every element that can take keyboard focus, in DOM order, without the ones the browser skips
#: (hidden inputs, disabled or not rendered controls, tabindex=-1, all but one radio of a group).
TAB_STOPS_JS = """
() => {
  const selector = [
    "a[href]", "button", "input", "select", "textarea", "summary", "iframe",
    "[tabindex]", "[contenteditable='']", "[contenteditable='true']",
  ].join(",");
  const radios = new Set();
  const stops = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.matches("input[type=hidden]") || el.disabled || el.tabIndex < 0) continue;
    if (el.matches("summary") && el.parentElement.tagName !== "DETAILS") continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    if (el.matches("input[type=radio]")) {
      if (radios.has(el.name)) continue;
      radios.add(el.name);
    }
    stops.push(el);
  }
  document.querySelectorAll("[data-tab-stop]").forEach((el) => el.removeAttribute("data-tab-stop"));
  stops.forEach((el, index) => el.setAttribute("data-tab-stop", String(index)));
  return stops.map((el) => el.outerHTML.slice(0, 160));
}
"""

#: Where focus is now, and whether a sighted keyboard user can see it.
FOCUS_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== "none";
  return {
    stop: el.getAttribute("data-tab-stop"),
    id: el.id,
    html: el.outerHTML.slice(0, 160),
    focusVisible: el.matches(":focus-visible"),
    indicator: outline || shadow,
    // In the viewport, at least in part: Chromium does not scroll an element that is already
    // partly visible when it takes focus.
    onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
      && box.left < window.innerWidth && box.top < window.innerHeight,
  };
}
"""

#: Form controls without an accessible name (WAI-ARIA accname: aria-labelledby, aria-label, a
#: <label> - by ``for`` or by wrapping -, or title), and links and buttons without one.
UNLABELLED_JS = """
() => {
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : "");
  const labelledBy = (el) => (el.getAttribute("aria-labelledby") || "").split(/\\s+/)
    .filter(Boolean).map((id) => text(document.getElementById(id))).join(" ").trim();
  const controlName = (el) => labelledBy(el) || (el.getAttribute("aria-label") || "").trim()
    || [...(el.labels || [])].map(text).join(" ").trim() || (el.getAttribute("title") || "").trim();
  const imageAlts = (el) => [...el.querySelectorAll("img[alt]")].map((img) => img.alt).join(" ");
  const actionName = (el) => labelledBy(el) || (el.getAttribute("aria-label") || "").trim()
    || text(el) || imageAlts(el).trim();
  const missing = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    if (["submit", "button", "reset"].includes(el.type) ? !el.value : !controlName(el)) {
      missing.push(el.outerHTML.slice(0, 160));
    }
  }
  for (const el of document.querySelectorAll("a[href], button")) {
    if (!actionName(el)) missing.push(el.outerHTML.slice(0, 160));
  }
  return missing;
}
"""

#: aria-describedby and aria-labelledby must point at elements that exist.
DANGLING_REFERENCES_JS = """
() => {
  const broken = [];
  for (const attribute of ["aria-describedby", "aria-labelledby"]) {
    for (const el of document.querySelectorAll("[" + attribute + "]")) {
      for (const id of el.getAttribute(attribute).split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) {
          broken.push(attribute + "=" + id + " on " + el.outerHTML.slice(0, 120));
        }
      }
    }
  }
  return broken;
}
"""

POSITIVE_TABINDEX_JS = """
() => [...document.querySelectorAll("[tabindex]")].filter((el) => el.tabIndex > 0)
  .map((el) => el.outerHTML.slice(0, 160))
"""


@dataclass(frozen=True)
class Focus:
    stop: str | None
    id: str
    html: str
    focus_visible: bool
    indicator: bool
    on_screen: bool


def tab_stops(page: Page) -> list[str]:
    stops: list[str] = page.evaluate(TAB_STOPS_JS)
    return stops


def focus(page: Page) -> Focus | None:
    found: dict[str, Any] | None = page.evaluate(FOCUS_JS)
    if found is None:
        return None
    return Focus(
        stop=found["stop"],
        id=found["id"],
        html=found["html"],
        focus_visible=found["focusVisible"],
        indicator=found["indicator"],
        on_screen=found["onScreen"],
    )


def walk_tabs(page: Page, count: int) -> list[Focus | None]:
    """Press Tab ``count`` times from where focus is; where it landed each time."""
    landed = []
    for _ in range(count):
        page.keyboard.press("Tab")
        landed.append(focus(page))
    return landed


def unlabelled(page: Page) -> list[str]:
    found: list[str] = page.evaluate(UNLABELLED_JS)
    return found


def dangling_references(page: Page) -> list[str]:
    found: list[str] = page.evaluate(DANGLING_REFERENCES_JS)
    return found


def positive_tabindex(page: Page) -> list[str]:
    found: list[str] = page.evaluate(POSITIVE_TABINDEX_JS)
    return found


def assert_keyboard_reachable(page: Page) -> None:
    """On a page just loaded (focus at the top), Tab reaches every interactive element once,
    in order, each with a visible focus indicator on screen; the first stop is the skip link,
    and it moves focus to the main content."""
    assert positive_tabindex(page) == [], "positive tabindex breaks the focus order"
    url = page.url
    stops = tab_stops(page)
    assert stops, "nothing on the page can take keyboard focus"
    landed = walk_tabs(page, len(stops))
    order = [found.stop if found else None for found in landed]
    assert order == [str(index) for index in range(len(stops))], (
        "Tab did not visit the interactive elements in order:\n"
        + "\n".join(f"{index}: {html}" for index, html in enumerate(stops))
        + f"\nvisited: {order}"
    )
    invisible = [
        found
        for found in landed
        if found is not None and not (found.focus_visible and found.indicator and found.on_screen)
    ]
    assert invisible == [], f"focus not visible on: {invisible}"

    # The skip link: first stop of a freshly loaded page, and following it moves focus into
    # the main content.
    page.goto(url)
    tab_stops(page)
    page.keyboard.press("Tab")
    first = focus(page)
    assert first is not None, "Tab focused nothing"
    assert "skip-link" in first.html, f"the first stop is not the skip link: {first}"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'main'")
    assert page.evaluate("() => location.hash") == "#main"
    # The next Tab continues from the main content: the first stop inside <main>.
    first_in_main: str | None = page.evaluate(
        "() => { const el = document.querySelector('main [data-tab-stop]');"
        " return el ? el.getAttribute('data-tab-stop') : null; }"
    )
    if first_in_main is not None:
        page.keyboard.press("Tab")
        after_skip = focus(page)
        assert after_skip is not None, "after the skip link, Tab focused nothing"
        assert after_skip.stop == first_in_main, f"after the skip link, Tab went to {after_skip}"


def assert_labelled(page: Page, lang: str) -> None:
    """Every form control, link and button has an accessible name; references resolve; the
    document's language is ``lang``."""
    assert page.evaluate("() => document.documentElement.lang") == lang
    assert unlabelled(page) == []
    assert dangling_references(page) == []
