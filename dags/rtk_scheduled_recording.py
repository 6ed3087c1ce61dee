"""Record the weekday stand-up on a schedule.

Every weekday at 09:00 UTC this starts a track recording of the stand-up meeting (its id in the Airflow
Variable ``rtk_standup_meeting_id``), files prefixed with the run's date (``standup_20261126``), and
waits in the triggerer until the recording is uploaded. The recording ends when the meeting does.

The date is the run's ``run_after`` (the schedule slot for scheduled runs), which every run has: a run
triggered by hand or through the REST API without a logical date works too.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

with DAG(
    dag_id="rtk_scheduled_recording",
    schedule="0 9 * * 1-5",
    start_date=pendulum.datetime(2026, 11, 2, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["realtimekit", "example"],
    doc_md=__doc__,
) as dag:
    RealtimeKitStartTrackRecordingOperator(
        task_id="record_standup",
        meeting_id="{{ var.value.rtk_standup_meeting_id }}",
        layers={
            "default": {
                "file_name_prefix": "standup_{{ dag_run.run_after | ds_nodash }}",
                "media_kind": "audio",
            }
        },
        wait_for_completion=True,
        poll_interval=2,
        timeout=timedelta(hours=3),
        deferrable=True,
    )
