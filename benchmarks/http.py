"""HTTP figures: the production server (gunicorn, 2 workers) under load on loopback.

Sets up a throwaway instance in a temporary folder (embedded SQLite database, keys folder,
``merkki init``, an institution, credentials issued with ``merkki issue-bulk``), starts
``gunicorn -c gunicorn.conf.py wsgi:app`` with 2 workers and ``ISSUER_RATE_LIMITS=off`` on a
free loopback port, and drives ``GET /verify/<id>`` (rotating over the issued ids) and
``POST /api/v1/verify`` (a signed credential as the JSON body) at 16 and 64 connections with
``wrk`` (Debian package), or, without it, with ``benchmarks.loadgen`` (asyncio, keep-alive,
one process). Baseline in the same run: ``GET /api/v1/`` (the cheapest route: a constant JSON
answer) at 16 connections. Each worker's peak memory is its kernel high-water mark (VmHWM).

gunicorn is always stopped (its whole process group), also on Ctrl-C or failure; every wait
is bounded.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fixtures import TEMPLATE
from benchmarks.report import Figure, Report

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
RPS_TARGET = 500
P99_TARGET_MS = 50.0
MEMORY_TARGET_MB = 200.0
READY_TIMEOUT_S = 60.0
#: Warm-up: each worker compiles the JSON-LD contexts, the schema and the templates on its first
#: requests (seconds on a busy machine); load runs in 1-second rounds until two rounds agree.
WARM_UP_LIMIT_S = 45.0
MIN_WARM_UP_ROUNDS = 3
SETUP_TIMEOUT_S = 300.0
HOST = "127.0.0.1"


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    #: Processor time the workers spent, per request served, and each worker's share of it
    #: (a figure the machine's load does not change much; the share shows how wrk's
    #: keep-alive connections fell on the workers).
    cpu_ms_per_request: float | None = None
    cpu_shares: tuple[float, ...] = ()

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def describe(self) -> str:
        return (
            f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"{self.errors} errors"
        )

    def describe_cpu(self) -> str:
        if self.cpu_ms_per_request is None:
            return ""
        shares = "/".join(f"{share:.0%}" for share in self.cpu_shares)
        return (
            f"workers' processor time {self.cpu_ms_per_request:.2f} ms per request "
            f"(split {shares} between the workers)"
        )


# ------------------------------------------------------------------------- the instance


@dataclass
class Instance:
    folder: Path
    env: dict[str, str]
    port: int
    ids: list[str]
    body: bytes


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _merkki(instance_env: dict[str, str], folder: Path, *args: str) -> str:
    command = [str(Path(sys.executable).with_name("merkki")), *args]
    if not Path(command[0]).exists():
        command = [sys.executable, "-c", "from issuer.cli import main; main()", *args]
    done = subprocess.run(
        command,
        env=instance_env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"merkki {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def make_instance(folder: Path, credentials: int) -> Instance:
    """A database with one institution and ``credentials`` credentials, issued by the CLI."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "ISSUER_BASE_URL": f"http://{HOST}:{port}",
            "ISSUER_DATABASE_URL": f"sqlite:///{folder / 'merkki.sqlite3'}",
            "ISSUER_KEYS_DIR": str(folder / "keys"),
            # The default store, named so that the figures say what they measured (issue 16).
            "ISSUER_KEY_STORE": "database",
            "ISSUER_KEY_PASSPHRASE": secrets.token_urlsafe(24),
            "ISSUER_SECRET_KEY": secrets.token_urlsafe(32),
            "ISSUER_RATE_LIMITS": "off",
            "ISSUER_REMOTE_FETCH": "off",
            # Production defaults otherwise: INFO, one JSON access-log line per request.
            "ISSUER_LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        }
    )
    env.pop("ISSUER_SMTP_URL", None)
    (folder / "metrics").mkdir()
    _merkki(env, folder, "init")
    _merkki(env, folder, "institution", "create", "bench", "--name", "Benchmark-opisto")
    rows = folder / "cohort.csv"
    with rows.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name"])
        for number in range(credentials):
            writer.writerow([f"learner{number}@example.fi", f"Oppija {number}"])
    _merkki(env, folder, "issue-bulk", "--institution", "bench", "--badge", TEMPLATE, str(rows))
    with contextlib.closing(sqlite3.connect(folder / "merkki.sqlite3")) as database:
        found = database.execute("SELECT id, signed_json FROM credential ORDER BY id").fetchall()
    if len(found) < credentials:
        raise RuntimeError(f"expected {credentials} credentials, the database has {len(found)}")
    ids = [str(row[0]) for row in found]
    body = str(found[0][1]).encode("utf-8")
    return Instance(folder, env, port, ids, body)


# ----------------------------------------------------------------------------- gunicorn


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _status_kb(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


class MemoryWatch:
    """Samples each gunicorn worker's VmHWM (peak resident memory) while the load runs, so a
    worker that gunicorn restarts (max_requests) still counts."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.peak_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        for pid in _children(self.master):
            value = _status_kb(pid, "VmHWM")
            if value is not None:
                self.peak_kb[pid] = max(value, self.peak_kb.get(pid, 0))

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()

    def __enter__(self) -> MemoryWatch:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (/proc/<pid>/stat fields 14 and 15)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_cpu(master: int, run_load: Callable[[], LoadResult]) -> LoadResult:
    """``run_load()``, with the workers' processor time per request."""
    workers = _children(master)
    before = [_cpu_seconds(pid) for pid in workers]
    result = run_load()
    spent = [_cpu_seconds(pid) - start for pid, start in zip(workers, before, strict=True)]
    total = sum(spent)
    if not result.requests or total <= 0:
        return result
    return dataclasses.replace(
        result,
        cpu_ms_per_request=total * 1000 / result.requests,
        cpu_shares=tuple(part / total for part in spent),
    )


def _get(url: str, timeout: float = 2.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (loopback only)
        answer.read()
        status: int = answer.status
        return status


@contextlib.contextmanager
def gunicorn(instance: Instance) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with the repository's gunicorn.conf.py, 2 workers, on the instance's port;
    stopped (SIGTERM, then SIGKILL to its process group) whatever happens."""
    log = (instance.folder / "gunicorn.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "--chdir",
        str(ROOT),
        "--workers",
        str(WORKERS),
        "--bind",
        f"{HOST}:{instance.port}",
        "wsgi:app",
    ]
    process = subprocess.Popen(
        command,
        env=instance.env,
        cwd=instance.folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(process, instance)
        yield process
    finally:
        _stop(process)
        log.close()


def _wait_ready(process: subprocess.Popen[bytes], instance: Instance) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    url = f"http://{HOST}:{instance.port}/api/v1/"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (instance.folder / "gunicorn.log").read_text("utf-8", "replace")
            raise RuntimeError(f"gunicorn exited with {process.returncode}: {log[-2000:]}")
        with contextlib.suppress(OSError):
            if _get(url) == 200 and len(_children(process.pid)) >= WORKERS:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn was not ready within {READY_TIMEOUT_S:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    # Workers left behind by a master that died are in the same process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


# ------------------------------------------------------------------------ load generators


_LUA_COMMON = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    "MERKKI {\"requests\": %d, \"duration_us\": %d, \"non_2xx\": %d, \"socket_errors\": %d, "
    .. "\"p50_us\": %d, \"p99_us\": %d}\n",
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _wrk_script(paths: list[str], body: bytes | None) -> str:
    if body is None:
        listed = ", ".join(_lua_string(path) for path in paths)
        return (
            f"local paths = {{{listed}}}\nlocal counter = 0\n"
            "function request()\n  counter = counter + 1\n"
            "  return wrk.format('GET', paths[(counter % #paths) + 1])\nend\n" + _LUA_COMMON
        )
    return (
        "wrk.method = 'POST'\n"
        f"wrk.path = {_lua_string(paths[0])}\n"
        f"wrk.body = {_lua_string(body.decode('utf-8'))}\n"
        "wrk.headers['Content-Type'] = 'application/json'\n" + _LUA_COMMON
    )


def run_wrk(
    wrk: str,
    port: int,
    paths: list[str],
    body: bytes | None,
    connections: int,
    seconds: float,
    folder: Path,
) -> LoadResult:
    script = folder / f"load-{secrets.token_hex(4)}.lua"
    script.write_text(_wrk_script(paths, body), "utf-8")
    threads = min(connections, os.cpu_count() or 2)
    done = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://{HOST}:{port}{paths[0]}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("MERKKI ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-1000:]}{done.stderr}")
    data = json.loads(line.removeprefix("MERKKI "))
    duration = data["duration_us"] / 1e6
    return LoadResult(
        tool="wrk",
        requests=data["requests"],
        rps=data["requests"] / duration if duration else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=data["non_2xx"],
        socket_errors=data["socket_errors"],
    )


def run_loadgen(
    port: int,
    paths: list[str],
    body: bytes | None,
    connections: int,
    seconds: float,
    folder: Path,
) -> LoadResult:
    paths_file = folder / f"paths-{secrets.token_hex(4)}.txt"
    paths_file.write_text("\n".join(paths) + "\n", "utf-8")
    command = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        "--port",
        str(port),
        "--connections",
        str(connections),
        "--duration",
        str(seconds),
        "--paths-file",
        str(paths_file),
    ]
    if body is not None:
        body_file = folder / "body.json"
        body_file.write_bytes(body)
        command += ["--body-file", str(body_file)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(
        tool="benchmarks.loadgen",
        requests=int(data["requests"]),
        rps=float(data["rps"]),
        p50_ms=float(data["p50_ms"]),
        p99_ms=float(data["p99_ms"]),
        non_2xx=int(data["non_2xx"]),
        socket_errors=int(data["socket_errors"]),
    )


# ------------------------------------------------------------------------------ the suite


def run(report: Report, quick: bool = False) -> None:
    seconds = 1.0 if quick else 10.0
    # A warm-up round: long enough to count requests in, shorter in the quick run (the suite's
    # own test), which checks that every figure is made and error-free, not the figures.
    round_s = 0.5 if quick else 1.0
    credentials = 5 if quick else 20
    wrk = shutil.which("wrk")
    tool = "wrk" if wrk else "benchmarks.loadgen (Python, asyncio; wrk not on PATH)"
    with tempfile.TemporaryDirectory(prefix="merkki-bench-http-") as temporary:
        folder = Path(temporary)
        instance = make_instance(folder, credentials)

        master = 0

        def load(paths: list[str], body: bytes | None, connections: int, span: float) -> LoadResult:
            def one() -> LoadResult:
                if wrk:
                    return run_wrk(wrk, instance.port, paths, body, connections, span, folder)
                return run_loadgen(instance.port, paths, body, connections, span, folder)

            return with_cpu(master, one)

        verify_paths = [f"/verify/{credential_id}" for credential_id in instance.ids]
        post_paths = ["/api/v1/verify"]
        with gunicorn(instance) as server:
            master = server.pid
            _check_answers(instance)
            report.start(
                f"http: gunicorn, {WORKERS} sync workers (gunicorn.conf.py, SQLite), on loopback",
                f"load generator: {tool}; {seconds:.0f} s per figure after a warm-up "
                f"(until two {round_s:g}-second rounds agree); "
                f"GET /verify/<id> rotates over {len(instance.ids)} credentials; POST "
                f"/api/v1/verify sends one signed credential ({len(instance.body):,} bytes); "
                "proof and term checks of a credential seen before come from a bounded cache, "
                "status and validity are checked live on every request",
            )
            warm_up(lambda: load(verify_paths, None, 16, round_s))
            warm_up(lambda: load(post_paths, instance.body, 16, round_s))
            with MemoryWatch(server.pid) as memory:
                baseline = load(["/api/v1/"], None, 16, seconds)
                base = f"GET /api/v1/ at 16 connections: {baseline.describe()}"
                report.add(
                    Figure(
                        "baseline: GET /api/v1/, 16 connections",
                        baseline.describe(),
                        baseline=baseline.describe_cpu(),
                    )
                )
                for name, paths, body in (
                    ("GET /verify/<id>", verify_paths, None),
                    ("POST /api/v1/verify", post_paths, instance.body),
                ):
                    for connections in (16, 64):
                        result = load(paths, body, connections, seconds)
                        report.add(_figure(name, connections, result, base))
            peaks = [kb / 1024 for kb in memory.peak_kb.values()]
        report.add(
            Figure(
                f"worker peak memory (VmHWM), {len(peaks)} workers",
                ", ".join(f"{mb:.0f} MB" for mb in peaks) or "not measured",
                target=f"≤ {MEMORY_TARGET_MB:.0f} MB each",
                met=bool(peaks) and max(peaks) <= MEMORY_TARGET_MB,
            )
        )
        one, five, _ = os.getloadavg()
        report.add(
            Figure(
                "machine load average after the load",
                f"{one:.2f} (1 min), {five:.2f} (5 min)",
                baseline="the load generator and the workers share the machine's cores",
            )
        )


def warm_up(round_of_load: Callable[[], LoadResult]) -> None:
    """Load in rounds until two in a row agree within 25 % (every worker past its first-request
    work), at most ``WARM_UP_LIMIT_S``."""
    deadline = time.monotonic() + WARM_UP_LIMIT_S
    previous = 0.0
    rounds = 0
    while time.monotonic() < deadline:
        rps = round_of_load().rps
        rounds += 1
        agree = rps > 0 and previous > 0 and abs(rps - previous) <= 0.25 * max(rps, previous)
        if agree and rounds >= MIN_WARM_UP_ROUNDS:
            return
        previous = rps


def _figure(name: str, connections: int, result: LoadResult, baseline: str) -> Figure:
    if connections == 16:
        met = result.rps >= RPS_TARGET and result.p99_ms <= P99_TARGET_MS and result.errors == 0
        target = f"≥ {RPS_TARGET} req/s, p99 ≤ {P99_TARGET_MS:.0f} ms, 0 errors"
    else:
        met = result.errors == 0
        target = "0 errors"
    return Figure(
        f"{name}, {connections} connections",
        result.describe(),
        target=target,
        baseline=f"{result.describe_cpu()}; {baseline}" if result.describe_cpu() else baseline,
        met=met,
    )


def _check_answers(instance: Instance) -> None:
    """The routes under load answer what they should before they are timed."""
    base = f"http://{HOST}:{instance.port}"
    page = urllib.request.urlopen(f"{base}/verify/{instance.ids[0]}", timeout=30)  # noqa: S310
    if page.status != 200:
        raise RuntimeError(f"GET /verify/<id> answered {page.status}")
    page.read()
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        f"{base}/api/v1/verify",
        data=instance.body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        verdict = json.loads(answer.read())["verdict"]
    if verdict != "valid":
        raise RuntimeError(f"POST /api/v1/verify says {verdict!r} for a freshly issued credential")
