"""Measurements taken from the rendered page, for what axe cannot see (WCAG 2.1):

* ``overflow``: 1.4.10 Reflow. Content must fit a 320 CSS pixel wide viewport without scrolling
  sideways: the document is no wider than the window (``scrollWidth <= innerWidth``). When it
  is, the elements that stick out are named, innermost first.
* ``focus_contrast``: 1.4.11 Non-text Contrast and 2.4.7 Focus Visible. Every element that can
  take keyboard focus is focused in turn; its focus indicator (the outline the stylesheet draws
  on ``:focus-visible``) must exist and have a contrast ratio of at least 3:1 against the
  background it is drawn on: the colour behind the element (its ancestors' backgrounds,
  composited), and, when the outline touches or overlaps the element (``outline-offset`` of 0
  or less), the element's own background too.
* ``border_contrast``: 1.4.11 Non-text Contrast. A text field's, select's or text area's border
  is what shows where to type or choose: at least 3:1 against the background outside the
  control and against the control's own background.

The ratio is WCAG 2.1's contrast ratio of the relative luminances of the two sRGB colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

#: The smallest contrast ratio 1.4.11 allows for user-interface components and focus indicators.
MINIMUM_CONTRAST = 3.0

#: Shared by the contrast measurements: colour parsing, compositing and the WCAG ratio.
_COLOURS_JS = """
const parse = (text) => {
  const m = text.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const parts = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
  return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
};
const over = (top, bottom) => {
  const a = top.a + bottom.a * (1 - top.a);
  if (a === 0) return {r: 0, g: 0, b: 0, a: 0};
  const mix = (t, b) => (t * top.a + b * bottom.a * (1 - top.a)) / a;
  return {r: mix(top.r, bottom.r), g: mix(top.g, bottom.g), b: mix(top.b, bottom.b), a};
};
// The colour painted behind ``el`` (its own background excluded unless ``own``): the
// backgrounds of its ancestors composited over the canvas (white).
const backdrop = (el, own) => {
  const layers = [];
  for (let node = own ? el : el.parentElement; node; node = node.parentElement) {
    const colour = parse(getComputedStyle(node).backgroundColor);
    if (colour && colour.a > 0) {
      layers.push(colour);
      if (colour.a >= 1) break;
    }
  }
  let result = {r: 255, g: 255, b: 255, a: 1};
  for (const layer of layers.reverse()) result = over(layer, result);
  return result;
};
const luminance = (c) => {
  const channel = (v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
};
const ratio = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
const css = (c) => `rgb(${Math.round(c.r)}, ${Math.round(c.g)}, ${Math.round(c.b)})`;
const describe = (el) => el.outerHTML.slice(0, 140);
const rendered = (el) => el.checkVisibility({visibilityProperty: true})
  && el.getClientRects().length > 0;
"""

OVERFLOW_JS = """
() => {
  const width = window.innerWidth;
  const root = document.documentElement;
  const out = [];
  if (root.scrollWidth > width) {
    // Boxes that reach past the window, and boxes whose text does (a word wider than its box).
    const sticking = [...document.body.querySelectorAll("*")].filter((el) => {
      const box = el.getBoundingClientRect();
      if (box.width === 0) return false;
      const spill = getComputedStyle(el).overflowX === "visible"
        ? Math.max(0, el.scrollWidth - el.clientWidth) : 0;
      return box.right + spill > width + 0.5;
    });
    // Innermost first: an element none of whose descendants sticks out itself.
    for (const el of sticking) {
      if (!sticking.some((other) => other !== el && el.contains(other))) {
        out.push(`${el.outerHTML.slice(0, 140)}`);
        if (out.length >= 6) break;
      }
    }
  }
  return {scrollWidth: root.scrollWidth, innerWidth: width, sticking: out};
}
"""

FOCUS_CONTRAST_JS = (
    "() => {"
    + _COLOURS_JS
    + """
  const selector = "a[href], button, input, select, textarea, summary, [tabindex]";
  const results = [];
  const before = document.activeElement;
  for (const el of document.querySelectorAll(selector)) {
    if (el.matches("input[type=hidden]") || el.disabled || el.tabIndex < 0) continue;
    if (el.matches("summary") && el.parentElement.tagName !== "DETAILS") continue;
    if (!rendered(el)) continue;
    el.focus({preventScroll: true});
    if (document.activeElement !== el) continue;
    const style = getComputedStyle(el);
    const width = parseFloat(style.outlineWidth);
    const entry = {html: describe(el), focusVisible: el.matches(":focus-visible")};
    if (style.outlineStyle === "none" || !(width > 0)) {
      entry.problem = "no outline";
    } else {
      const ring = parse(style.outlineColor);
      const against = [backdrop(el, false)];
      if (parseFloat(style.outlineOffset) <= 0) against.push(backdrop(el, true));
      entry.ratio = Math.min(...against.map((bg) => ratio(ring, bg)));
      entry.colours = `${css(ring)} on ${against.map(css).join(", ")}`;
    }
    results.push(entry);
  }
  if (before && before.focus) before.focus({preventScroll: true});
  return results;
}
"""
)

BORDER_CONTRAST_JS = (
    "() => {"
    + _COLOURS_JS
    + """
  // Check boxes, radio buttons and the file picker are drawn by Chromium itself; buttons are
  // recognised by their text, not their border.
  const skipped = ["hidden", "checkbox", "radio", "file", "submit", "button", "reset", "image",
    "range", "color"];
  const results = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.matches("input") && skipped.includes(el.type)) continue;
    if (!rendered(el)) continue;
    const style = getComputedStyle(el);
    const entry = {html: describe(el)};
    const width = parseFloat(style.borderBottomWidth);
    if (style.borderBottomStyle === "none" || !(width > 0)) {
      entry.problem = "no border";
    } else {
      const border = parse(style.borderBottomColor);
      const outside = backdrop(el, false);
      const inside = backdrop(el, true);
      entry.ratio = Math.min(ratio(border, outside), ratio(border, inside));
      entry.colours = `${css(border)} between ${css(outside)} and ${css(inside)}`;
    }
    results.push(entry);
  }
  return results;
}
"""
)


@dataclass(frozen=True)
class Overflow:
    scroll_width: int
    inner_width: int
    sticking: tuple[str, ...]

    @property
    def scrolls_sideways(self) -> bool:
        return self.scroll_width > self.inner_width


@dataclass(frozen=True)
class Contrast:
    """One element's indicator or border: its ratio, or why there is none to measure."""

    html: str
    ratio: float | None
    colours: str
    problem: str | None = None
    focus_visible: bool = True

    @property
    def failing(self) -> bool:
        return (
            self.problem is not None
            or not self.focus_visible
            or self.ratio is None
            or self.ratio < MINIMUM_CONTRAST
        )

    def __str__(self) -> str:
        if self.problem:
            return f"{self.problem}: {self.html}"
        if not self.focus_visible:
            return f"not :focus-visible when focused: {self.html}"
        return f"{self.ratio:.2f}:1 ({self.colours}): {self.html}"


def overflow(page: Page) -> Overflow:
    found: dict[str, Any] = page.evaluate(OVERFLOW_JS)
    return Overflow(found["scrollWidth"], found["innerWidth"], tuple(found["sticking"]))


def _contrasts(found: list[dict[str, Any]]) -> list[Contrast]:
    return [
        Contrast(
            html=item["html"],
            ratio=item.get("ratio"),
            colours=item.get("colours", ""),
            problem=item.get("problem"),
            focus_visible=item.get("focusVisible", True),
        )
        for item in found
    ]


def focus_contrast(page: Page) -> list[Contrast]:
    """Each focusable element's focus indicator. A key press first puts the page in keyboard
    mode, so that focusing from a script shows the indicator as Tab would (``:focus-visible``)."""
    page.keyboard.press("Shift")
    return _contrasts(page.evaluate(FOCUS_CONTRAST_JS))


def border_contrast(page: Page) -> list[Contrast]:
    return _contrasts(page.evaluate(BORDER_CONTRAST_JS))
