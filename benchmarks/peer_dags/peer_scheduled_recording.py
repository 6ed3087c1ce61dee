"""Peer of ``dags/rtk_scheduled_recording.py``: the same DAG, with a standard ``BashOperator`` in place of
the start operator (same templated fields, same DAG arguments). Parsed by the benchmarks, never run."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(
    dag_id="peer_scheduled_recording",
    schedule="0 9 * * 1-5",
    start_date=pendulum.datetime(2026, 11, 2, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["realtimekit", "example"],
    doc_md=__doc__,
) as dag:
    BashOperator(
        task_id="record_standup",
        bash_command="echo record {{ var.value.rtk_standup_meeting_id }}",
        env={"FILE_NAME_PREFIX": "standup_{{ ds_nodash }}", "MEDIA_KIND": "audio"},
        execution_timeout=timedelta(hours=3),
    )
