"""Every example DAG runs to success under ``dag.test()`` with the real hook and operator, against the
emulator over loopback HTTP; the emulator's state is checked afterwards. Runs with and without a logical
date (Airflow 3's REST API triggers without one), so no DAG may depend on ``ds``/``logical_date``."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest
from airflow.sdk.definitions.param import ParamValidationError

from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS
from tests.conftest import DAGS_FOLDER
from tests.integration.conftest import console_text, load_dag, task_states, xcom


def _only_recording(emulator, meeting_id):
    recordings = [r for r in emulator.recordings() if r["meeting_id"] == meeting_id]
    assert len(recordings) == 1, recordings
    return recordings[0]


SLOT = pendulum.datetime(2026, 11, 26, 9, tz="UTC")


@pytest.mark.parametrize(
    ("dates", "prefix"),
    [
        pytest.param({"logical_date": SLOT, "run_after": SLOT}, "standup_20261126", id="scheduled-slot"),
        pytest.param({"logical_date": None, "run_after": SLOT}, "standup_20261126", id="no-logical-date"),
    ],
)
def test_scheduled_dag_records_with_the_run_date_prefix(
    emulator, live_meeting, end_session_once_recording, monkeypatch, dates, prefix
):
    monkeypatch.setenv("AIRFLOW_VAR_RTK_STANDUP_MEETING_ID", live_meeting)
    end_session_once_recording(live_meeting)

    dag_run = load_dag("rtk_scheduled_recording").test(**dates)

    assert str(dag_run.state) == "success", task_states(dag_run)
    recording = _only_recording(emulator, live_meeting)
    assert recording["request_body"]["layers"] == {
        "default": {"file_name_prefix": prefix, "media_kind": "audio"}
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
        logical_date=None,
        run_conf={"meeting_id": live_meeting, "file_name_prefix": "board-review", "max_seconds": 600},
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
    asked = f"/meetings/{meeting_id}/active-session"
    # the meeting goes live once the sensor is waiting (its trigger has asked for the active session),
    # however long the run takes to get there
    when(
        lambda: any(request["path"].endswith(asked) for request in emulator.requests()),
        lambda: emulator.start_session(meeting_id),
    )
    end_session_once_recording(meeting_id)

    dag_run = load_dag("rtk_sensor_driven_recording").test(
        logical_date=None, run_conf={"meeting_id": meeting_id, "file_name_prefix": "all hands"}
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

    dag_run = load_dag("rtk_fan_out_recordings").test(
        logical_date=None, run_after=SLOT, run_conf={"meeting_ids": [*meetings, meetings[0]]}
    )

    assert str(dag_run.state) == "success", task_states(dag_run)
    for meeting_id in meetings:
        recording = _only_recording(emulator, meeting_id)
        assert recording["status"] == "UPLOADED"
        assert recording["request_body"]["layers"]["default"]["file_name_prefix"] == "fanout_20261126"
    assert len(emulator.recordings()) == 3


SFTP_PASSWORD = "sftp-e2e-password-7f3a"
#: The SFTP connection the manual DAG offers (its ``SFTP_CONNECTIONS``), as an administrator sets it up.
RTK_SFTP = {
    "conn_type": "sftp",
    "host": "sftp.example.test",
    "login": "rec",
    "password": SFTP_PASSWORD,
    "extra": {"realtimekit_storage": True},
}


def test_manual_dag_sends_sftp_storage_from_the_connection(
    emulator, live_meeting, end_session_once_recording, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_RTK_SFTP", json.dumps(RTK_SFTP))
    end_session_once_recording(live_meeting)

    dag_run = load_dag("rtk_manual_recording").test(
        logical_date=None,
        run_conf={"meeting_id": live_meeting, "storage": "sftp", "sftp_conn_id": "rtk_sftp"},
    )

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert xcom(dag_run, "layers_from_form") == {
        "default": {
            "file_name_prefix": "manual",
            "outputs": [{"type": "STORAGE_CONFIG", "storage_conn_id": "rtk_sftp"}],
        }
    }
    (output,) = _only_recording(emulator, live_meeting)["request_body"]["layers"]["default"]["outputs"]
    assert output["type"] == "STORAGE_CONFIG"
    assert output["storage_config"]["type"] == "sftp"
    assert output["storage_config"]["host"] == "sftp.example.test"
    assert output["storage_config"]["password"] == SFTP_PASSWORD  # from the connection, never the form
    assert SFTP_PASSWORD not in json.dumps(xcom(dag_run, "record_meeting"))


def test_manual_dag_refuses_a_connection_of_another_kind(emulator, live_meeting, monkeypatch):
    aws = {"conn_type": "aws", "login": "AKIA", "password": "x", "extra": {"realtimekit_storage": True}}
    monkeypatch.setenv("AIRFLOW_CONN_RTK_SFTP", json.dumps(aws))

    dag_run = load_dag("rtk_manual_recording").test(
        logical_date=None,
        run_conf={"meeting_id": live_meeting, "storage": "sftp", "sftp_conn_id": "rtk_sftp"},
    )

    assert task_states(dag_run) == {"layers_from_form": "failed", "record_meeting": "upstream_failed"}
    assert emulator.recordings() == []


def test_manual_dag_refuses_a_connection_not_marked_for_recordings(
    emulator, live_meeting, end_session_once_recording, monkeypatch, capfd
):
    """The declared connection exists, but its owner did not mark it: nothing is sent, and the error
    names the field and the extra that would allow it."""
    unmarked = {key: value for key, value in RTK_SFTP.items() if key != "extra"}
    monkeypatch.setenv("AIRFLOW_CONN_RTK_SFTP", json.dumps(unmarked))
    end_session_once_recording(live_meeting)  # should a recording start all the same, the run ends

    dag_run = load_dag("rtk_manual_recording").test(
        logical_date=None,
        run_conf={"meeting_id": live_meeting, "storage": "sftp", "sftp_conn_id": "rtk_sftp"},
    )

    assert task_states(dag_run) == {"layers_from_form": "success", "record_meeting": "failed"}
    assert emulator.recordings() == []
    output = console_text(capfd.readouterr())
    if AIRFLOW_V_3_3_PLUS:  # (3.0's dag.test() writes the task's log elsewhere than the console; the
        # message itself is checked on every version in tests/unit/test_storage.py)
        assert (
            "layers.default.outputs[0].storage_conn_id: connection 'rtk_sftp' is not marked for "
            "RealtimeKit recordings (set extra realtimekit_storage=true" in output
        )
    assert SFTP_PASSWORD not in output


@pytest.mark.parametrize("conn_id", ["admin_ssh", "aws_default", "rtk_sftp2"])
def test_manual_dag_form_offers_only_the_declared_connections(
    emulator, live_meeting, end_session_once_recording, monkeypatch, conn_id
):
    """Another connection of the installation, even one marked for recordings, cannot be named."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(RTK_SFTP))
    end_session_once_recording(live_meeting)
    with pytest.raises(ParamValidationError, match="sftp_conn_id"):
        load_dag("rtk_manual_recording").test(
            logical_date=None,
            run_conf={"meeting_id": live_meeting, "storage": "sftp", "sftp_conn_id": conn_id},
        )

    assert emulator.recordings() == []


@pytest.mark.parametrize(
    ("form", "field"),
    [
        pytest.param(
            {"file_name_prefix": 'x", "outputs": [{"type": "STORAGE_CONFIG"}], "y": "'},
            "file_name_prefix",
            id="quotes-in-prefix",
        ),
        pytest.param({"sftp_conn_id": "rtk_sftp\\"}, "sftp_conn_id", id="backslash-in-conn-id"),
        pytest.param({"sftp_conn_id": "a b"}, "sftp_conn_id", id="space-in-conn-id"),
        pytest.param({"meeting_id": "m/../x"}, "meeting_id", id="path-in-meeting-id"),
    ],
)
def test_manual_dag_form_refuses_values_that_could_change_the_body(emulator, live_meeting, form, field):
    with pytest.raises(ParamValidationError, match=field):
        load_dag("rtk_manual_recording").test(
            logical_date=None, run_conf={"meeting_id": live_meeting, **form}
        )

    assert emulator.recordings() == []


def test_readme_first_dag_runs_without_a_logical_date(
    emulator, live_meeting, end_session_once_recording, monkeypatch
):
    """The README's "A first DAG" snippet, as a user pastes it, run as a REST trigger would run it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## A first DAG", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    dag_file = DAGS_FOLDER / "readme_first_dag.py"
    dag_file.write_text(snippet)
    monkeypatch.setenv("AIRFLOW_VAR_STANDUP_MEETING_ID", live_meeting)
    end_session_once_recording(live_meeting)

    try:
        dag_run = load_dag("record_standup").test(logical_date=None, run_after=SLOT)
    finally:
        dag_file.unlink()  # the other tests' DAG folder stays as it was

    assert str(dag_run.state) == "success", task_states(dag_run)
    recording = _only_recording(emulator, live_meeting)
    assert recording["request_body"]["layers"] == {
        "default": {"file_name_prefix": "standup_20261126", "media_kind": "audio"}
    }
    assert recording["status"] == "UPLOADED"
