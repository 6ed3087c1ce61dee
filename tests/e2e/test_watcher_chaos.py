"""The live-session watcher and a triggerer killed with ``kill -9`` the moment the watcher sees a new
live session (local profile). Runs after ``test_watcher.py`` (once unpaused, the watcher DAG records
every meeting of the app that goes live)."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.checks import RUNNING, WATCHER_DAG_ID, running, runs_recording
from tests.e2e.stack import AirflowAPI, EmulatorControl, Stack, StackError, wait_for

pytestmark = pytest.mark.local

ASSET = "realtimekit_live_sessions"
#: After the watcher logs a new session, the longest wait for it to store the session (or for Airflow to
#: save its event) before the kill comes anyway.
WINDOW_SECONDS = 2.0


def asset_id(api: AirflowAPI) -> int:
    assets = api.request("GET", "/assets", params={"name_pattern": ASSET})["assets"]
    (asset,) = [asset for asset in assets if asset["name"] == ASSET]
    return int(asset["id"])


def remembered(api: AirflowAPI, asset: int, session_id: str) -> bool:
    """The watcher's memory (the asset state store) names the session."""
    entries = api.request("GET", f"/assets/{asset}/state-store")["asset_state_store"]
    return any(session_id in json.dumps(entry["value"]) for entry in entries)


def event_saved(api: AirflowAPI, asset: int, session_id: str) -> bool:
    """Airflow has saved an asset event for the session."""
    events = api.request(
        "GET", "/assets/events", params={"asset_id": asset, "limit": 100, "order_by": "-timestamp"}
    )["asset_events"]
    return any(session_id in json.dumps(event.get("extra") or {}) for event in events)


def test_a_session_seen_live_just_before_the_triggerer_is_killed_still_gets_its_run(stack: Stack, emulator):
    api = stack.api
    assert api is not None
    api.unpause(WATCHER_DAG_ID)
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

    session_id = emulator.start_session(meeting_id)
    try:
        record_through_the_crash(stack, emulator, meeting_id, session_id, log, seen_from)
    finally:
        with contextlib.suppress(httpx.HTTPError):  # already ended when the case got that far
            emulator.end_session(meeting_id)


def record_through_the_crash(
    stack: Stack, emulator: EmulatorControl, meeting_id: str, session_id: str, log: Path, seen_from: int
) -> None:
    """Kill the triggerer in the window between the watcher remembering the new session and Airflow
    saving its event, restart it, and count the runs and recordings the session gets."""
    api = stack.api
    assert api is not None
    asset = asset_id(api)

    def fired() -> bool:  # the watcher logs the new session as it fires its event
        with log.open("rb") as text:
            text.seek(seen_from)
            return session_id.encode() in text.read()

    wait_for("the watcher to see the new live session", fired, 120, every=0.02)
    fired_at = time.monotonic()
    # The event reaches Airflow's database at the trigger runner's next sync (within about a second);
    # the watcher writes its memory at once: kill as soon as that write shows, or the event is saved.
    wait_for(
        "the watcher's memory or the event",
        lambda: (
            time.monotonic() - fired_at > WINDOW_SECONDS
            or remembered(api, asset, session_id)
            or event_saved(api, asset, session_id)
        ),
        30,
        every=0.02,
    )
    stack.kill("triggerer")
    at_kill = {
        "remembered": remembered(api, asset, session_id),
        "event_saved": event_saved(api, asset, session_id),
        "seconds_after_fired": round(time.monotonic() - fired_at, 2),
    }
    print(f"\n[chaos] the triggerer was killed with: {at_kill}")
    stack.restart("triggerer")

    # the session still gets its run, which records the meeting
    with contextlib.suppress(StackError):  # counted below: no run, no recording fails the case
        wait_for(
            "the meeting to be recorded",
            lambda: any(r["status"] == "RECORDING" for r in emulator.recordings(meeting_id)),
            240,
            every=2,
        )
    # Let the record task's deferral finish in the executor before the recording can upload: Airflow
    # 3.3's LocalExecutor reports a deferred workload's exit late (5 s on a busy machine), and if the
    # trigger has fired by then, the scheduler takes that stale "success" for the re-queued task and
    # marks it failed ("finished with state success, but the task instance's state is queued").
    time.sleep(10)
    emulator.end_session(meeting_id)
    runs = []
    if emulator.recordings(meeting_id):
        runs = wait_for("the watcher's run", lambda: runs_recording(api, meeting_id), 120, every=2)
    states = [api.wait_for_run(WATCHER_DAG_ID, run["dag_run_id"], 240)["state"] for run in runs]
    with contextlib.suppress(StackError):
        wait_for(
            "the recording to settle",
            lambda: all(r["status"] not in (*RUNNING, "UPLOADING") for r in emulator.recordings(meeting_id)),
            60,
        )
    recordings = emulator.recordings(meeting_id)
    figures = {
        "runs": dict(Counter(states)),
        "recordings": len(recordings),
        "left_running": len(running(emulator, meeting_id)),
    }
    print(f"[chaos] triggerer kill -9 as the watcher sees a new live session: {figures}")
    assert states, f"the session got no run: {figures}"
    assert set(states) == {"success"}, figures
    assert figures["recordings"] == 1, recordings  # if_active="attach": a second event records nothing new
    assert figures["left_running"] == 0, recordings
