"""A user kills a deferred recording task (marks it failed) a second after it deferred: the recording
the task started must be stopped (by the trigger's ``on_kill`` in the real triggerer), not left
recording with nobody following it. Airflow 3.3 calls ``on_kill`` of a trigger cancelled by a user."""

from __future__ import annotations

import time

from tests.e2e.stack import Stack, wait_for


def test_a_deferred_task_killed_a_second_after_deferring_stops_what_it_started(stack: Stack, emulator):
    api = stack.api
    assert api is not None
    meeting_id = emulator.create_meeting("killed while deferred")
    emulator.start_session(meeting_id)
    dag_id = "rtk_fan_out_recordings"  # its record task waits for the files, deferred
    api.unpause(dag_id)

    run_id = api.trigger(dag_id, {"meeting_ids": [meeting_id]})
    wait_for(
        "the record task to be deferred",
        lambda: api.task_instances(dag_id, run_id).get("record[0]") == "deferred",
        180,
        every=0.5,
    )
    (recording,) = emulator.recordings(meeting_id)
    assert recording["status"] in ("INVOKED", "RECORDING")
    time.sleep(1.0)

    api.request(
        "PATCH",
        f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/record/0",
        json={"new_state": "failed"},
    )

    stopped = wait_for(
        "the killed task's recording to be stopped",
        lambda: [r for r in emulator.recordings(meeting_id) if r.get("stop_reason") == "API_CALL"],
        60,
        every=0.5,
    )
    assert [r["id"] for r in stopped] == [recording["id"]]
    assert len(emulator.recordings(meeting_id)) == 1
    assert api.task_instances(dag_id, run_id)["record[0]"] == "failed"
    emulator.end_session(meeting_id)  # leave no live session behind for the live-meeting watcher
