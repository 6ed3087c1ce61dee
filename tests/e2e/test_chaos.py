"""Chaos on the real stack (local profile): the API down for a minute, the triggerer and a task process
killed with ``kill -9``, while recordings are under way. Each case counts what users would count: runs
and their tasks' tries, recordings per meeting, recordings stopped (and stop requests sent), and
recordings left running with no task following them; it prints its figures (``-s`` shows them).

The live-session watcher's crash case is in ``test_watcher_chaos.py`` (it runs after the watcher DAG's
own test, which unpauses it)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.checks import RUNNING, running
from tests.e2e.stack import AirflowAPI, EmulatorControl, Stack, StackError, wait_for

pytestmark = pytest.mark.local

FAN_OUT = "rtk_fan_out_recordings"
KILLED_START = "rtk_e2e_killed_start"  # tests/e2e/dags/rtk_e2e_chaos.py
MEETINGS = 20
#: The issue's outage: 30 s of 503, then 30 s of connections closed with no answer.
OUTAGE_SECONDS = 60
#: After the chaos, before counting what nobody follows: time for a failure still to come.
SETTLE_SECONDS = 10
#: From the start's answer to the kill: time for the task to read it (its supervisor is paused).
HAND_OVER_SECONDS = 5


def end_sessions(emulator: EmulatorControl, meetings: list[str]) -> None:
    for meeting_id in meetings:
        emulator.end_session(meeting_id)


def defer_fan_out(api: AirflowAPI, emulator: EmulatorControl, meetings: list[str]) -> str:
    """A fan-out run over ``meetings``, once each of its record tasks waits in the triggerer with one
    recording under way; its run id."""
    api.unpause(FAN_OUT)
    run_id = api.trigger(FAN_OUT, {"meeting_ids": meetings})

    def all_deferred() -> bool:
        states = api.task_instances(FAN_OUT, run_id)
        record = [state for task, state in states.items() if task.startswith("record[")]
        if "failed" in states.values():
            raise AssertionError(f"a task failed before the chaos began: {states}")
        return len(record) == len(meetings) and set(record) == {"deferred"}

    wait_for(f"the {len(meetings)} record tasks to be deferred", all_deferred, 420, every=2)
    return run_id


def recording_figures(
    emulator: EmulatorControl, meetings: list[str], since: float, left_running: int
) -> dict[str, Any]:
    """Recordings per meeting (how many meetings have that many), ``left_running`` (still recording
    with no task following them), how many were stopped through the API, and the stop requests
    (answered or not) since ``since``."""
    recordings = [r for r in emulator.recordings() if r["meeting_id"] in meetings]
    per_meeting = Counter(r["meeting_id"] for r in recordings)
    return {
        "recordings_per_meeting": dict(Counter(per_meeting[m] for m in meetings)),
        "left_running": left_running,
        "stopped_by_api": sum(r["stop_reason"] == "API_CALL" for r in recordings),
        "stop_requests": sum(
            entry["method"] == "PUT" and "/recordings/" in entry["path"] for entry in emulator.requests(since)
        ),
    }


def fan_out_figures(
    api: AirflowAPI,
    emulator: EmulatorControl,
    run_id: str,
    meetings: list[str],
    since: float,
    left_running: int,
) -> dict[str, Any]:
    """What a user counts after a fan-out run: its state, its record tasks' states and tries, and
    :func:`recording_figures`."""
    rows = api.request("GET", f"/dags/{FAN_OUT}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    record = [ti for ti in rows["task_instances"] if ti["task_id"] == "record"]
    return {
        "run": api.dag_run(FAN_OUT, run_id)["state"],
        "record_states": dict(Counter(ti["state"] for ti in record)),
        "record_tries": dict(Counter(ti["try_number"] for ti in record)),
        **recording_figures(emulator, meetings, since, left_running),
    }


def unfollowed(api: AirflowAPI, emulator: EmulatorControl, run_id: str, meetings: list[str]) -> int:
    """Once every record task waits or has failed for good: the recordings still recording whose task
    has failed for good (nobody follows them; they would record until their meeting ends)."""
    time.sleep(SETTLE_SECONDS)  # a trigger ending in error may do so only once its backoff is over

    def settled() -> dict[int, str | None] | None:
        states = api.task_instances(FAN_OUT, run_id)
        record = {index: states.get(f"record[{index}]") for index in range(len(meetings))}
        return record if set(record.values()) <= {"deferred", "failed"} else None

    record = wait_for("every record task to wait, or to have failed for good", settled, 240, every=2)
    failed = {meetings[index] for index, state in record.items() if state == "failed"}
    return sum(r["status"] in RUNNING for r in emulator.recordings() if r["meeting_id"] in failed)


def finish_fan_out(
    case: str, stack: Stack, emulator: EmulatorControl, run_id: str, meetings: list[str], since: float
) -> dict[str, Any]:
    """Count the recordings nobody follows, end every meeting, wait for the run to finish and every
    recording to settle; the figures."""
    assert stack.api is not None
    left_running = unfollowed(stack.api, emulator, run_id, meetings)
    end_sessions(emulator, meetings)
    stack.api.wait_for_run(FAN_OUT, run_id, 420)
    wait_for(
        "every recording to settle",
        lambda: all(
            r["status"] in ("UPLOADED", "ERRORED")
            for r in emulator.recordings()
            if r["meeting_id"] in meetings
        ),
        60,
    )
    figures = fan_out_figures(stack.api, emulator, run_id, meetings, since, left_running)
    print(f"\n[chaos] {case}: {figures}")
    return figures


def every_recording_succeeded(count: int) -> dict[str, Any]:
    """The figures of a fan-out over ``count`` meetings that nothing disturbed."""
    return {
        "run": "success",
        "record_states": {"success": count},
        "record_tries": {1: count},  # no waiting trigger ended in error: no retry was needed
        "recordings_per_meeting": {1: count},
        "left_running": 0,
        "stopped_by_api": 0,
        "stop_requests": 0,
    }


def stay_up(stack: Stack, seconds: float) -> None:
    """Wait ``seconds`` while checking that every service keeps running."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        stack.check_alive()
        time.sleep(min(left, 2.0))


def triggerers(api: AirflowAPI, run_id: str) -> set[int | None]:
    """The triggerers (job ids) that run the fan-out's waits (``None``: a wait no triggerer runs)."""
    rows = api.request("GET", f"/dags/{FAN_OUT}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    return {
        (ti["trigger"] or {}).get("triggerer_id")
        for ti in rows["task_instances"]
        if ti["task_id"] == "record"
    }


def test_twenty_deferred_recordings_outlive_a_minute_of_api_outage(stack: Stack, emulator, live_meetings):
    api = stack.api
    assert api is not None
    meetings = live_meetings(MEETINGS, "outage")
    run_id = defer_fan_out(api, emulator, meetings)

    since = time.time()
    try:
        emulator.add_fault(operation="*", kind="status", status=503, times=None)
        stay_up(stack, OUTAGE_SECONDS / 2)
        emulator.clear_faults()
        emulator.add_fault(operation="*", kind="drop_before", times=None)
        stay_up(stack, OUTAGE_SECONDS / 2)
    finally:
        emulator.clear_faults()
    during = Counter(entry["status"] for entry in emulator.requests(since))
    # the outage reached the waiting triggers: both kinds of failure were served
    assert during[503], during
    assert during["dropped"], during

    figures = finish_fan_out("60 s API outage", stack, emulator, run_id, meetings, since)
    assert figures == every_recording_succeeded(MEETINGS)


def test_twenty_deferred_recordings_outlive_a_triggerer_killed_with_sigkill(
    stack: Stack, emulator, live_meetings
):
    api = stack.api
    assert api is not None
    meetings = live_meetings(MEETINGS, "triggerer killed")
    run_id = defer_fan_out(api, emulator, meetings)
    since = time.time()

    before = triggerers(api, run_id)
    stack.kill("triggerer")  # kill -9: the triggerer and its trigger runner, no clean-up at all
    stack.restart("triggerer")
    wait_for(  # once the dead triggerer's heartbeat is stale (30 s by default)
        "the restarted triggerer to take the waits over",
        lambda: None not in (now := triggerers(api, run_id)) and not now & before,
        240,
        every=2,
    )
    stay_up(stack, SETTLE_SECONDS)  # they keep waiting for meetings that still go on

    figures = finish_fan_out("triggerer kill -9", stack, emulator, run_id, meetings, since)
    assert figures == every_recording_succeeded(MEETINGS)


def _parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def task_process(api: AirflowAPI, dag_id: str, run_id: str, task_id: str) -> tuple[int, int]:
    """The running task's own process (the task runner, ``airflow worker -- <ti id>``) and its
    supervisor (which talks to Airflow's API for it), as pids."""
    ti = api.task_instance(dag_id, run_id, task_id)
    pid = ti["pid"]
    assert pid, ti
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert str(ti["id"]) in command, f"pid {pid} is not the task's process: {command!r}"
    return pid, _parent_pid(pid)


def test_a_task_killed_right_after_its_start_reached_the_api_is_known_as_started_by_its_retry(
    stack: Stack, emulator, live_meetings
):
    """``kill -9`` of the task's process once the service has accepted its start and answered, before
    the task has written what it learnt: the retry must know the recording as *started* (so it stops it
    at its ``timeout``), and the meeting must have one recording.

    To land the kill in that window every time, the emulator holds the start's answer for a few seconds
    and the task's supervisor (the process that relays the task's writes to Airflow) is paused
    (SIGSTOP) until the kill: the task reads the answer, hands its writes to the paused supervisor and
    waits; the kill comes then; the supervisor resumes and relays what the task had handed over."""
    api = stack.api
    assert api is not None
    wait_for(
        f"{KILLED_START} to be parsed", lambda: api.request("GET", f"/dags/{KILLED_START}"), 180, every=2
    )
    api.unpause(KILLED_START)
    (meeting_id,) = live_meetings(1, "killed start")
    emulator.add_fault(operation="startTrackRecordingForAMeeting", kind="delay", seconds=5)
    since = time.time()
    run_id = api.trigger(KILLED_START, {"meeting_id": meeting_id})
    try:
        post = wait_for(
            "the task's start to reach the API",
            lambda: next(
                (
                    e
                    for e in emulator.requests(since)
                    if e["method"] == "POST" and e["path"].endswith("/track")
                ),
                None,
            ),
            240,
            every=0.1,
        )
        task, supervisor = task_process(api, KILLED_START, run_id, "record")
        os.kill(supervisor, signal.SIGSTOP)
        try:
            wait_for(
                "the start's answer",
                lambda: next(e for e in emulator.requests(post["at"]) if e["at"] == post["at"])["status"],
                60,
                every=0.1,
            )
            # generous: the task only has to read the answer and hand its writes to the paused supervisor
            time.sleep(HAND_OVER_SECONDS)
            os.kill(task, signal.SIGKILL)
        finally:
            os.kill(supervisor, signal.SIGCONT)

        run = api.wait_for_run(KILLED_START, run_id, 300)
        ti = api.task_instance(KILLED_START, run_id, "record")
        recordings = emulator.recordings(meeting_id)
        assert len(recordings) == 1, recordings
        recording = recordings[0]
        with contextlib.suppress(StackError):  # counted below: a recording left running fails the case
            wait_for("the recording to stop", lambda: not running(emulator, meeting_id), 30)
        retry_log = (
            api.task_log(KILLED_START, run_id, "record", try_number=2) if ti["try_number"] >= 2 else ""
        )
        figures = {
            "run": run["state"],
            "tries": ti["try_number"],
            **recording_figures(
                emulator, [meeting_id], since, left_running=len(running(emulator, meeting_id))
            ),
        }
        print(f"\n[chaos] task kill -9 after its start reached the API: {figures}")
        known_as = [
            line for line in retry_log.splitlines() if recording["id"] in line and "by this task" in line
        ]
        print("[chaos] the retry knows it as:", *known_as, sep="\n  ")
        assert ti["try_number"] == 2, ti
        assert "got no answer" not in retry_log, (
            f"the kill came before the task had read the start's answer (a machine slower than "
            f"{HAND_OVER_SECONDS} s to read it): the case did not test what it is for\n{retry_log}"
        )
        assert any("started by this task (it may stop it)" in line for line in known_as), retry_log
        assert f"Stopping recording {recording['id']}, which this task started" in retry_log, retry_log
        assert figures == {
            "run": "failed",  # the retry's timeout ran out: it stopped the recording and failed
            "tries": 2,
            "recordings_per_meeting": {1: 1},
            "left_running": 0,
            "stopped_by_api": 1,
            "stop_requests": 1,
        }
    finally:
        emulator.clear_faults()
