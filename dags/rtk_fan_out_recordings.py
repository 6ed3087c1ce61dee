"""Record many meetings at once: one mapped task per meeting (dynamic task mapping).

Trigger it with ``{"meeting_ids": ["...", "..."]}``; every meeting gets its own track recording, and
each mapped task waits in the triggerer until its recording is uploaded.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

with DAG(
    dag_id="rtk_fan_out_recordings",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={
        "meeting_ids": Param(
            [], type="array", items={"type": "string", "minLength": 1}, title="Meeting ids to record"
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
        layers={"default": {"file_name_prefix": "fanout_{{ ds_nodash }}", "media_kind": "audio"}},
        wait_for_completion=True,
        poll_interval=2,
        deferrable=True,
    ).expand(meeting_id=meetings_to_record())
