"""The ``http`` benchmark suite: its load generators count what they should, and the whole suite
runs end to end (instance, gunicorn, load, figures) in ``--quick`` mode."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks import http as http_suite
from benchmarks.loadgen import run_load
from benchmarks.report import Report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status = 404 if self.path == "/missing" else 200
        body = b"ok" if status == 200 else b"no"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        self.send_response(200 if body == b'{"a": 1}' else 400)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"2\r\nok\r\n0\r\n\r\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_loadgen_counts_answers_and_non_2xx(server: int) -> None:
    result = asyncio.run(
        run_load("127.0.0.1", server, ["/a", "/missing"], connections=4, duration=0.5)
    )
    assert result["requests"] > 10
    assert result["socket_errors"] == 0
    # Every other request (rotating over the paths) is a 404.
    assert abs(int(result["non_2xx"]) - int(result["requests"]) / 2) <= 4
    assert 0 < result["p50_ms"] <= result["p99_ms"]


def test_loadgen_posts_the_body_and_reads_chunked_answers(server: int) -> None:
    result = asyncio.run(
        run_load("127.0.0.1", server, ["/v"], connections=2, duration=0.3, body=b'{"a": 1}')
    )
    assert result["requests"] > 5
    assert result["non_2xx"] == 0
    assert result["socket_errors"] == 0


def test_loadgen_counts_refused_connections_as_errors() -> None:
    port = http_suite._free_port()  # nothing listens there
    result = asyncio.run(run_load("127.0.0.1", port, ["/"], connections=1, duration=0.2))
    assert result["requests"] == 0
    assert result["socket_errors"] > 0


def test_wrk_script_quotes_any_body() -> None:
    script = http_suite._wrk_script(["/api/v1/verify"], b'{"x": "]]" , "y": "]=]"}')
    assert '[==[{"x": "]]" , "y": "]=]"}]==]' in script
    assert "wrk.method = 'POST'" in script


@pytest.mark.slow
def test_http_suite_runs_end_to_end_quick(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report()
    http_suite.run(report, quick=True)
    names = [figure.name for _, figure in report.figures]
    assert names[0] == "baseline: GET /api/v1/, 16 connections"
    assert "GET /verify/<id>, 16 connections" in names
    assert "POST /api/v1/verify, 64 connections" in names
    figures = {figure.name: figure for _, figure in report.figures}
    for name in names[1:5]:
        # No errors under load, on any route, whatever the machine's speed.
        assert figures[name].value.endswith(" 0 errors"), figures[name]
    memory = figures["worker peak memory (VmHWM), 2 workers"]
    assert memory.met is not None
    assert all(part.endswith(" MB") for part in memory.value.split(", "))
    assert names[-1] == "machine load average after the load"
    out = capsys.readouterr().out
    assert ("load generator: wrk" in out) == (shutil.which("wrk") is not None)
