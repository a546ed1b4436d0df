"""``python -m benchmarks``: every figure of issue 6 next to its target and a same-run baseline.

Suites run in order; ``--only engine,baking`` runs a subset, ``--quick`` shortens every timing
loop (for a smoke test: its figures are rougher). Add a suite by adding a module with
``run(report, quick)`` to ``SUITES``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks import baking, bulk, engine
from benchmarks import http as http_suite
from benchmarks.report import Report, header

SUITES: dict[str, Callable[[Report, bool], None]] = {
    "engine": engine.run,
    "baking": baking.run,
    "bulk": bulk.run,
    "http": http_suite.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated suites to run, of: {', '.join(SUITES)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="short timing loops")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    arguments = parser.parse_args(argv)
    names = [name.strip() for name in arguments.only.split(",") if name.strip()] or list(SUITES)
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite {', '.join(unknown)} (known: {', '.join(SUITES)})")
    print(header(), flush=True)
    report = Report()
    for name in names:
        SUITES[name](report, arguments.quick)
    missed = report.summary()
    return 1 if missed and arguments.strict else 0


if __name__ == "__main__":
    sys.exit(main())
