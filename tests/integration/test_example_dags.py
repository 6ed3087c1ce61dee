"""Every example DAG runs to success under ``dag.test()`` with the real hook and operator, against the
emulator over loopback HTTP; the emulator's state is checked afterwards."""

from __future__ import annotations

import time

import pendulum
import pytest

from tests.integration.conftest import load_dag, task_states, xcom


def _only_recording(emulator, meeting_id):
    recordings = [r for r in emulator.recordings() if r["meeting_id"] == meeting_id]
    assert len(recordings) == 1, recordings
    return recordings[0]


def test_scheduled_dag_records_with_the_run_date_prefix(
    emulator, live_meeting, end_session_once_recording, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_VAR_RTK_STANDUP_MEETING_ID", live_meeting)
    end_session_once_recording(live_meeting)

    dag_run = load_dag("rtk_scheduled_recording").test(
        logical_date=pendulum.datetime(2026, 11, 26, 9, tz="UTC")
    )

    assert str(dag_run.state) == "success", task_states(dag_run)
    recording = _only_recording(emulator, live_meeting)
    assert recording["request_body"]["layers"] == {
        "default": {"file_name_prefix": "standup_20261126", "media_kind": "audio"}
    }
    assert recording["status"] == "UPLOADED"
    result = xcom(dag_run, "record_standup")
    assert result["id"] == recording["id"]
    assert result["status"] == "UPLOADED"
    assert xcom(dag_run, "record_standup", key="recording_id") == recording["id"]


@pytest.mark.parametrize(
    "generation",
    [
        pytest.param("current", id="current-api"),
        pytest.param("legacy", id="legacy-api", marks=pytest.mark.realtimekit_emulator(legacy_track=True)),
    ],
)
def test_manual_dag_from_the_trigger_form(emulator, live_meeting, end_session_once_recording, generation):
    end_session_once_recording(live_meeting)

    dag_run = load_dag("rtk_manual_recording").test(
        run_conf={"meeting_id": live_meeting, "file_name_prefix": "board-review", "max_seconds": 600}
    )

    assert str(dag_run.state) == "success", task_states(dag_run)
    recording = _only_recording(emulator, live_meeting)
    assert recording["request_body"] == {
        "meeting_id": live_meeting,
        "max_seconds": 600,
        "layers": {
            "default": {"file_name_prefix": "board-review", "outputs": [{"type": "REALTIMEKIT_BUCKET"}]}
        },
    }
    assert recording["status"] == "UPLOADED"
    assert recording["answered_with_empty_body"] is (generation == "legacy")
    assert xcom(dag_run, "record_meeting")["id"] == recording["id"]


def test_sensor_driven_dag_starts_when_the_meeting_goes_live(emulator, when, end_session_once_recording):
    meeting_id = emulator.create_meeting("all-hands")["id"]
    started = time.monotonic()
    # the meeting goes live a few seconds into the run, while the sensor is already waiting
    when(lambda: time.monotonic() - started > 12, lambda: emulator.start_session(meeting_id))
    end_session_once_recording(meeting_id)

    dag_run = load_dag("rtk_sensor_driven_recording").test(
        run_conf={"meeting_id": meeting_id, "file_name_prefix": "all hands"}
    )

    assert str(dag_run.state) == "success", task_states(dag_run)
    recording = _only_recording(emulator, meeting_id)
    assert recording["request_body"]["layers"]["default"]["file_name_prefix"] == "all hands"
    assert recording["status"] == "UPLOADED"
    links = xcom(dag_run, "report_download_links")
    assert links, "no download links reported"
    assert all(name.startswith("all hands_") and name.endswith(".webm") for name in links)


def test_fan_out_dag_records_each_meeting_once(emulator, end_session_once_recording):
    meetings = [emulator.create_meeting(f"room {n}")["id"] for n in range(3)]
    for meeting_id in meetings:
        emulator.start_session(meeting_id)
        end_session_once_recording(meeting_id)

    dag_run = load_dag("rtk_fan_out_recordings").test(run_conf={"meeting_ids": [*meetings, meetings[0]]})

    assert str(dag_run.state) == "success", task_states(dag_run)
    for meeting_id in meetings:
        assert _only_recording(emulator, meeting_id)["status"] == "UPLOADED"
    assert len(emulator.recordings()) == 3
