"""Peer of ``dags/rtk_fan_out_recordings.py``: a ``@task`` feeding a mapped standard ``BashOperator``
(dynamic task mapping over the meeting ids). Parsed by the benchmarks, never run."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="peer_fan_out_recordings",
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
        """One command per meeting id from the run's params, without duplicates."""
        meeting_ids = list(dict.fromkeys((params or {}).get("meeting_ids") or []))
        if not meeting_ids:
            raise ValueError("params.meeting_ids is empty: trigger with {'meeting_ids': ['...']}")
        return [f"echo record {meeting_id}" for meeting_id in meeting_ids]

    BashOperator.partial(
        task_id="record",
        env={"FILE_NAME_PREFIX": "fanout_{{ ds_nodash }}", "MEDIA_KIND": "audio"},
    ).expand(bash_command=meetings_to_record())
