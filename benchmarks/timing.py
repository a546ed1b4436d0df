"""Timing loops: a bounded number of calls, each timed, summarized as throughput and
median/p99 latency.

Every call is timed twice: by the wall clock, and by the processor time of the calling thread.
On an idle machine the two agree. On a busy one (other processes competing for the cores) the
wall clock also counts the time spent waiting for a core, while the processor time still
measures the work one core does per call; targets "per core" are judged on it, and both are
printed.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@dataclass(frozen=True)
class Measurement:
    calls: int
    wall_s: float  # wall clock, all calls
    cpu_s: float  # processor time of this thread, all calls
    wall_latencies_s: tuple[float, ...]
    cpu_latencies_s: tuple[float, ...]

    @property
    def per_second(self) -> float:
        """Calls per second of one core's processor time."""
        return self.calls / self.cpu_s if self.cpu_s else float("inf")

    @property
    def per_wall_second(self) -> float:
        return self.calls / self.wall_s if self.wall_s else float("inf")

    @property
    def median_s(self) -> float:
        return _median(self.cpu_latencies_s)

    @property
    def p99_s(self) -> float:
        return _p99(self.cpu_latencies_s)

    @property
    def wall_median_s(self) -> float:
        return _median(self.wall_latencies_s)

    @property
    def wall_p99_s(self) -> float:
        return _p99(self.wall_latencies_s)


def measure(
    function: Callable[[Any], Any],
    inputs: Sequence[Any],
    *,
    seconds: float,
    min_calls: int = 5,
    max_calls: int = 1_000_000,
    warmup: int = 3,
) -> Measurement:
    """Call ``function`` on ``inputs`` in turn for about ``seconds`` of wall clock (at least
    ``min_calls`` times, at most ``max_calls``), after ``warmup`` untimed calls."""
    for index in range(min(warmup, max_calls)):
        function(inputs[index % len(inputs)])
    gc.collect()
    wall_latencies: list[float] = []
    cpu_latencies: list[float] = []
    wall_clock, cpu_clock = time.perf_counter, time.thread_time
    deadline = wall_clock() + seconds
    calls = 0
    while calls < max_calls and (calls < min_calls or wall_clock() < deadline):
        wall, cpu = wall_clock(), cpu_clock()
        function(inputs[calls % len(inputs)])
        cpu_latencies.append(cpu_clock() - cpu)
        wall_latencies.append(wall_clock() - wall)
        calls += 1
    return Measurement(
        calls,
        sum(wall_latencies),
        sum(cpu_latencies),
        tuple(wall_latencies),
        tuple(cpu_latencies),
    )


def time_once(function: Callable[[], Any], repeats: int = 5) -> tuple[float, float]:
    """Median wall-clock and processor time of ``repeats`` calls (exceptions are expected and
    ignored: this times refusals)."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.thread_time()
        with contextlib.suppress(Exception):  # the refusal being timed
            function()
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus)
