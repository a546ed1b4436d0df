"""The benchmark report: figures printed next to their targets and same-run baselines."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``met`` is None when no target applies."""

    name: str
    value: str
    target: str = "-"
    baseline: str = ""
    met: bool | None = None


@dataclass
class Report:
    """Collects figures section by section and prints them as they come."""

    figures: list[tuple[str, Figure]] = field(default_factory=list)
    section: str = ""

    def start(self, section: str, note: str = "") -> None:
        self.section = section
        print(f"\n== {section} ==", flush=True)
        if note:
            print(note, flush=True)

    def add(self, figure: Figure) -> None:
        self.figures.append((self.section, figure))
        mark = {True: "ok  ", False: "MISS", None: "    "}[figure.met]
        print(f"{mark} {figure.name:<44} {figure.value:<30} target {figure.target}", flush=True)
        if figure.baseline:
            print(f"     {'':<44} baseline: {figure.baseline}", flush=True)

    def summary(self) -> int:
        """Print the targets missed; the number of them."""
        missed = [(section, f) for section, f in self.figures if f.met is False]
        judged = [f for _, f in self.figures if f.met is not None]
        if not judged:
            print("\nno targets apply to these figures", flush=True)
            return 0
        print(f"\n{len(judged) - len(missed)} of {len(judged)} targets met", flush=True)
        for section, figure in missed:
            print(f"  missed: [{section}] {figure.name}: {figure.value} (target {figure.target})")
        return len(missed)


def header() -> str:
    """What the figures depend on: machine, interpreter, load."""
    load = ""
    if hasattr(os, "getloadavg"):
        one, five, _ = os.getloadavg()
        load = f", load average {one:.2f} (1 min) {five:.2f} (5 min)"
    cpus = os.cpu_count() or 1
    return (
        f"Merkki benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
        f"Python {platform.python_version()} ({sys.implementation.name}) on {platform.machine()}, "
        f"{cpus} CPU{'s' if cpus != 1 else ''}{load}\n"
        "Throughput is measured on one core (one process, one thread); baselines are measured in "
        "the same run, so a busy machine slows both."
    )


def rate(per_second: float, unit: str) -> str:
    return f"{per_second:,.0f} {unit}/s"


def millis(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"
