"""Peer of ``dags/rtk_sensor_driven_recording.py``: sensor >> operator >> sensor >> ``@task``, built from
the standard provider's ``BashSensor`` and ``BashOperator``. Parsed by the benchmarks, never run."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.sensors.bash import BashSensor
from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="peer_sensor_driven_recording",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={
        "meeting_id": Param("", type="string", minLength=1, title="Meeting id"),
        "file_name_prefix": Param("live", type="string", pattern="^[-\\w\\s]+$", title="File name prefix"),
    },
) as dag:
    meeting_live = BashSensor(
        task_id="wait_until_live",
        bash_command="test -n '{{ params.meeting_id }}'",
        poke_interval=2,
        timeout=6 * 3600,
    )
    start = BashOperator(
        task_id="start_recording",
        bash_command="echo start {{ params.meeting_id }}",
        env={"FILE_NAME_PREFIX": "{{ params.file_name_prefix }}", "MEDIA_KIND": "audio"},
    )
    uploaded = BashSensor(
        task_id="wait_until_uploaded",
        bash_command="test -n \"{{ ti.xcom_pull(task_ids='start_recording') }}\"",
        poke_interval=2,
        timeout=12 * 3600,
    )

    @task
    def report_download_links(recording: dict[str, Any]) -> dict[str, str]:
        """Log and return file name -> download URL."""
        links = dict(recording or {})
        for file_name, url in sorted(links.items()):
            print(f"{file_name}: {url}")
        return links

    meeting_live >> start >> uploaded
    report_download_links(uploaded.output)
