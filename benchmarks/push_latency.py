"""Benchmark 7 (issue 20, item 6): from a delivered ``meeting.started`` to a queued DAG run, push
against the polling watcher at its default interval, on the real stack; and the API requests each
spends watching.

The stack is the e2e suite's (``tests.e2e.stack``: emulator, api-server with the webhook receiver,
scheduler, dag-processor, triggerer; LocalExecutor, SQLite), started once, with the two DAGs of
``push_dags/`` added. The emulator delivers ``meeting.started`` itself, signed, to the webhook
registered for the api-server's receiver when a session goes live.

Two phases, one stack:

1. *push alone*: only the push DAG is unpaused; N sessions go live, one every ``spacing`` s. Every
   API request the emulator logs in this window is the push path's (nothing else watches).
2. *push and poll*: the poll DAG is unpaused too (its watcher at the default ``poll_interval``,
   30 s); once it has polled, N more sessions go live. The requests of this window are the poller's
   (the push-only watcher makes none, phase 1 shows it).

For every session: the emulator's delivery log gives when the delivered attempt of its
``meeting.started`` was sent; each DAG's runs (``GET /dags/{id}/dagRuns``) their ``queued_at``, and
their upstream asset events the session ids. Latency = ``queued_at`` - sent (one clock: one machine).
Push latencies are pooled over both phases; poll latencies are phase 2's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks._figures import Figure, Goal

SECTION = "7. Push against poll: meeting.started to a queued run (real stack)"
DAGS = Path(__file__).resolve().parent / "push_dags"
PUSH_DAG_ID = "rtk_bench_push"
POLL_DAG_ID = "rtk_bench_poll"
POLL_CONN_ID = "realtimekit_bench_poll"
DEFAULT_POLL_INTERVAL = 30.0


def _stack_class() -> Any:
    """The e2e stack with the benchmark's DAGs and the poll connection added (imported late: the
    benchmarks' ``AIRFLOW_HOME`` is set before anything imports Airflow)."""
    from tests.e2e.stack import Stack

    class BenchStack(Stack):
        def _configure(self, connection: str, database_url: str, broker_url: str | None) -> None:
            super()._configure(connection, database_url, broker_url)
            for source in DAGS.glob("*.py"):
                shutil.copy(source, self.home / "dags" / source.name)
            self.env[f"AIRFLOW_CONN_{POLL_CONN_ID.upper()}"] = connection

    return BenchStack


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``nan`` when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(-(-fraction * len(ordered) // 1)) - 1))]


def _sent_times(emulator: Any) -> dict[str, float]:
    """session id -> when the delivered attempt of its ``meeting.started`` was sent (epoch s)."""
    log = emulator.http.get("/webhooks/deliveries", params={"event": "meeting.started"}).json()["data"]
    sent: dict[str, float] = {}
    for delivery in log:
        if delivery["outcome"] != "delivered":
            continue
        session = json.loads(delivery["body"])["meeting"]["sessionId"]
        ok = [a for a in delivery["attempts"] if a["status"] is not None and 200 <= a["status"] < 300]
        if ok:
            sent.setdefault(session, ok[0]["at"])
    return sent


def _queued_times(api: Any, dag_id: str, seen: dict[str, dict[str, float]]) -> dict[str, float]:
    """session id -> ``queued_at`` (epoch s) of the asset-triggered run its event started."""
    found = seen.setdefault(dag_id, {})
    runs = api.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 200})["dag_runs"]
    for run in runs:
        # a queued run's upstream events fail to serialise in Airflow 3.3.2 (HTTP 500: the model wants
        # the runs' start_date): read them once the run has started (queued_at stays what it was)
        if run["run_type"] != "asset_triggered" or not run.get("queued_at") or not run.get("start_date"):
            continue
        if run["dag_run_id"] in found:
            continue
        events = api.request("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
        queued = datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00")).timestamp()
        found[run["dag_run_id"]] = {}
        for event in events["asset_events"]:
            payload = (event.get("extra") or {}).get("payload") or {}
            if payload.get("session_id"):
                found[run["dag_run_id"]][payload["session_id"]] = queued
    return {session: at for by_session in found.values() for session, at in by_session.items()}


def _event_times(api: Any) -> dict[str, dict[str, float]]:
    """asset name -> session id -> when its asset event was recorded (epoch s; the first one)."""
    events = api.request("GET", "/assets/events", params={"limit": 1000})["asset_events"]
    found: dict[str, dict[str, float]] = {}
    for event in events:
        session = ((event.get("extra") or {}).get("payload") or {}).get("session_id")
        if session:
            at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
            by_session = found.setdefault(event["name"], {})
            by_session[session] = min(at, by_session.get(session, at))
    return found


def _start_sessions(emulator: Any, count: int, spacing: float, title: str) -> dict[str, str]:
    """``count`` new meetings go live, one every ``spacing`` s; session id -> meeting id."""
    meetings = [emulator.create_meeting(f"{title} {n}") for n in range(count)]
    sessions = {}
    next_at = time.monotonic()
    for meeting_id in meetings:
        time.sleep(max(0.0, next_at - time.monotonic()))
        sessions[emulator.start_session(meeting_id)] = meeting_id
        next_at += spacing
    return sessions


def _wait_runs(
    api: Any, dag_id: str, sessions: set[str], seen: dict[str, dict[str, float]], timeout: float
) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        queued = _queued_times(api, dag_id, seen)
        if sessions <= set(queued) or time.monotonic() > deadline:
            return {s: queued[s] for s in sessions if s in queued}
        time.sleep(1.0)


def _requests_in(emulator: Any, start: float, end: float) -> list[dict[str, Any]]:
    return [r for r in emulator.requests(start) if r["at"] <= end]


def _latencies(sent: dict[str, float], queued: dict[str, float], sessions: set[str]) -> list[float]:
    """Seconds from sent to queued; ``inf`` for a session that got no run (or no delivery)."""
    return [queued[s] - sent[s] if s in queued and s in sent else float("inf") for s in sorted(sessions)]


def run(
    quick: bool = False, sessions: int = 20, spacing: float = 2.0
) -> tuple[list[Figure], list[str], list[str]]:
    from tests.e2e.stack import EMULATOR_ACCOUNT, EMULATOR_APP, EMULATOR_TOKEN, running_stack, wait_for

    count = 3 if quick else sessions
    context: list[str] = []
    findings: list[str] = []
    loads = {"before": os.getloadavg()}
    home = Path(tempfile.mkdtemp(prefix="rtk-bench-push-"))
    started = time.monotonic()
    try:
        with running_stack("local", home / "airflow-home", stack_class=_stack_class()) as stack:
            up = time.monotonic() - started
            api, emulator = stack.api, stack.emulator
            for dag_id in (PUSH_DAG_ID, POLL_DAG_ID):
                wait_for(f"{dag_id} to be parsed", lambda d=dag_id: api.request("GET", f"/dags/{d}"), 120, 2)
            receiver = f"{stack.origin}/realtimekit/webhooks/realtimekit_default"
            registered = httpx.post(
                f"{emulator.origin}/client/v4/accounts/{EMULATOR_ACCOUNT}/realtime/kit/{EMULATOR_APP}/webhooks",
                json={"name": "airflow", "url": receiver, "events": ["meeting.started"], "enabled": True},
                headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
                timeout=10,
            )
            registered.raise_for_status()
            seen: dict[str, dict[str, float]] = {}

            # warm-up: the push path has a target once the scheduler has registered the watcher
            api.unpause(PUSH_DAG_ID)
            deadline = time.monotonic() + 180
            warm: dict[str, str] = {}
            while not _queued_times(api, PUSH_DAG_ID, seen).keys() & warm.keys():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no push run within 180 s; logs:\n{stack.logs()}")
                warm.update(_start_sessions(emulator, 1, 0, "warm-up"))
                time.sleep(5)
            _end_all(emulator, warm)

            # phase 1: push alone
            loads["phase 1 start"] = os.getloadavg()
            t1 = time.time()
            live = _start_sessions(emulator, count, spacing, "push alone")
            phase1 = set(live)
            push1 = _wait_runs(api, PUSH_DAG_ID, phase1, seen, 60)
            e1 = time.time()
            push_requests = _requests_in(emulator, t1, e1)
            loads["phase 1 end"] = os.getloadavg()
            _end_all(emulator, live)

            # phase 2: push and poll
            api.unpause(POLL_DAG_ID)
            polling_since = time.time()
            wait_for(
                "the poll watcher's first request",
                lambda: any("/sessions" in r["path"] for r in emulator.requests(polling_since)),
                180,
                1,
            )
            loads["phase 2 start"] = os.getloadavg()
            t2 = time.time()
            live = _start_sessions(emulator, count, spacing, "push and poll")
            phase2 = set(live)
            push2 = _wait_runs(api, PUSH_DAG_ID, phase2, seen, 60)
            poll2 = _wait_runs(api, POLL_DAG_ID, phase2, seen, 2 * DEFAULT_POLL_INTERVAL + 30)
            e2 = time.time()
            poll_requests = _requests_in(emulator, t2, e2)
            loads["phase 2 end"] = os.getloadavg()
            sent = _sent_times(emulator)
            recorded = _event_times(api)
            _end_all(emulator, live)
            retried = sum(
                1
                for d in emulator.http.get(
                    "/webhooks/deliveries", params={"event": "meeting.started"}
                ).json()["data"]
                if len(d["attempts"]) > 1
            )
    finally:
        if os.environ.get("RTK_BENCH_KEEP_HOME"):  # the services' logs and database, to look into
            print(f"section 7's stack home kept: {home}", flush=True)
        else:
            shutil.rmtree(home, ignore_errors=True)

    push = _latencies(sent, {**push1, **push2}, phase1 | phase2)
    push_alone = _latencies(sent, push1, phase1)
    poll = _latencies(sent, poll2, phase2)
    push_events = _latencies(sent, recorded.get("rtk_bench_pushed_sessions", {}), phase1 | phase2)
    poll_events = _latencies(sent, recorded.get("rtk_bench_polled_sessions", {}), phase2)
    push_rate = len(push_requests) / (e1 - t1) * 3600
    poll_rate = len(poll_requests) / (e2 - t2) * 3600
    peer = f"poll watcher ({DEFAULT_POLL_INTERVAL:.0f} s)"
    never = float("inf")

    def pair(name: str, unit: str, ours: float, poll_value: float, goal: Goal | None = None) -> Figure:
        return Figure(SECTION, name, unit, [ours], {peer: [poll_value]}, goal)

    figures = [
        pair("delivered to queued, p50", "s", percentile(push, 0.5), percentile(poll, 0.5)),
        pair(
            "delivered to queued, p95",
            "s",
            percentile(push, 0.95),
            percentile(poll, 0.95),
            Goal("< 2 s", 2.0),
        ),
        pair("delivered to queued, max", "s", max(push), max(poll)),
        pair(
            "delivered to asset event, p50", "s", percentile(push_events, 0.5), percentile(poll_events, 0.5)
        ),
        pair(
            "delivered to asset event, p95", "s", percentile(push_events, 0.95), percentile(poll_events, 0.95)
        ),
        pair("API requests per hour spent watching", "req/h", push_rate, poll_rate, Goal("0", 0.0)),
        pair(
            "sessions without a run (within the wait)",
            "",
            float(push.count(never)),
            float(poll.count(never)),
            Goal("0", 0.0),
        ),
    ]
    context.append(
        f"7: {count} sessions a phase, one every {spacing:g} s; push n={len(push)} (both phases; push alone "
        f"p50 {percentile(push_alone, 0.5):.2f} s, p95 {percentile(push_alone, 0.95):.2f} s), "
        f"poll n={len(poll)}; "
        f"stack up in {up:.0f} s; meeting.started deliveries retried: {retried}"
    )
    context.append(
        f"7: requests: push alone {len(push_requests)} in {e1 - t1:.0f} s; push and poll "
        f"{len(poll_requests)} in {e2 - t2:.0f} s "
        f"({', '.join(sorted({_endpoint(r) for r in poll_requests})) or '-'})"
    )
    context.append(
        "7: load average (1, 5, 15 min): "
        + "; ".join(f"{when} {a:.2f} {b:.2f} {c:.2f}" for when, (a, b, c) in loads.items())
    )
    return figures, context, findings


def _endpoint(request: dict[str, Any]) -> str:
    return f"{request['method']} {request['path'].split('/kit/')[-1]}"


def _end_all(emulator: Any, live: dict[str, str]) -> None:
    """End the sessions started (so the poller, when it starts, finds none live)."""
    for meeting_id in live.values():
        with contextlib.suppress(httpx.HTTPError):
            emulator.end_session(meeting_id)


if __name__ == "__main__":
    import argparse

    from benchmarks._figures import print_figures, print_lines

    parser = argparse.ArgumentParser(prog="python -m benchmarks.push_latency", description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    found, lines, notes = run(quick=options.quick, sessions=options.sessions, spacing=options.spacing)
    print_figures(found)
    print_lines("Context", lines)
    print_lines("Findings", notes)
