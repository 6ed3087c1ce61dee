"""The e2e chaos cases' own DAG (the stack copies this folder beside the example DAGs).

``rtk_e2e_killed_start``: one recording task with a retry and a ``timeout``; the test kills its first
try with ``kill -9`` right after the start reached the API, and the retry must know the recording as
*started* and stop it when the timeout runs out.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

#: The retry's wait for the files, after which it stops the recording it started.
TIMEOUT_SECONDS = 30

with DAG(
    dag_id="rtk_e2e_killed_start",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2)},
    params={"meeting_id": Param("", type="string")},
    tags=["realtimekit", "test"],
):
    RealtimeKitStartTrackRecordingOperator(
        task_id="record",
        meeting_id="{{ params.meeting_id }}",
        layers={"default": {"file_name_prefix": "killed_start", "media_kind": "audio"}},
        wait_for_completion=True,
        poll_interval=1,
        deferrable=False,
        timeout=TIMEOUT_SECONDS,
    )
