"""axe-core, the accessibility checker, run inside the pages the browser tests open.

The checker is the npm package ``axe-core`` at the version pinned in ``js/package.json`` and
``js/package-lock.json``, installed once (``npm ci``, ``tests/npm_packages.py``) when
``js/node_modules`` is missing or stale; without node and npm the tests that use it skip, except
in CI, where they fail.

``axe.min.js`` goes into a browser context as an init script (``BrowserContext.add_init_script``):
the DevTools protocol evaluates it in every document the context opens, outside the page's
Content-Security-Policy, so the app's strict policy (``script-src 'self'``, no inline scripts)
stays exactly as it is served and is not loosened for the test.

``violations`` (or ``start``, then ``collect``) runs the rules of WCAG 2.0 and 2.1, levels A and
AA (axe's tags ``wcag2a``, ``wcag2aa``, ``wcag21a``, ``wcag21aa``): the level the Act on the
Provision of Digital Services (306/2019) and EN 301 549 require of the public-sector institutions
that use Merkki.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.npm_packages import ensure_node_modules

JS_DIR = Path(__file__).resolve().parent / "js"
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

#: Starts axe.run, limited to the WCAG 2.0/2.1 A and AA rules and reporting violations only
#: (passes and incomplete results are not collected: less work for every page), and returns at
#: once: the run waits for a timer, so several pages (each in its own renderer process) can check
#: at the same time. ``COLLECT_JS`` waits for the result.
START_JS = """
(tags) => {
  window.__merkkiAxe = new Promise((resolve) => setTimeout(resolve, 0)).then(async () => {
    const results = await axe.run(document, {
      runOnly: {type: "tag", values: tags},
      resultTypes: ["violations"],
    });
    return results.violations.map((rule) => ({
      rule: rule.id,
      impact: rule.impact,
      help: rule.help,
      nodes: rule.nodes.map((node) => ({
        target: node.target.map(String).join(" "),
        html: node.html.slice(0, 200),
        summary: (node.failureSummary || "").replace(/\\s+/g, " ").slice(0, 300),
      })),
    }));
  });
}
"""
COLLECT_JS = "() => window.__merkkiAxe"


@dataclass(frozen=True)
class Violation:
    """One rule broken on one page, with the elements that break it."""

    where: str
    rule: str
    impact: str | None
    help: str
    nodes: tuple[str, ...]

    def __str__(self) -> str:
        elements = "\n".join(f"    {node}" for node in self.nodes)
        return f"{self.where}: {self.rule} ({self.impact}): {self.help}\n{elements}"


def source() -> str:
    """The text of the pinned ``axe.min.js`` (installed first when needed)."""
    node_modules = ensure_node_modules(JS_DIR, "the accessibility checks of the browser tests")
    return (node_modules / "axe-core" / "axe.min.js").read_text("utf-8")


def start(page: Page) -> None:
    """Start axe on ``page`` as it is now; ``collect`` gives its findings."""
    page.evaluate(START_JS, list(TAGS))


def collect(page: Page, where: str) -> list[Violation]:
    """What the run ``start`` began on ``page`` found; ``where`` names the page in the report."""
    found: list[dict[str, Any]] = page.evaluate(COLLECT_JS)
    return [
        Violation(
            where=where,
            rule=rule["rule"],
            impact=rule["impact"],
            help=rule["help"],
            nodes=tuple(
                f"{node['target']}: {node['html']} -- {node['summary']}" for node in rule["nodes"]
            ),
        )
        for rule in found
    ]


def violations(page: Page, where: str) -> list[Violation]:
    """What axe finds on ``page`` as it is now."""
    start(page)
    return collect(page, where)
