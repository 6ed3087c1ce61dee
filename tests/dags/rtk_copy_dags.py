"""A test DAG for the copy operator: the recording, destination and storage connection come from params."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtk.transfers.recording_to_object_storage import (
    RealtimeKitRecordingToObjectStorageOperator,
)

with DAG(
    dag_id="rtk_test_copy_recording",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    params={"recording_id": "", "destination": "", "storage_conn_id": ""},
):
    RealtimeKitRecordingToObjectStorageOperator(
        task_id="copy",
        recording_id="{{ params.recording_id }}",
        destination="{{ params.destination }}",
        storage_conn_id="{{ params.storage_conn_id }}",
        poll_interval=0.3,
        wait_timeout=30,
        chunk_size=64 * 1024,
    )
