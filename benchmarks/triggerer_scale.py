"""Benchmark 4: N deferred recordings in one triggerer event loop, against two peers in the same run.

For each N, one emulator process (:class:`~benchmarks._emulator_proc.EmulatorProcess`, its CPU not
counted) gets N live meetings being recorded per kind of waiter; a fresh interpreter
(:mod:`benchmarks.triggerer_worker`) then follows them as a triggerer would: our
``RealtimeKitRecordingTrigger``, ``HttpEventTrigger`` (``apache-airflow-providers-http``), or N
coroutines sharing one ``httpx.AsyncClient``. After the running window this process ends the
meetings' sessions at known times, spread over one poll interval (the recordings become ``UPLOADED``
at once), and each waiter's event time gives its time-to-notice.

``python -m benchmarks.triggerer_scale [--n 100,1000] [--kinds rtk,httpx] [--quick]`` runs this
section alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

import httpx

from benchmarks._common import read_result
from benchmarks._emulator_proc import EmulatorProcess, raise_open_files_limit
from benchmarks._figures import Figure, Goal, goal_summary, print_figures
from benchmarks.emulator_load import APP, TOKEN, percentile
from benchmarks.triggerer_worker import ENDS_MARKER, NOTICE_MARKER

ROOT = Path(__file__).resolve().parent.parent
OURS = "rtk"
#: Peer kinds and the names they have in the table.
PEERS = {"http": "HttpEventTrigger", "httpx": "shared httpx client"}
SHARED = PEERS["httpx"]
#: Threads ending sessions, so thousands of ends fit in one poll interval.
ENDERS = 4


class Plan:
    """How long each phase lasts (seconds)."""

    def __init__(self, *, quick: bool) -> None:
        self.poll_interval = 1.0 if quick else 5.0
        self.run_seconds = 2.0 if quick else 10.0
        self.spread = self.poll_interval  # ends spread over one poll interval
        #: after a session's end: 2 poll intervals (the goal) and a second
        self.notice_tail = 2 * self.poll_interval + 1.0
        #: after the notice mark: the spread, then the tail for the last session (longer when the
        #: ends run behind their schedule: the worker waits the tail after the last real end)
        self.notice_seconds = 0.5 + self.spread + self.notice_tail
        #: a worker that takes longer is killed (its run reported as capped)
        self.cap_seconds = 100.0 if quick else 110.0


def http_connection(emulator: EmulatorProcess) -> str:
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": emulator.port, "schema": "http"})


def end_sessions(emulator: EmulatorProcess, meetings: list[str], start: float, spread: float) -> list[float]:
    """End every meeting's session, the i-th at ``start + spread * i / len``; when each took effect."""
    ended = [float("nan")] * len(meetings)

    def ender(first: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{emulator.port}", timeout=30) as client:
            for index in range(first, len(meetings), ENDERS):
                due = start + spread * index / len(meetings)
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                sent = time.time()
                client.delete(f"/_emulator/meetings/{meetings[index]}/session").raise_for_status()
                ended[index] = (sent + time.time()) / 2

    threads = [threading.Thread(target=ender, args=(first,)) for first in range(ENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ended


def run_worker(emulator: EmulatorProcess, kind: str, n: int, plan: Plan) -> dict[str, Any]:
    """One kind of waiter following ``n`` new recordings; the worker's figures plus the notice times."""
    pairs = emulator.recording_meetings(f"{kind}-{n}-{uuid.uuid4().hex[:6]}", n)
    meetings = [meeting for meeting, _ in pairs]
    recordings = [recording for _, recording in pairs]
    config = {
        "kind": kind,
        "recordings": recordings,
        "poll_interval": plan.poll_interval,
        "run_seconds": plan.run_seconds,
        "notice_seconds": plan.notice_seconds,
        "notice_tail": plan.notice_tail,
        "app_path": APP,
        "app_url": emulator.app_url,
        "token": TOKEN,
    }
    env = {
        **os.environ,
        "AIRFLOW_CONN_REALTIMEKIT_DEFAULT": emulator.connection_json(),
        "AIRFLOW_CONN_RTK_BENCH_HTTP": http_connection(emulator),
    }
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.triggerer_worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        watchdog = threading.Timer(plan.cap_seconds, process.kill)
        watchdog.start()
        began = time.monotonic()
        ended: list[float] = []
        late: list[float] = []
        lines: list[str] = []
        noticed = threading.Event()
        output_done = threading.Event()

        def read_output(stdout: IO[str]) -> None:
            """Keep draining the worker's output (its triggers' log lines too) while sessions are
            ended: a full pipe would block the worker's loop in a log write."""
            for line in stdout:
                if line.startswith(NOTICE_MARKER) and not noticed.is_set():
                    noticed.set()
                else:
                    lines.append(line)
            output_done.set()
            noticed.set()

        reader = threading.Thread(target=read_output, args=(process.stdout,), daemon=True)
        try:
            process.stdin.write(json.dumps(config) + "\n")
            process.stdin.flush()
            reader.start()
            noticed.wait()
            if not output_done.is_set():
                start = time.time() + 0.5
                ended = end_sessions(emulator, meetings, start, plan.spread)
                late = [end - (start + plan.spread * index / n) for index, end in enumerate(ended)]
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.write(f"{ENDS_MARKER} {max(ended)}\n")
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            reader.join()
            process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0:
            capped = time.monotonic() - began >= plan.cap_seconds
            errors.seek(0)
            tail = errors.read()[-3000:]
            if capped:
                return {"kind": kind, "n": n, "capped": plan.cap_seconds, "stderr": tail}
            raise RuntimeError(f"triggerer_worker {kind} N={n} failed ({process.returncode}):\n{tail}")
    result: dict[str, Any] = read_result("".join(lines))
    fired = result.pop("fired")
    # a waiter that never fired counts as never noticing (percentiles over all N, not over the fired)
    result["notice"] = [
        fired[recording] - end if recording in fired else float("inf")
        for recording, end in zip(recordings, ended, strict=True)
    ]
    result["missed"] = n - len(fired)
    #: how far behind their schedule the session ends took effect (the emulator serving the polls too)
    result["end_late"] = [percentile(late, 0.5), percentile(late, 0.95), max(late, default=float("nan"))]
    result["not_success"] = sum(status != "success" for status in result.pop("statuses").values())
    window = result["window"]
    result["requests"], result["throttled"] = emulator.requests_between(window[0], window[1])
    return result


def figures_of(n: int, runs: dict[str, dict[str, Any]], plan: Plan) -> tuple[list[Figure], list[str]]:
    """The table rows of one N (ours against each peer that ran) and notes on capped runs."""
    section = f"4. Triggerer scale, N={n:,} (one event loop, poll every {plan.poll_interval:g} s)"
    notes: list[str] = []

    def values(kind: str, key: str) -> list[float]:
        run = runs.get(kind)
        if run is None or "capped" in run:
            return []
        return [figure_value(run, key, n, plan)]

    def figure(name: str, unit: str, key: str, goal: Goal | None = None) -> Figure:
        peers = {label: values(kind, key) for kind, label in PEERS.items() if kind in runs}
        ours = values(OURS, key) or [float("nan")]
        return Figure(section, name, unit, ours, peers, goal)

    for kind, run in runs.items():
        if "capped" in run:
            notes.append(f"{kind} at N={n}: killed after {run['capped']:.0f} s (cap); no figures")
    interval = plan.poll_interval
    big = n >= 5000
    rows = [
        figure("extra memory per waiter", "KB", "rss_per", Goal(f"<= 2x {SHARED}", 2.0, SHARED)),
        figure("extra memory, all waiters", "MB", "rss_total", Goal("< 100 MB", 100.0) if big else None),
        figure("peak RSS of the process", "MB", "peak"),
        figure("TCP sockets held (max)", "", "sockets", Goal("<= 64", 64.0)),
        figure(f"CPU per waiter per {interval:g} s poll", "ms", "cpu_per_poll"),
        figure("API requests per second", "req/s", "rps"),
        figure("longest loop stall, starting", "s", "stall_start", Goal("<= 0.25 s", 0.25)),
        figure("longest loop stall, running", "s", "stall_running", Goal("<= 0.25 s", 0.25)),
        figure("longest loop stall, cancelling the unfired", "s", "stall_cancel", Goal("<= 0.25 s", 0.25)),
        figure("longest GC pause, running", "s", "gc_running"),
        figure("time to notice, p50", "s", "notice_p50"),
        figure("time to notice, p95", "s", "notice_p95", Goal(f"<= {2 * interval:g} s", 2 * interval)),
        figure("time to notice, max", "s", "notice_max"),
        figure("waiters that never fired", "", "missed", Goal("0", 0.0)),
    ]
    for kind, run in runs.items():
        if "capped" not in run and (run["failure_count"] or run["not_success"]):
            notes.append(
                f"{kind} at N={n}: {run['failure_count']} raised, {run['not_success']} fired a non-success "
                f"event; first: {run['failures'][:1]}"
            )
        if "capped" not in run and "end_late" in run:
            p50, p95, worst = run["end_late"]
            notes.append(
                f"{kind} at N={n}: session ends took effect {p50:.2f} s (p50), {p95:.2f} s (p95), "
                f"{worst:.2f} s (max) behind their schedule (time to notice counts from the actual end)"
            )
        if "capped" not in run and run["throttled"]:
            notes.append(f"{kind} at N={n}: {run['throttled']} requests answered 429 in the window")
    return rows, notes


def figure_value(run: dict[str, Any], key: str, n: int, plan: Plan) -> float:
    extra = max(run["running_rss"] - run["baseline_rss"], 0)
    window = run["window"][1] - run["window"][0]
    polls = n * window / plan.poll_interval
    notice = run["notice"]
    value: float
    if key == "rss_per":
        value = extra / n / 1024
    elif key == "rss_total":
        value = extra / 2**20
    elif key == "peak":
        value = run["peak_rss"] / 2**20
    elif key == "sockets":
        value = max(run["sockets"]) - run["baseline_sockets"]
    elif key == "cpu_per_poll":
        value = run["window_cpu"] / polls * 1e3
    elif key == "rps":
        value = run["requests"] / window
    elif key == "stall_start":
        value = run["stall"].get("start", 0.0)
    elif key == "stall_running":
        value = run["stall"].get("running", 0.0)
    elif key == "stall_cancel":
        value = run["stall"].get("cancel", 0.0)
    elif key == "gc_running":
        value = run.get("gc_pause", {}).get("running", 0.0)
    elif key.startswith("notice_"):
        share = {"notice_p50": 0.5, "notice_p95": 0.95, "notice_max": 1.0}[key]
        value = max(notice) if share == 1.0 and notice else percentile(notice, share)
    elif key == "missed":
        value = run["missed"]
    else:
        raise KeyError(key)
    return value


def run(
    *, quick: bool, sizes: list[int] | None = None, kinds: list[str] | None = None
) -> tuple[list[Figure], list[str], list[str]]:
    """The figures of benchmark 4, context lines and findings."""
    plan = Plan(quick=quick)
    sizes = sizes or ([50] if quick else [100, 1_000, 5_000])
    kinds = kinds or [OURS, *PEERS]
    if "http" in kinds:
        try:
            import airflow.providers.http  # noqa: F401
        except ImportError:
            kinds = [kind for kind in kinds if kind != "http"]
    raise_open_files_limit(max(sizes) * 3 + 1024)
    figures: list[Figure] = []
    context: list[str] = []
    findings: list[str] = []
    all_runs: dict[int, dict[str, dict[str, Any]]] = {}
    for index, n in enumerate(sizes):
        order = kinds if index % 2 == 0 else kinds[::-1]
        runs: dict[str, dict[str, Any]] = {}
        with EmulatorProcess() as emulator:
            for kind in order:
                print(f"  4: N={n:,} {kind}...", flush=True)
                runs[kind] = run_worker(emulator, kind, n, plan)
            emulator_cpu = emulator.cpu_seconds()
        all_runs[n] = runs
        rows, notes = figures_of(n, runs, plan)
        figures += rows
        context += notes
        context.append(f"4: N={n:,}: the emulator process used {emulator_cpu:.1f} s CPU in all (not counted)")
    context.append(
        f"4: phases per run: start (creations, then {plan.poll_interval:g} s), "
        f"running ({plan.run_seconds:g} s: CPU, memory at its end, sockets sampled 3 times), "
        f"notice (sessions ended over {plan.spread:g} s, waited until all fired or "
        f"{plan.notice_seconds:g} s and {plan.notice_tail:g} s after the last real end); "
        "one run per kind and N (n=1), kinds in alternating order; "
        "memory is RSS over the worker's own baseline after its imports; each waiter runs in a greenback "
        f"portal as the triggerer's run_trigger does; kinds run: {', '.join(kinds)}"
    )
    findings += explain(all_runs, plan)
    return figures, context, findings


def explain(all_runs: dict[int, dict[str, dict[str, Any]]], plan: Plan) -> list[str]:
    """Findings where a goal of issue 12 is missed, with the figures behind them."""
    findings = []
    for n, runs in all_runs.items():
        ours = runs.get(OURS)
        if ours is None or "capped" in ours:
            if ours is not None:
                findings.append(
                    f"At N={n:,} our triggers did not finish within {ours['capped']:.0f} s (cap)."
                )
            continue
        sockets = max(ours["sockets"]) - ours["baseline_sockets"]
        if sockets > 64:
            findings.append(
                f"At N={n:,} our triggers held {sockets} TCP sockets (goal <= 64): each trigger's hook has a "
                "client (and socket) of its own, instead of one bounded pool per loop and connection."
            )
        stall = max(ours["stall"].get("start", 0.0), ours["stall"].get("running", 0.0))
        if ours["stall"].get("cancel", 0.0) > 0.25:
            findings.append(
                f"At N={n:,} cancelling the {ours['unfinished']:,} triggers that had not fired stalled the "
                f"loop {ours['stall']['cancel']:.2f} s (a triggerer cancels triggers of cleared or killed "
                "tasks, and all of them when it stops)."
            )
        if stall > 0.25:
            phase = (
                "running" if ours["stall"].get("running", 0.0) >= ours["stall"].get("start", 0.0) else "start"
            )
            used = ours.get("stall_cpu", {}).get(phase, float("nan"))
            cause = "the machine ran other processes" if used < stall / 2 else "the loop itself was busy"
            findings.append(
                f"At N={n:,} the loop stalled up to {stall:.2f} s while {phase} (goal <= 0.25 s), using "
                f"{used:.2f} s of the worker's CPU in that stall ({cause}); "
                f"{ours['start_cpu']:.1f} s of CPU went into starting {n:,} triggers and their first polls "
                f"({ours['start_cpu'] / n * 1e3:.1f} ms each), on the loop itself."
            )
        rps = ours["requests"] / (ours["window"][1] - ours["window"][0])
        if n >= 1000:
            findings.append(
                f"At N={n:,} our triggers sent {rps:.0f} API requests/s; the recording API allows 1,000 per "
                f"50 s (20/s), so {n:,} recordings at a {plan.poll_interval:g} s interval need "
                f"{n / plan.poll_interval / 20:.0f}x the documented limit unless polls are coalesced."
            )
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.triggerer_scale", description=__doc__)
    parser.add_argument("--n", default=None, help="comma-separated N (default 100,1000,5000; quick: 50)")
    parser.add_argument("--kinds", default=None, help="comma-separated: rtk,http,httpx (default all)")
    parser.add_argument("--quick", action="store_true", help="short phases (1 s polls): checks that it runs")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.n.split(",")] if args.n else None
    if sizes and not all(0 < size <= 10_000 for size in sizes):
        raise SystemExit("--n: each N must be between 1 and 10000")
    kinds = args.kinds.split(",") if args.kinds else None
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="rtk-bench-home-"))
    figures, context, findings = run(quick=args.quick, sizes=sizes, kinds=kinds)
    print_figures(figures)
    for line in [*context, *goal_summary(figures), *findings]:
        print(f"  - {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
