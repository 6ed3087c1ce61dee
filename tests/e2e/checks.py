"""What the e2e suites check in Airflow's and the emulator's state, shared by several of them."""

from __future__ import annotations

from typing import Any

from tests.e2e.stack import AirflowAPI, EmulatorControl, wait_for

#: The watcher DAG (an asset watcher starts its runs when a meeting goes live).
WATCHER_DAG_ID = "rtk_record_when_live"

#: A recording that still records (or will): nobody stopped it and its meeting has not ended.
RUNNING = {"INVOKED", "RECORDING", "PAUSED"}


def running(emulator: EmulatorControl, meeting_id: str) -> list[dict[str, Any]]:
    """The meeting's recordings that still record (or will)."""
    return [r for r in emulator.recordings(meeting_id) if r["status"] in RUNNING]


def runs_recording(api: AirflowAPI, meeting_id: str) -> list[dict[str, Any]]:
    """The watcher DAG's asset-triggered runs whose triggering events named ``meeting_id``."""
    found = []
    for run in api.dag_runs(WATCHER_DAG_ID):
        if run["run_type"] != "asset_triggered":
            continue
        if api.task_instances(WATCHER_DAG_ID, run["dag_run_id"]).get("meetings_gone_live") != "success":
            continue
        if meeting_id in (api.xcom(WATCHER_DAG_ID, run["dag_run_id"], "meetings_gone_live") or []):
            found.append(run)
    return found


def only_recording(emulator: EmulatorControl, meeting_id: str) -> dict[str, Any]:
    """The meeting's one recording, once UPLOADED (it may still be uploading when the run ends)."""
    recordings = emulator.recordings(meeting_id)
    assert len(recordings) == 1, recordings
    wait_for(
        f"the recording of {meeting_id} to be UPLOADED",
        lambda: emulator.recordings(meeting_id)[0]["status"] == "UPLOADED",
        30,
    )
    return emulator.recordings(meeting_id)[0]


def assert_succeeded(
    api: AirflowAPI, dag_id: str, run_id: str, timeout: float = 240
) -> dict[str, str | None]:
    run = api.wait_for_run(dag_id, run_id, timeout)
    states = api.task_instances(dag_id, run_id)
    assert run["state"] == "success", states
    assert set(states.values()) == {"success"}, states
    return states
