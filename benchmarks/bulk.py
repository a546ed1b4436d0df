"""Bulk issuance end to end: a 10,000-row cohort CSV through ``merkki issue-bulk`` on the
embedded SQLite default, timed by the wall clock, with the command's peak memory.

What a user does, in a temporary folder: a fresh database and keys (``merkki init``), an
institution (``merkki institution create``), then ``merkki issue-bulk`` with a shipped national
badge class and a CSV of Finnish and Swedish names (ä, ö, å), e-mail addresses, languages and
some evidence links. Only the ``issue-bulk`` command is measured: process start, reading and
checking the file, the job's batches, the summary. Its peak memory is the child's maximum
resident set size (``wait4``). Afterwards the benchmark checks what was issued: every row a
credential, all distinct, distinct status indexes per list, one audit event and one mail each,
and a sample of credentials verifying as valid through the service.

The target is judged on the wall clock; the command's processor time is printed beside it
(on a busy machine the wall clock also counts waiting for a core).

Baseline, in the same run: signing the same number of credentials with the engine alone, one
``dataintegrity.signing.sign`` call each (credentials built beforehand, nothing stored): what
signing them costs without a database, a file or a process to start. (The bulk path signs with the
same engine but makes a batch's proof configuration once, so its signing share is below it.)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fixtures import make_issuer, micro_credentials
from benchmarks.report import Figure, Report

ROWS = 10_000
QUICK_ROWS = 1_000
TARGET_SECONDS = 20.0
TARGET_MB = 300.0
BADGE = "pokot-ennakointiosaaminen"
INSTITUTION = "hamk"
#: Credentials verified through the service afterwards.
SAMPLE = 20

_FIRST = ["Liisa", "Matti", "Aino", "Juhani", "Väinö", "Ella", "Onni", "Päivi", "Jyrki", "Sanna"]
_FIRST_SV = ["Åsa", "Björn", "Märta", "Sören", "Linnéa", "Göran"]
_LAST = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Hämäläinen", "Kärkkäinen", "Öhman"]
_LAST_SV = ["Lindqvist", "Sjöberg", "Åström", "Ekström", "Granö"]
_ASCII = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e"})


def cohort_csv(rows: int, seed: int = 6) -> str:
    """A realistic cohort file: 80 % Finnish, 15 % Swedish, 5 % English speakers; one row in
    ten with an evidence link. Every address differs."""
    generator = random.Random(seed)
    lines = ["email,name,lang,evidence_url"]
    for number in range(rows):
        swedish = generator.random() < 0.15
        first = generator.choice(_FIRST_SV if swedish else _FIRST)
        last = generator.choice(_LAST_SV if swedish else _LAST)
        lang = "sv" if swedish else ("en" if generator.random() < 0.06 else "fi")
        email = f"{first}.{last}.{number}@edu.example.fi".lower().translate(_ASCII)
        evidence = f"https://portfolio.example.fi/{number}" if number % 10 == 0 else ""
        lines.append(f"{email},{first} {last},{lang},{evidence}")
    return "\n".join(lines) + "\n"


def _merkki() -> str:
    """The ``merkki`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("merkki")
    found = str(beside) if beside.exists() else shutil.which("merkki")
    if found is None:
        raise RuntimeError("the merkki command is not installed (pip install -e .)")
    return found


@dataclass(frozen=True)
class Run:
    wall_s: float
    #: Processor time of the command (user + system): what it costs on an idle machine.
    cpu_s: float
    peak_mb: float
    summary: dict[str, Any]


def _environment(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ISSUER_DATABASE_URL": f"sqlite:///{folder / 'merkki.sqlite3'}",
        "ISSUER_KEYS_DIR": str(folder / "keys"),
        # The default store, named so that the figures say what they measured (issue 16).
        "ISSUER_KEY_STORE": "database",
        "ISSUER_KEY_PASSPHRASE": "benchmark passphrase, not a secret",
        "ISSUER_SECRET_KEY": "benchmark secret key",
        "ISSUER_BASE_URL": "https://merkki.example.fi",
        "ISSUER_LOG_LEVEL": "WARNING",
    }


def _set_up(folder: Path, environment: dict[str, str]) -> None:
    (folder / "keys").mkdir()
    command = _merkki()
    for arguments in (
        ["init"],
        [
            "institution",
            "create",
            INSTITUTION,
            "--name",
            "Hämeen ammattikorkeakoulu",
            "--name-sv",
            "Tavastlands yrkeshögskola",
            "--name-en",
            "Häme University of Applied Sciences",
            "--url",
            "https://www.hamk.fi",
            "--email",
            "info@hamk.fi",
            "--locality",
            "Hämeenlinna",
        ],
    ):
        subprocess.run(
            [command, *arguments], env=environment, check=True, capture_output=True, timeout=300
        )


def _issue_bulk(folder: Path, environment: dict[str, str], csv_file: Path) -> Run:
    """Run ``merkki issue-bulk`` and wait for it with ``wait4``, which gives this child's own
    peak memory (``RUSAGE_CHILDREN`` would mix in the set-up commands)."""
    stdout_path, stderr_path = folder / "stdout.json", folder / "stderr.txt"
    arguments = ["issue-bulk", "--institution", INSTITUTION, "--badge", BADGE, str(csv_file)]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(
            [_merkki(), *arguments], env=environment, stdout=stdout, stderr=stderr
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(
            f"merkki issue-bulk exited with {child.returncode}: "
            + stderr_path.read_text("utf-8", "replace")[-2000:]
        )
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    summary: dict[str, Any] = json.loads(stdout_path.read_text("utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss * scale / 1e6, summary)


def _check_database(database: Path, rows: int) -> list[str]:
    """What must hold after the run; the problems found (none when all is well)."""
    problems = []
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:

        def one(query: str, *parameters: str) -> int:
            return int(connection.execute(query, parameters).fetchone()[0])

        counts = {
            "credentials": one("SELECT count(*) FROM credential"),
            "distinct credential ids": one("SELECT count(DISTINCT id) FROM credential"),
            "distinct signed texts": one("SELECT count(DISTINCT signed_json) FROM credential"),
            "audit events": one("SELECT count(*) FROM audit_event WHERE action = 'issue'"),
            "mails": one("SELECT count(*) FROM outbox_mail"),
            "rows issued": one("SELECT count(*) FROM bulk_job_row WHERE state = 'issued'"),
        }
        for purpose in ("revocation", "suspension"):
            counts[f"{purpose} positions"] = one(
                "SELECT count(*) FROM status_allocation WHERE purpose = ?", purpose
            )
            counts[f"distinct {purpose} positions"] = one(
                'SELECT count(*) FROM (SELECT DISTINCT status_list_id, "index" '
                "FROM status_allocation WHERE purpose = ?)",
                purpose,
            )
        problems += [
            f"{name}: {value}, not {rows}" for name, value in counts.items() if value != rows
        ]
    finally:
        connection.close()
    return problems


def _verify_sample(folder: Path, environment: dict[str, str], count: int) -> list[str]:
    """Verify ``count`` random credentials through the service (as the QR page does)."""
    from sqlalchemy import func, select

    from issuer import create_app
    from issuer.config import ENVIRONMENT_VARIABLES
    from issuer.db import dispose, get_session
    from issuer.models import Credential
    from issuer.services import verification

    config: dict[str, Any] = {
        key: environment[variable]
        for variable, key in ENVIRONMENT_VARIABLES.items()
        if variable in environment and variable.startswith("ISSUER_")
    }
    app = create_app({**config, "TESTING": False})
    problems = []
    try:
        with app.app_context():
            session = get_session()
            ids = session.scalars(select(Credential.id).order_by(func.random()).limit(count))
            for credential_id in ids:
                result = verification.verify_stored(
                    session, credential_id, base_url=environment["ISSUER_BASE_URL"]
                )
                if result.verdict != "valid":
                    problems.append(f"credential {credential_id} verifies as {result.verdict}")
    finally:
        dispose(app)
    return problems


def _engine_alone(count: int) -> tuple[float, float]:
    """(wall clock, processor time) in seconds to sign ``count`` prepared credentials, one by
    one, with the engine alone (``dataintegrity.signing.sign``)."""
    from issuer.core.dataintegrity.signing import sign

    issuer = make_issuer()
    documents = micro_credentials(issuer, count)
    started, started_cpu = time.perf_counter(), time.thread_time()
    for document in documents:
        sign(
            document, issuer.private_key, issuer.verification_method, created=document["validFrom"]
        )
    return time.perf_counter() - started, time.thread_time() - started_cpu


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


def run(report: Report, quick: bool = False) -> None:
    rows = QUICK_ROWS if quick else ROWS
    report.start(
        "bulk issuance: merkki issue-bulk on SQLite",
        f"{rows:,} rows, national badge class {BADGE}"
        + (
            f" (--quick: {QUICK_ROWS:,} rows; the {ROWS:,}-row time target is not judged)"
            if quick
            else ""
        ),
    )
    with tempfile.TemporaryDirectory(prefix="merkki-bench-bulk-") as name:
        folder = Path(name)
        environment = _environment(folder)
        _set_up(folder, environment)
        csv_file = folder / "cohort.csv"
        csv_file.write_text(cohort_csv(rows), encoding="utf-8")
        load_before = _load()
        measured = _issue_bulk(folder, environment, csv_file)
        load_after = _load()
        problems = _check_database(folder / "merkki.sqlite3", rows)
        if measured.summary.get("issued") != rows:
            problems.append(f"the command reported {measured.summary} for {rows} rows")
        problems += _verify_sample(folder, environment, SAMPLE)
        engine_wall, engine_cpu = _engine_alone(rows)
    per_row_ms = measured.wall_s / rows * 1000
    report.add(
        Figure(
            f"wall time, {rows:,} rows end to end",
            f"{measured.wall_s:.1f} s ({per_row_ms:.2f} ms per credential)",
            target=f"<= {TARGET_SECONDS:.0f} s for {ROWS:,} rows",
            baseline=f"the engine alone signing {rows:,} one by one: {engine_wall:.1f} s wall, "
            f"{engine_cpu:.1f} s processor time",
            met=None if quick else measured.wall_s <= TARGET_SECONDS,
        )
    )
    report.add(
        Figure(
            "processor time of the command (user+sys)",
            f"{measured.cpu_s:.1f} s ({measured.cpu_s / rows * 1000:.2f} ms per credential)",
        )
    )
    report.add(
        Figure(
            "peak memory of the command (max RSS)",
            f"{measured.peak_mb:.0f} MB",
            target=f"<= {TARGET_MB:.0f} MB",
            met=measured.peak_mb <= TARGET_MB,
        )
    )
    report.add(
        Figure(
            "of which the job itself (its own clock)",
            f"{measured.summary.get('seconds')} s",
        )
    )
    report.add(
        Figure(
            "result checked",
            "ok" if not problems else "; ".join(problems[:5]),
            target=f"{rows:,} distinct credentials and indexes, {SAMPLE} verify",
            met=not problems,
        )
    )
    print(f"     {load_before} before the command, {load_after} after", flush=True)
