"""Record many meetings at once: one mapped task per meeting (dynamic task mapping).

Trigger it with ``{"meeting_ids": ["...", "..."]}``; every meeting gets its own track recording, and
each mapped task waits in the triggerer until its recording is uploaded. Files are prefixed with the
day the run was queued for (``fanout_20261126``): ``run_after`` is set on every run, also on runs
triggered without a logical date (the REST API's default in Airflow 3).

A task that waits in the triggerer gets one retry: when a trigger fires within moments of the
deferral, Airflow 3.3's scheduler can still mark the task failed (apache/airflow#71580, "state
changed externally"). The retry is safe: it finds the recording its first try started and follows
it, so the meeting is never recorded twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_rtk.arguments import ID_PATTERN
from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

#: What the form accepts as a meeting id: letters, digits, '-' and '_' (the service's ids are UUIDs).

with DAG(
    dag_id="rtk_fan_out_recordings",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={
        "meeting_ids": Param(
            [],
            type="array",
            items={"type": "string", "minLength": 1, "pattern": ID_PATTERN},
            title="Meeting ids to record",
        ),
    },
) as dag:

    @task
    def meetings_to_record(params: dict[str, Any] | None = None) -> list[str]:
        """The meeting ids from the run's params, without duplicates (one recording per meeting)."""
        meeting_ids = list(dict.fromkeys((params or {}).get("meeting_ids") or []))
        if not meeting_ids:
            raise ValueError("params.meeting_ids is empty: trigger with {'meeting_ids': ['...']}")
        return meeting_ids

    RealtimeKitStartTrackRecordingOperator.partial(
        task_id="record",
        layers={
            "default": {
                "file_name_prefix": "fanout_{{ dag_run.run_after | ds_nodash }}",
                "media_kind": "audio",
            }
        },
        wait_for_completion=True,
        poll_interval=2,
        deferrable=True,
    ).expand(meeting_id=meetings_to_record())
