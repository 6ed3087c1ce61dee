"""Benchmark 5: a rate-limited fan-out of recording starts, through the operator and through the SDK.

Both sides start one track recording in each of ``starts`` live meetings of an emulator process whose
rate limit is scaled down (``emulator.set_rate_limit``: :data:`LIMIT` requests per :data:`WINDOW` s,
the documented 1,000 per 50 s shortened), from :data:`WORKERS` concurrent workers (the worker slots a
mapped task would get):

- ours: per meeting, a new ``RealtimeKitStartTrackRecordingOperator`` (what one mapped task instance
  is) and its ``execute`` with the task's context (an XCom-keeping task instance, no task state store),
  ``wait_for_completion=False``: the start path of a mapped task. ``dag.test()`` of the mapped DAG is
  not used: it ran 20 mapped starts in 42 s on this machine (about 2 s per task of scheduling), so 300
  would time the test runner, not the starts;
- the peer: the official ``cloudflare`` SDK's ``start_track_recording`` (the POST alone), one client.

Both retry a 429 after ``Retry-After`` with the same number of attempts. Afterwards the emulator's
recordings give the failed starts and duplicates; its request log gives requests per start and the
limit's floor (accepted requests / allowed rate).

Then what the second request buys: in an emulator that accepts a second start of a recorded meeting
(``--second-start accept``), :data:`RACES` meetings are each started twice at once, by each side, and
the meetings left with more than one running recording are counted.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks._common import run_forked
from benchmarks._emulator_proc import ACCOUNT_ID, APP_ID, EmulatorProcess, connection_env
from benchmarks._figures import Figure, Goal
from benchmarks.emulator_load import TOKEN

SECTION = "5. Rate-limited fan-out of recording starts (emulator in its own process)"
SDK = "cloudflare SDK"
#: The scaled-down limit: the documented 20 requests/s, in a shorter window, doubled.
LIMIT, WINDOW = 100, 2.5
WORKERS = 8
#: Attempts per call on both sides (the SDK's ``max_retries`` is this minus one).
ATTEMPTS = 11
LAYERS = {"default": {"file_name_prefix": "fanout", "media_kind": "audio"}}
#: Meetings started twice at once per side in the accept-mode emulator (``--quick``: a quarter).
RACES = 40


class TaskInstanceXCom:
    """What ``execute`` uses of the running task instance: its try number and XCom pushes."""

    try_number = 1
    map_index = -1
    stats_tags: dict[str, str] = {}

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


#: Our two sides: the default connection, which reads the meeting's active recording after each
#: start (two racing starts converge even if the service accepts both), and one whose extra
#: ``second_start`` declares that the service refuses a second start (the emulator's default), which
#: skips that read.
OURS = "ours"
OURS_REFUSED = "ours, second_start='refused'"
CONNECTIONS = {OURS: "realtimekit_default", OURS_REFUSED: "realtimekit_refused"}


def operator_start(meeting_id: str, conn_id: str = "realtimekit_default") -> None:
    from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

    task_id = f"start_{meeting_id}"
    operator = RealtimeKitStartTrackRecordingOperator(
        task_id=task_id,
        meeting_id=meeting_id,
        layers=LAYERS,
        wait_for_completion=False,
        realtimekit_conn_id=conn_id,
    )
    ti = TaskInstanceXCom(task_id)
    operator.execute({"ti": ti})  # type: ignore[typeddict-item]
    if "recording_id" not in ti.xcom:
        raise RuntimeError(f"{meeting_id}: no recording_id pushed")


def operator_starter(conn_id: str) -> Callable[[str], None]:
    return lambda meeting_id: operator_start(meeting_id, conn_id)


def sdk_starter(emulator: EmulatorProcess) -> tuple[Callable[[str], None], Callable[[], None]]:
    import cloudflare

    client = cloudflare.Cloudflare(api_token=TOKEN, base_url=emulator.base_url, max_retries=ATTEMPTS - 1)

    def start(meeting_id: str) -> None:
        client.realtime_kit.recordings.start_track_recording(
            APP_ID,
            account_id=ACCOUNT_ID,
            meeting_id=meeting_id,
            layers=LAYERS,  # type: ignore[arg-type]
        )

    return start, client.close


def one_side(emulator: EmulatorProcess, start: Callable[[str], None], starts: int) -> dict[str, float]:
    """``starts`` starts under a fresh limit; wall time, requests, 429s, failures, duplicates."""
    meetings = emulator.live_meetings(f"fan-{uuid.uuid4().hex[:8]}", starts)
    emulator.set_rate_limit(LIMIT, WINDOW)  # forgets the requests of the set-up
    failures = 0
    began = time.time()
    with ThreadPoolExecutor(WORKERS) as pool:
        for outcome in [pool.submit(start, meeting) for meeting in meetings]:
            if outcome.exception() is not None:
                failures += 1
    ended = time.time()
    emulator.set_rate_limit(None)
    time.sleep(0.3)  # the request log is read asynchronously
    requests, throttled = emulator.requests_between(began, ended + 0.2)
    wanted = set(meetings)
    per_meeting = Counter(rec["meeting_id"] for rec in emulator.recordings() if rec["meeting_id"] in wanted)
    accepted = requests - throttled
    floor = accepted / (LIMIT / WINDOW)
    return {
        "seconds": ended - began,
        "requests_per_start": accepted / starts,
        "sent_per_start": requests / starts,
        "throttled": throttled,
        "floor": floor,
        "over_floor": (ended - began) / floor if floor else float("nan"),
        "failed": failures + sum(1 for meeting in meetings if per_meeting[meeting] == 0),
        "duplicates": sum(count - 1 for count in per_meeting.values() if count > 1),
    }


def race_side(emulator: EmulatorProcess, start: Callable[[str], None], races: int) -> dict[str, float]:
    """Each of ``races`` live meetings started twice at once: meetings left with two running recordings."""
    meetings = emulator.live_meetings(f"race-{uuid.uuid4().hex[:8]}", races)
    with ThreadPoolExecutor(WORKERS) as pool:
        for outcome in [pool.submit(start, meeting) for meeting in meetings for _ in (1, 2)]:
            outcome.exception()  # a failed start is fine here: only what keeps running counts
    wanted = set(meetings)
    running = Counter(
        rec["meeting_id"]
        for rec in emulator.recordings()
        if rec["meeting_id"] in wanted and rec["status"] in ("INVOKED", "RECORDING")
    )
    return {"racing_duplicates": sum(1 for count in running.values() if count > 1)}


def measure_races(races: int) -> dict[str, list[dict[str, float]]]:
    """Racing pairs on every side against one emulator process that accepts a second start."""
    samples: dict[str, list[dict[str, float]]] = {}
    with (
        EmulatorProcess("--second-start", "accept") as emulator,
        connection_env(emulator.connection_json(max_attempts=ATTEMPTS)),
        connection_env(
            emulator.connection_json(max_attempts=ATTEMPTS, second_start="refused"),
            "AIRFLOW_CONN_REALTIMEKIT_REFUSED",
        ),
    ):
        sdk_start, sdk_close = sdk_starter(emulator)
        sides = [(side, operator_starter(conn_id)) for side, conn_id in CONNECTIONS.items()]
        try:
            for side, start in [*sides, (SDK, sdk_start)]:
                samples[side] = [race_side(emulator, start, races)]
        finally:
            sdk_close()
    return samples


def measure(starts: int, rounds: int) -> dict[str, list[dict[str, float]]]:
    """Rounds of every side against one emulator process, rotating who goes first."""
    samples: dict[str, list[dict[str, float]]] = {OURS: [], OURS_REFUSED: [], SDK: []}
    with (
        EmulatorProcess() as emulator,
        connection_env(emulator.connection_json(max_attempts=ATTEMPTS)),
        connection_env(
            emulator.connection_json(max_attempts=ATTEMPTS, second_start="refused"),
            "AIRFLOW_CONN_REALTIMEKIT_REFUSED",
        ),
    ):
        sdk_start, sdk_close = sdk_starter(emulator)
        sides = [(side, operator_starter(conn_id)) for side, conn_id in CONNECTIONS.items()]
        sides.append((SDK, sdk_start))
        try:
            for _, start in sides:  # imports and first connections, not timed
                start(emulator.live_meetings(f"warm-{uuid.uuid4().hex[:8]}", 1)[0])
            for round_no in range(rounds):
                shift = round_no % len(sides)
                for side, start in sides[shift:] + sides[:shift]:
                    samples[side].append(one_side(emulator, start, starts))
        finally:
            sdk_close()
    return samples


def run(*, quick: bool) -> tuple[list[Figure], list[str], list[str]]:
    """The figures of benchmark 5, context lines and findings."""
    starts, rounds = (30, 1) if quick else (300, 3)
    # In a forked child whose console is discarded: every start logs a line through Airflow's logging.
    samples: dict[str, list[dict[str, float]]] = run_forked(measure, starts, rounds)
    races = RACES // 4 if quick else RACES
    raced: dict[str, list[dict[str, float]]] = run_forked(measure_races, races)
    time_goal = Goal(f"<= 1.2x {SDK}", 1.2, SDK)

    def figures_of(side: str) -> list[Figure]:
        def figure(name: str, unit: str, key: str, goal: Goal | None = None) -> Figure:
            return Figure(
                SECTION,
                f"{side}: {name}",
                unit,
                [sample[key] for sample in samples[side]],
                {SDK: [sample[key] for sample in samples[SDK]]},
                goal,
            )

        return [
            figure(f"time for {starts} starts", "s", "seconds", time_goal),
            figure("accepted requests per start", "", "requests_per_start"),
            figure("requests sent per start (with 429s)", "", "sent_per_start"),
            figure("requests answered 429", "", "throttled"),
            figure("the limit's floor (accepted requests / rate)", "s", "floor"),
            figure("time / floor", "", "over_floor"),
            figure("failed starts", "", "failed", Goal("0", 0.0)),
            figure("duplicate recordings", "", "duplicates", Goal("0", 0.0)),
        ]

    def race_figure(side: str, goal: Goal | None) -> Figure:
        return Figure(
            SECTION,
            f"{side}: {races} meetings started twice at once (accept mode): recorded twice",
            "",
            [sample["racing_duplicates"] for sample in raced[side]],
            {SDK: [sample["racing_duplicates"] for sample in raced[SDK]]},
            goal,
        )

    figures = figures_of(OURS) + figures_of(OURS_REFUSED)
    figures += [race_figure(OURS, Goal("0", 0.0)), race_figure(OURS_REFUSED, None)]
    context = [
        f"5: {starts} starts per side and round, {rounds} round(s) rotating who goes first, "
        f"{WORKERS} concurrent workers, rate limit {LIMIT} requests per {WINDOW:g} s "
        f"({LIMIT / WINDOW:g}/s), {ATTEMPTS} attempts per call on every side; ours is the operator's "
        "execute per mapped task (dag.test() of 300 mapped tasks is too slow, see README), in threads of "
        "one process (a real fan-out runs each task in its own worker process); "
        f"'{OURS}' uses the default connection, '{OURS_REFUSED}' one whose extra declares that the "
        "service refuses a second start; the race lines run in an emulator that accepts a second start "
        "(there the 'refused' declaration is false: it shows what skipping the read costs)",
    ]
    findings = []
    sdk_rps = statistics.median([s["requests_per_start"] for s in samples[SDK]])
    for side in (OURS, OURS_REFUSED):
        time_figure = next(f for f in figures if f.name.startswith(f"{side}: time for"))
        ratio = time_figure.median / time_figure.peer_medians()[SDK]
        side_rps = statistics.median([s["requests_per_start"] for s in samples[side]])
        if ratio > 1.2:
            findings.append(
                f"Fan-out ({side}) took {ratio:.2f}x the SDK's time (goal <= 1.2x): under a rate limit "
                f"the time follows the requests, and a start cost {side_rps:.2f} accepted requests "
                f"against the SDK's {sdk_rps:.2f}"
                + (
                    " (the POST, then the read of the meeting's active recording that makes two racing "
                    "starts converge when the service may accept both)."
                    if side == OURS
                    else "."
                )
            )
    return figures, context, findings
