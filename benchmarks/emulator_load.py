"""Loopback load on the RealtimeKit emulator: many keep-alive clients at a fixed total request rate.

``python -m benchmarks.emulator_load [--connections 5000] [--rate 1000] [--seconds 10] [--recordings
5000]`` starts the emulator's CLI in its own process, fills it with recordings, opens the connections
(each kept alive for the whole run), then has every connection poll one recording at
``connections / rate`` second intervals, staggered so the total rate is even. Latency is measured from
the moment a request was due (not sent), so a server that falls behind cannot hide it. Afterwards it
checks that a ``drop_before`` fault still closes a connection without an answer while the others go on.

Everything is bounded (connections, rate, duration, recordings) and stays on loopback; nothing is
written anywhere. Figures: requests answered per second, latency p50/p95/p99/max, errors, connections
still open at the end, the server's CPU per request and its memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rtk.emulator.messages import Reply, Request
from airflow_provider_rtk.emulator.server import EmulatorApp
from airflow_provider_rtk.emulator.settings import EmulatorSettings

MAX_CONNECTIONS = 10_000
MAX_RATE = 5_000
MAX_SECONDS = 120
MAX_RECORDINGS = 20_000
TOKEN = "emulator-token"
APP = "/client/v4/accounts/acc/realtime/kit/app"
#: Connections opened at once while ramping up (the server's listen backlog must take them).
RAMP_BATCH = 500
#: A request or a connect that takes longer counts as an error (keeps every run bounded).
REQUEST_TIMEOUT = 10.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late_starts: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def request_bytes(method: str, path: str, body: Any = None) -> bytes:
    content = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
    )
    return head.encode() + content


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 answer with a ``Content-Length`` (all the emulator sends): status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


class Connection:
    """One keep-alive client connection: one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT)
        return cls(reader, writer)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        self.writer.write(request_bytes(method, path, body))
        return await read_answer(self.reader)

    def close(self) -> None:
        self.writer.close()


async def fill(port: int, recordings: int) -> list[tuple[str, str]]:
    """``recordings`` uploaded track recordings, each in its own meeting: (meeting id, recording id)."""
    workers = 32
    made: list[tuple[str, str]] = []

    async def work(index: int) -> None:
        connection = await Connection.open(port)
        try:
            for number in range(index, recordings, workers):
                meeting_id = f"meeting-{number}"
                await connection.call("POST", f"/_emulator/meetings/{meeting_id}/session")
                status, body = await connection.call(
                    "POST", f"{APP}/recordings/track", {"meeting_id": meeting_id}
                )
                if status != 200:
                    raise RuntimeError(f"start failed: {status} {body[:200]!r}")
                recording_id = json.loads(body)["data"]["recording"]["id"]
                await connection.call("PUT", f"{APP}/recordings/{recording_id}", {"action": "stop"})
                if number % 2:  # half of the meetings stay live with a recording running
                    await connection.call("POST", f"{APP}/recordings/track", {"meeting_id": meeting_id})
                made.append((meeting_id, recording_id))
        finally:
            connection.close()

    await asyncio.gather(*(work(index) for index in range(min(workers, max(recordings, 1)))))
    return made


async def open_all(port: int, count: int, tally: Tally) -> list[Connection]:
    connections: list[Connection] = []
    for start in range(0, count, RAMP_BATCH):
        batch = await asyncio.gather(
            *(Connection.open(port) for _ in range(start, min(count, start + RAMP_BATCH))),
            return_exceptions=True,
        )
        for item in batch:
            if isinstance(item, Connection):
                connections.append(item)
            else:
                tally.error(f"connect: {type(item).__name__}")
    return connections


async def poll(
    connection: Connection,
    offset: float,
    interval: float,
    until: float,
    targets: list[tuple[str, str]],
    tally: Tally,
) -> bool:
    """Poll on schedule until ``until``; ``True`` if the connection is still usable at the end."""
    loop = asyncio.get_running_loop()
    due = loop.time() + offset
    chooser = random.Random(offset)
    while due < until:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            tally.late_starts += 1
        meeting_id, recording_id = chooser.choice(targets) if targets else ("none", "none")
        path = (
            f"{APP}/recordings/{recording_id}"
            if chooser.random() < 0.5
            else f"{APP}/recordings/active-recording/{meeting_id}"
        )
        try:
            status, _ = await asyncio.wait_for(connection.call("GET", path), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as error:
            tally.error(type(error).__name__)
            return False
        if status not in (200, 404):
            tally.error(f"HTTP {status}")
        tally.latencies.append(loop.time() - due)
        due += interval
    return True


def server_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident memory in bytes of a process."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/statm") as statm:
        resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return (int(fields[11]) + int(fields[12])) / ticks, resident


async def check_drop_fault(port: int) -> bool:
    """A ``drop_before`` fault closes the next call's connection with no answer; the next call works."""
    victim, bystander = await Connection.open(port), await Connection.open(port)
    try:
        await bystander.call(
            "POST", "/_emulator/faults", {"operation": "get_all_recordings", "kind": "drop_before"}
        )
        try:
            await victim.call("GET", f"{APP}/recordings?per_page=1")
            return False
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        status, _ = await bystander.call("GET", f"{APP}/recordings?per_page=1")
        return status == 200
    finally:
        victim.close()
        bystander.close()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_load(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally()
    began = time.monotonic()
    targets = await fill(port, args.recordings)
    filled = time.monotonic() - began
    connections = await open_all(port, args.connections, tally)
    cpu_before, _ = server_usage(pid)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    until = start + args.seconds
    interval = len(connections) / args.rate if connections else 1.0
    alive = await asyncio.gather(
        *(
            poll(connection, (start - loop.time()) + index / args.rate, interval, until, targets, tally)
            for index, connection in enumerate(connections)
        )
    )
    elapsed = loop.time() - start
    cpu_after, resident = server_usage(pid)
    drop_ok = await check_drop_fault(port)
    for connection in connections:
        connection.close()
    answered = len(tally.latencies)
    return {
        "connections_open": len(connections),
        "connections_alive_at_end": sum(alive),
        "requests": answered,
        "requests_per_second": answered / elapsed if elapsed > 0 else 0.0,
        "latency_ms": {
            "p50": 1000 * percentile(tally.latencies, 0.50),
            "p95": 1000 * percentile(tally.latencies, 0.95),
            "p99": 1000 * percentile(tally.latencies, 0.99),
            "max": 1000 * max(tally.latencies, default=float("nan")),
            "mean": 1000 * statistics.fmean(tally.latencies) if tally.latencies else float("nan"),
        },
        "errors": tally.errors,
        "late_starts": tally.late_starts,
        "server_cpu_ms_per_request": 1000 * (cpu_after - cpu_before) / answered if answered else float("nan"),
        "server_cpu_share": (cpu_after - cpu_before) / elapsed if elapsed > 0 else 0.0,
        "server_rss_mb": resident / 2**20,
        "recordings": len(targets),
        "fill_seconds": filled,
        "drop_fault_works": drop_ok,
    }


def start_server(extra: list[str]) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "airflow_provider_rtk.emulator", "--port", "0", "--account-id", "acc"]
    command += ["--app-id", "app", "--invoke-delay", "0", "--upload-delay", "0", *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    if "serving http://" not in first:
        process.kill()
        raise SystemExit(f"the emulator did not start: {first}")
    port = int(first.split("serving http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    stdout = process.stdout
    threading.Thread(target=lambda: stdout.read(), daemon=True).start()  # never let its pipe fill
    return process, port


def bounded(value: int | float, limit: int, name: str) -> None:
    if not 0 < value <= limit:
        raise SystemExit(f"--{name} must be between 1 and {limit}")


def _app_with(recordings: int) -> tuple[EmulatorApp, list[Request]]:
    """An emulator app holding ``recordings`` running recordings, and polls of random ones."""
    app = EmulatorApp(EmulatorSettings(invoke_delay=0, upload_delay=0))
    headers = {"authorization": f"Bearer {TOKEN}"}
    ids = []
    for number in range(recordings):
        meeting_id = f"meeting-{number}"
        app.state.start_session(meeting_id)
        body = json.dumps({"meeting_id": meeting_id}).encode()
        started = app.handle(Request("POST", f"{APP}/recordings/track", {}, headers, body))
        if not isinstance(started, Reply) or started.status != 200:
            raise RuntimeError(f"could not start a recording: {started}")
        ids.append((meeting_id, started.json()["data"]["recording"]["id"]))
    chooser = random.Random(1)
    polls = []
    for meeting_id, recording_id in (chooser.choice(ids) for _ in range(2_000)):
        one = chooser.random() < 0.5
        path = (
            f"{APP}/recordings/{recording_id}" if one else f"{APP}/recordings/active-recording/{meeting_id}"
        )
        polls.append(Request("GET", path, {}, headers))
    return app, polls


def handler_cost(counts: list[int], rounds: int = 9) -> dict[int, float]:
    """CPU microseconds the emulator's app spends per poll (a recording, or a meeting's active one)
    with each number of recordings in its state: in this process, no sockets; batches alternate
    between the states, medians of ``rounds``."""
    apps = {count: _app_with(count) for count in counts}
    batches: dict[int, list[float]] = {count: [] for count in counts}
    for _ in range(rounds):
        for count, (app, polls) in apps.items():
            began = time.process_time()
            for poll_request in polls:
                app.handle(poll_request)
            batches[count].append((time.process_time() - began) / len(polls) * 1e6)
    return {count: statistics.median(found) for count, found in batches.items()}


def measure(args: argparse.Namespace, server: str, recordings: int) -> dict[str, Any]:
    """One bounded run against a fresh emulator process."""
    run = argparse.Namespace(**{**vars(args), "recordings": recordings})
    process, port = start_server([*args.server_option, "--server", server])
    try:
        return asyncio.run(run_load(port, process.pid, run))
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, and SIGKILL if it has not gone within 30 s (a loaded machine is slow to close 5,000
    connections)."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over repeated runs (errors added up, checks all required)."""
    merged: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs]
        if isinstance(first, bool):
            merged[key] = all(values)
        elif isinstance(first, int | float):
            merged[key] = statistics.median(values)
        elif key == "errors":
            totals: dict[str, int] = {}
            for errors in values:
                for kind, count in errors.items():
                    totals[kind] = totals.get(kind, 0) + count
            merged[key] = totals
        else:
            merged[key] = median_figures(values)
    return merged


def summary(figures: dict[str, Any], rate: int) -> str:
    latency = figures["latency_ms"]
    return (
        f"{figures['connections_open']:.0f} connections "
        f"({figures['connections_alive_at_end']:.0f} alive at the end), "
        f"{figures['recordings']:.0f} recordings: {figures['requests_per_second']:.0f} requests/s answered "
        f"(asked {rate}), latency p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms, max {latency['max']:.1f} ms; errors {figures['errors'] or 'none'}; "
        f"server {figures['server_cpu_ms_per_request']:.3f} ms CPU/request "
        f"({100 * figures['server_cpu_share']:.0f}% of a core), {figures['server_rss_mb']:.0f} MB; "
        f"drop fault works: {figures['drop_fault_works']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_load", description=__doc__)
    parser.add_argument(
        "--connections", type=int, default=5_000, help="keep-alive clients (default %(default)s)"
    )
    parser.add_argument(
        "--rate", type=int, default=1_000, help="total requests per second (default %(default)s)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of the timed part (default %(default)s)"
    )
    parser.add_argument(
        "--recordings", type=int, default=5_000, help="recordings to create first (default %(default)s)"
    )
    parser.add_argument("--server", choices=("asyncio", "threads"), default="asyncio", help="emulator server")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="three runs in one: asyncio with --recordings, asyncio with 10 recordings (cost per request "
        "against the number of recordings), and the thread-per-connection server (the peer)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="--compare rounds; medians shown (max 5)")
    parser.add_argument("--server-option", action="append", default=[], help="extra emulator CLI option")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    bounded(args.connections, MAX_CONNECTIONS, "connections")
    bounded(args.rate, MAX_RATE, "rate")
    bounded(args.seconds, MAX_SECONDS, "seconds")
    bounded(args.recordings, MAX_RECORDINGS, "recordings")
    bounded(args.repeats, 5, "repeats")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.connections + 256
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))
    if not args.compare:
        figures = measure(args, args.server, args.recordings)
        print(json.dumps(figures, indent=2) if args.json else summary(figures, args.rate))
        return 0
    configs = {
        f"asyncio, {args.recordings} recordings": ("asyncio", args.recordings),
        "asyncio, 10 recordings": ("asyncio", 10),
        f"threads, {args.recordings} recordings": ("threads", args.recordings),
    }
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    for _ in range(args.repeats):  # the three configurations back to back, per round
        for name, (server, recordings) in configs.items():
            samples[name].append(measure(args, server, recordings))
    runs = {name: median_figures(found) for name, found in samples.items()}
    costs = handler_cost([10, args.recordings])
    small_cost, large_cost = costs[10], costs[args.recordings]
    if args.json:
        print(
            json.dumps(
                {**runs, "handler_cpu_us": {"10": small_cost, str(args.recordings): large_cost}}, indent=2
            )
        )
        return 0
    for name, figures in runs.items():
        print(f"{name}: {summary(figures, args.rate)}")
    ours, small, peer = runs.values()
    cpu = "server_cpu_ms_per_request"
    answered = ours["requests_per_second"] / max(peer["requests_per_second"], 1e-9)
    print(
        f"handler CPU per poll, in-process, no sockets: {small_cost:.1f} us with 10 recordings, "
        f"{large_cost:.1f} us with {args.recordings} ({large_cost / small_cost:.2f}x)"
    )
    print(
        f"ratios: server CPU/request with {args.recordings} vs 10 recordings {ours[cpu] / small[cpu]:.2f}x; "
        f"asyncio vs threads: answered {answered:.2f}x, "
        f"p99 latency {ours['latency_ms']['p99'] / peer['latency_ms']['p99']:.2f}x, "
        f"CPU/request {ours[cpu] / peer[cpu]:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
