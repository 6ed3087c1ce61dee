"""A test DAG for the transcript copy: the session, destination and documents come from params; it
waits in the triggerer (``dag.test()`` runs the trigger in process)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtk.transfers.session_transcript_to_object_storage import (
    RealtimeKitSessionTranscriptToObjectStorageOperator,
)

with DAG(
    dag_id="rtk_test_copy_transcript",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    params={"session_id": "", "destination": "", "wait_timeout": 30},
):
    RealtimeKitSessionTranscriptToObjectStorageOperator(
        task_id="copy_transcript",
        session_id="{{ params.session_id }}",
        destination="{{ params.destination }}",
        deferrable=True,
        poll_interval=0.2,
        wait_timeout=30,
        chunk_size=4096,
    )
