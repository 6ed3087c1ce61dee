"""Every example DAG on the real services, triggered through the REST API with ``logical_date: null``
(or created by the scheduler itself), checked in Airflow's and the emulator's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.checks import assert_succeeded, only_recording
from tests.e2e.stack import Stack, wait_for


def day_of(timestamp: str) -> str:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).strftime("%Y%m%d")


def test_manual_dag_by_rest_without_a_logical_date(stack: Stack, emulator, end_once_recording):
    api = stack.api
    assert api is not None
    meeting_id = emulator.create_meeting("board review")
    emulator.start_session(meeting_id)
    end_once_recording(meeting_id)
    api.unpause("rtk_manual_recording")

    run_id = api.trigger(
        "rtk_manual_recording",
        {"meeting_id": meeting_id, "file_name_prefix": "board-review", "max_seconds": 600},
    )

    assert api.dag_run("rtk_manual_recording", run_id)["logical_date"] is None
    states = assert_succeeded(api, "rtk_manual_recording", run_id)
    assert set(states) == {"layers_from_form", "record_meeting"}
    recording = only_recording(emulator, meeting_id)
    assert recording["request_body"] == {
        "meeting_id": meeting_id,
        "max_seconds": 600,
        "layers": {
            "default": {"file_name_prefix": "board-review", "outputs": [{"type": "REALTIMEKIT_BUCKET"}]}
        },
    }
    result = api.xcom("rtk_manual_recording", run_id, "record_meeting")
    assert result["id"] == recording["id"]
    assert result["status"] == "UPLOADED"


def test_fan_out_dag_by_rest_records_each_meeting_once(stack: Stack, emulator, end_once_recording):
    api = stack.api
    assert api is not None
    meetings = [emulator.create_meeting(f"room {n}") for n in range(3)]
    for meeting_id in meetings:
        emulator.start_session(meeting_id)
        end_once_recording(meeting_id)
    api.unpause("rtk_fan_out_recordings")

    run_id = api.trigger("rtk_fan_out_recordings", {"meeting_ids": [*meetings, meetings[0]]})

    states = assert_succeeded(api, "rtk_fan_out_recordings", run_id)
    assert sorted(states) == ["meetings_to_record", "record[0]", "record[1]", "record[2]"]
    prefix = "fanout_" + day_of(api.dag_run("rtk_fan_out_recordings", run_id)["run_after"])
    for meeting_id in meetings:
        recording = only_recording(emulator, meeting_id)
        assert recording["request_body"]["layers"] == {
            "default": {"file_name_prefix": prefix, "media_kind": "audio"}
        }
    # the deferred tasks' triggers (one shared logger, one shared poller) wrote into each task's own log
    for index in range(3):
        followed = api.xcom("rtk_fan_out_recordings", run_id, "record", key="recording_id", map_index=index)
        tries = api.task_instance("rtk_fan_out_recordings", run_id, "record", index)["try_number"]
        if tries == 1:
            first = api.task_log("rtk_fan_out_recordings", run_id, "record", map_index=index)
        else:
            # Airflow 3.3's scheduler can take the stale "success" of the deferring process for the
            # resumed try and fail it (apache/airflow#67287); the retry must reconnect, never restart
            first = stack.task_log_files("rtk_fan_out_recordings", run_id, "record", index, 1)
            last = api.task_log("rtk_fan_out_recordings", run_id, "record", map_index=index, try_number=tries)
            assert f"Reconnected to recording {followed}, started by this task" in last, last[-2000:]
        assert f"Recording {followed} is UPLOADED; waiting for UPLOADED" in first, first[-2000:]


def test_sensor_driven_dag_goes_live_only_after_the_sensor_is_deferred(
    stack: Stack, emulator, end_once_recording
):
    api = stack.api
    assert api is not None
    meeting_id = emulator.create_meeting("all hands")
    api.unpause("rtk_sensor_driven_recording")

    dag_id = "rtk_sensor_driven_recording"
    run_id = api.trigger(dag_id, {"meeting_id": meeting_id, "file_name_prefix": "all hands"})
    wait_for(
        "the session sensor to be deferred in the triggerer",
        lambda: (
            api.task_instances("rtk_sensor_driven_recording", run_id).get("wait_until_live") == "deferred"
        ),
        180,
        every=1,
    )
    assert emulator.recordings(meeting_id) == []
    emulator.start_session(meeting_id)
    end_once_recording(meeting_id)

    assert_succeeded(api, "rtk_sensor_driven_recording", run_id)
    recording = only_recording(emulator, meeting_id)
    assert recording["request_body"]["layers"]["default"]["file_name_prefix"] == "all hands"
    links = api.xcom("rtk_sensor_driven_recording", run_id, "report_download_links")
    assert links
    assert all(name.startswith("all hands_") and name.endswith(".webm") for name in links)


def latest_weekday_nine(now: datetime) -> datetime:
    """The latest ``0 9 * * 1-5`` slot (UTC) at or before ``now``."""
    slot = now.replace(hour=9, minute=0, second=0, microsecond=0)
    if slot > now:
        slot -= timedelta(days=1)
    while slot.weekday() >= 5:
        slot -= timedelta(days=1)
    return slot


def test_scheduler_creates_the_scheduled_run_by_itself(stack: Stack, emulator, end_once_recording):
    api = stack.api
    assert api is not None
    meeting_id = emulator.create_meeting("stand-up")
    emulator.start_session(meeting_id)
    end_once_recording(meeting_id)
    api.request("POST", "/variables", json={"key": "rtk_standup_meeting_id", "value": meeting_id})
    expected_slot = latest_weekday_nine(datetime.now(UTC))

    api.unpause("rtk_scheduled_recording")  # catchup=False: the scheduler runs the latest slot at once

    runs = wait_for(
        "the scheduler to create a run", lambda: api.dag_runs("rtk_scheduled_recording"), 120, every=1
    )
    assert len(runs) == 1, runs
    run = runs[0]
    assert run["run_type"] == "scheduled"
    assert datetime.fromisoformat(run["run_after"].replace("Z", "+00:00")) == expected_slot
    assert_succeeded(api, "rtk_scheduled_recording", run["dag_run_id"])
    recording = only_recording(emulator, meeting_id)
    assert recording["request_body"]["layers"] == {
        "default": {"file_name_prefix": f"standup_{expected_slot:%Y%m%d}", "media_kind": "audio"}
    }
