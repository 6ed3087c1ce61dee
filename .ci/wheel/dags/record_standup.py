"""A user's DAG: record the meeting a run is given (``params.meeting_id``)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

with DAG(
    "record_standup",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 2, tz="UTC"),
    params={"meeting_id": Param("", type="string")},
) as dag:
    RealtimeKitStartTrackRecordingOperator(
        task_id="record",
        meeting_id="{{ params.meeting_id }}",
        layers={"default": {"file_name_prefix": "standup", "media_kind": "audio"}},
    )
