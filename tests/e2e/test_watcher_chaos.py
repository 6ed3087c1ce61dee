"""The live-session watcher and a triggerer killed with ``kill -9`` the moment the watcher sees a new
live session (local profile). Runs after ``test_watcher.py`` (once unpaused, the watcher DAG records
every meeting of the app that goes live)."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import EmulatorControl, Stack, wait_for
from tests.e2e.test_chaos import RUNNING
from tests.e2e.test_watcher import DAG_ID, runs_recording

pytestmark = pytest.mark.local


def test_a_session_seen_live_just_before_the_triggerer_is_killed_still_gets_its_run(stack: Stack, emulator):
    api = stack.api
    assert api is not None
    api.unpause(DAG_ID)
    polled = time.time()
    wait_for(
        "the watcher to list live sessions",
        lambda: any(e["path"].endswith("/sessions") for e in emulator.requests(polled)),
        120,
        every=1,
    )
    meeting_id = emulator.create_meeting("live as the triggerer dies")
    log = stack.service("triggerer").log_path
    seen_from = log.stat().st_size

    emulator.start_session(meeting_id)
    try:
        record_through_the_crash(stack, emulator, meeting_id, log, seen_from)
    finally:
        with contextlib.suppress(httpx.HTTPError):  # already ended when the case got that far
            emulator.end_session(meeting_id)


def record_through_the_crash(
    stack: Stack, emulator: EmulatorControl, meeting_id: str, log: Path, seen_from: int
) -> None:
    """Kill the triggerer as the watcher fires for ``meeting_id``'s new session, restart it, and count
    the runs and recordings the session gets."""
    api = stack.api
    assert api is not None

    def fired() -> bool:  # the watcher's line for the new session (it logs it as it fires the event)
        with log.open("rb") as text:
            text.seek(seen_from)
            return meeting_id.encode() in text.read()

    wait_for("the watcher to see the new live session", fired, 120, every=0.02)
    stack.kill("triggerer")  # at once: the event may not be saved yet
    stack.restart("triggerer")

    # the session still gets its run, which records the meeting
    wait_for(
        "the meeting to be recorded",
        lambda: any(r["status"] == "RECORDING" for r in emulator.recordings(meeting_id)),
        300,
        every=2,
    )
    emulator.end_session(meeting_id)
    runs = wait_for("the watcher's run", lambda: runs_recording(api, meeting_id), 120, every=2)
    states = [api.wait_for_run(DAG_ID, run["dag_run_id"], 240)["state"] for run in runs]
    wait_for(
        "the recording to settle",
        lambda: all(r["status"] not in (*RUNNING, "UPLOADING") for r in emulator.recordings(meeting_id)),
        60,
    )
    recordings = emulator.recordings(meeting_id)
    figures = {
        "runs": dict(Counter(states)),
        "recordings": len(recordings),
        "left_running": sum(r["status"] in RUNNING for r in recordings),
    }
    print(f"\n[chaos] triggerer kill -9 as the watcher sees a new live session: {figures}")
    assert set(states) == {"success"}, figures  # at least one run, and each of them succeeded
    assert figures["recordings"] == 1, recordings  # if_active="attach": a second event records nothing new
    assert figures["left_running"] == 0, recordings
