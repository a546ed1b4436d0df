"""A bounded HTTP/1.1 load generator, used by the ``http`` benchmark when ``wrk`` is missing.

``python -m benchmarks.loadgen --host 127.0.0.1 --port 8000 --connections 16 --duration 10
--paths-file paths.txt [--body-file body.json --content-type application/json]`` opens that many
keep-alive connections (asyncio, one process), sends requests back to back on each for a fixed
time (GET, rotating over the paths; POST with the body when one is given), and prints one JSON
object: requests, non-2xx answers, socket errors, duration and latency percentiles. Loopback
only: it refuses any other host. Every wait is bounded by the duration plus a grace period.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: A single request may take at most this long before it counts as a socket error (timeout).
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    non_2xx: int = 0
    socket_errors: int = 0


def _request(host: str, port: int, path: str, body: bytes | None, content_type: str) -> bytes:
    head = [
        f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Connection: keep-alive",
        "User-Agent: merkki-loadgen",
    ]
    if body is not None:
        head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; (status, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    keep = headers.get("connection", "").lower() != "close"
    return status, keep


async def _connection(
    host: str, port: int, requests: list[bytes], offset: int, deadline: float, tally: Tally
) -> None:
    index = offset
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), REQUEST_TIMEOUT_S
                )
            assert reader is not None
            assert writer is not None
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            index += 1
            status, keep = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
            tally.latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                tally.non_2xx += 1
            if not keep:
                writer.close()
                writer = None
                reader = None
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
            TimeoutError,
        ):
            tally.socket_errors += 1
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def run_load(
    host: str,
    port: int,
    paths: list[str],
    *,
    connections: int,
    duration: float,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> dict[str, float | int]:
    requests = [_request(host, port, path, body, content_type) for path in paths]
    tally = Tally()
    started = time.monotonic()
    deadline = started + duration
    tasks = [
        asyncio.create_task(_connection(host, port, requests, i, deadline, tally))
        for i in range(connections)
    ]
    await asyncio.wait(tasks, timeout=duration + REQUEST_TIMEOUT_S + 5)
    for task in tasks:
        task.cancel()
    elapsed = time.monotonic() - started
    ordered = sorted(tally.latencies)
    return {
        "requests": len(ordered),
        "duration_s": elapsed,
        "rps": len(ordered) / elapsed if elapsed else 0.0,
        "non_2xx": tally.non_2xx,
        "socket_errors": tally.socket_errors,
        "p50_ms": _percentile(ordered, 0.50) * 1000,
        "p99_ms": _percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--paths-file", type=Path, required=True, help="one path a line")
    parser.add_argument("--body-file", type=Path, help="POST this body to every path")
    parser.add_argument("--content-type", default="application/json")
    arguments = parser.parse_args(argv)
    if not ipaddress.ip_address(arguments.host).is_loopback:
        parser.error("load is only ever sent to a loopback address")
    if not 1 <= arguments.connections <= 1024 or not 0 < arguments.duration <= 600:
        parser.error("connections must be 1..1024 and duration 0..600 s")
    paths = [p for p in arguments.paths_file.read_text("utf-8").splitlines() if p.strip()]
    body = arguments.body_file.read_bytes() if arguments.body_file else None
    result = asyncio.run(
        run_load(
            arguments.host,
            arguments.port,
            paths,
            connections=arguments.connections,
            duration=arguments.duration,
            body=body,
            content_type=arguments.content_type,
        )
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
