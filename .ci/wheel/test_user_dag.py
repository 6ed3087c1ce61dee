"""A DAG test as a user writes one: the provider's pytest plugin (entry point ``pytest11``) gives the
``realtimekit_connection`` fixture, an emulator with ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT`` pointing at it.

``make check-wheel`` runs this file against the installed wheel (Airflow's metadata DB made first with
``airflow db migrate``); the docs show it as the plugin's example.
"""

from __future__ import annotations

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator


@pytest.mark.realtimekit_emulator(invoke_delay=0)
def test_the_dag_records_the_live_meeting(realtimekit_connection):
    meeting_id = realtimekit_connection.create_meeting("standup")["id"]
    realtimekit_connection.start_session(meeting_id)
    with DAG("record_standup", schedule=None, start_date=pendulum.datetime(2026, 11, 2, tz="UTC")) as dag:
        RealtimeKitStartTrackRecordingOperator(
            task_id="record",
            meeting_id=meeting_id,
            layers={"default": {"file_name_prefix": "standup", "media_kind": "audio"}},
        )

    dag_run = dag.test()

    assert str(dag_run.state) == "success"
    (recording,) = realtimekit_connection.recordings()
    assert recording["meeting_id"] == meeting_id
    assert recording["request_body"]["layers"]["default"]["file_name_prefix"] == "standup"
