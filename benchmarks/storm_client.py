"""The ingest storm's client (benchmarks/ingest_storm.py): a minimal HTTP/1.1 keep-alive client on
asyncio streams (uvloop) with httptools for response parsing, `clients` connections each sending its
next request as soon as the previous answer arrives; or httpx.AsyncClient for comparison."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.storm_workload import Delivery

PATH = "/webhooks/alertmanager"
TOKEN = "bench-storm-token"  # a throwaway bearer token for the benchmark's own server
REQUEST_TIMEOUT = 120.0  # seconds; a request that takes longer fails the run

# ----------------------------------------------------------------------------------------------
# Client
# ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    status: int
    latency: float
    body: bytes


@dataclass
class Storm:
    results: dict[int, Result] = field(default_factory=dict)  # position in the sent list -> result
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0


def request_bytes(host: str, port: int, body: bytes) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "User-Agent: Alertmanager/0.27.0\r\n"
        "Content-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


class _Response:
    """httptools callbacks for one response at a time."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.done = False

    def on_body(self, data: bytes) -> None:
        self.chunks.append(data)

    def on_message_complete(self) -> None:
        self.done = True


async def _raw_connection(
    host: str, port: int, requests: list[tuple[int, bytes]], cursor: Iterator[int], storm: Storm
) -> None:
    import httptools

    reader, writer = await asyncio.open_connection(host, port)
    try:
        for position in cursor:
            index, payload = requests[position]
            response = _Response()
            parser = httptools.HttpResponseParser(response)
            started = time.perf_counter()
            writer.write(payload)
            while not response.done:
                data = await asyncio.wait_for(reader.read(65536), REQUEST_TIMEOUT)
                if not data:
                    raise ConnectionError("server closed the connection")
                parser.feed_data(data)
            storm.results[index] = Result(
                parser.get_status_code(), time.perf_counter() - started, b"".join(response.chunks)
            )
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _httpx_connection(
    client: Any, url: str, requests: list[tuple[int, bytes]], cursor: Iterator[int], storm: Storm
) -> None:
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {TOKEN}",
        "user-agent": "Alertmanager/0.27.0",
    }
    for position in cursor:
        index, body = requests[position]
        started = time.perf_counter()
        response = await client.post(url + PATH, content=body, headers=headers)
        storm.results[index] = Result(response.status_code, time.perf_counter() - started, response.content)


async def _storm(
    host: str, port: int, deliveries: Sequence[Delivery], clients: int, kind: str, storm: Storm
) -> None:
    cursor = iter(range(len(deliveries)))  # shared: each connection takes the next request
    if kind == "raw":
        requests = [(pos, request_bytes(host, port, d.body)) for pos, d in enumerate(deliveries)]
        tasks = [_raw_connection(host, port, requests, cursor, storm) for _ in range(clients)]
        started = time.perf_counter()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    else:
        import httpx

        bodies = [(pos, d.body) for pos, d in enumerate(deliveries)]
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT) as client:
            tasks = [
                _httpx_connection(client, f"http://{host}:{port}", bodies, cursor, storm)
                for _ in range(clients)
            ]
            started = time.perf_counter()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    storm.seconds = time.perf_counter() - started
    storm.errors.extend(f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException))


def process_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live children (conductor's intake process), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            with contextlib.suppress(OSError):
                total += process_cpu_seconds(int(child))
    return total


def run_client(
    host: str, port: int, deliveries: Sequence[Delivery], *, clients: int, kind: str, server_pid: int
) -> Storm:
    storm = Storm()
    before = resource.getrusage(resource.RUSAGE_SELF)
    server_before = process_cpu_seconds(server_pid)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        runner = asyncio.run
    runner(_storm(host, port, deliveries, clients, kind, storm))
    after = resource.getrusage(resource.RUSAGE_SELF)
    storm.server_cpu = process_cpu_seconds(server_pid) - server_before
    storm.client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return storm
