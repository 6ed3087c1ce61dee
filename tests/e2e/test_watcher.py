"""Event-driven recording on the real services: a meeting going live makes ``rtk_record_when_live``
run once (its asset watcher runs in the triggerer), a second session a second run, and the copy
operator then lands the files byte for byte. Runs last: once unpaused the watcher DAG records every
meeting of the app that goes live."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.checks import WATCHER_DAG_ID, runs_recording
from tests.e2e.stack import AirflowAPI, EmulatorControl, Stack, wait_for


def record_one_session(api: AirflowAPI, emulator: EmulatorControl, meeting_id: str, sessions: int) -> dict:
    """Start a session, wait for the watcher's run to record it, end the session, wait for the run."""
    emulator.start_session(meeting_id)
    recording = wait_for(
        f"recording {sessions} of {meeting_id} to be RECORDING",
        lambda: next(
            (r for r in emulator.recordings(meeting_id)[sessions - 1 :] if r["status"] == "RECORDING"), None
        ),
        180,
        every=1,
    )
    emulator.end_session(meeting_id)
    runs = wait_for(
        f"{sessions} run(s) for {meeting_id}",
        lambda: (lambda r: r if len(r) >= sessions else None)(runs_recording(api, meeting_id)),
        120,
        every=2,
    )
    for run in runs:
        api.wait_for_run(WATCHER_DAG_ID, run["dag_run_id"], 180)
    return recording


def test_each_live_session_makes_one_run_and_the_copy_lands_the_files(
    stack: Stack, emulator: EmulatorControl, tmp_path: Path
):
    api = stack.api
    assert api is not None
    meeting_id = emulator.create_meeting("goes live twice")
    api.unpause(WATCHER_DAG_ID)

    first = record_one_session(api, emulator, meeting_id, 1)
    record_one_session(api, emulator, meeting_id, 2)

    runs = runs_recording(api, meeting_id)
    assert len(runs) == 2, runs  # one run per live session, no more
    assert {api.dag_run(WATCHER_DAG_ID, r["dag_run_id"])["state"] for r in runs} == {"success"}
    recordings = emulator.recordings(meeting_id)
    assert len(recordings) == 2
    assert {
        r["status"]
        for r in wait_for(
            "both uploaded",
            lambda: [r for r in emulator.recordings(meeting_id) if r["status"] == "UPLOADED"] or None,
            30,
        )
    } == {"UPLOADED"}
    assert all(
        r["request_body"]["layers"]["default"]["file_name_prefix"].startswith("live_") for r in recordings
    )

    # the files afterwards: the copy operator fetches fresh links and lands every file
    api.unpause("rtk_test_copy_recording")
    destination = tmp_path / "copies"
    run_id = api.trigger(
        "rtk_test_copy_recording",
        {"recording_id": first["id"], "destination": destination.as_uri(), "storage_conn_id": ""},
    )
    assert api.wait_for_run("rtk_test_copy_recording", run_id, 180)["state"] == "success"
    (uploaded,) = [r for r in emulator.recordings(meeting_id) if r["id"] == first["id"]]
    assert uploaded["files"]
    for name in uploaded["files"]:  # the emulator serves each file under /files/<name>
        served = httpx.get(f"{emulator.origin}/files/{name}", timeout=30)
        assert served.status_code == 200
        assert (destination / name).read_bytes() == served.content
