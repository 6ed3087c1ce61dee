"""Start recording when the meeting goes live, follow it to the end, and report the files.

An upstream sensor waits (in the triggerer) until the meeting has a live session; then the track
recording starts; a second sensor waits until the recording is uploaded; the last task reports the
download links of every file. The links are pre-signed (whoever holds one can fetch the file until it
expires), so only this sensor opts in to keep them in its XCom (``xcom_download_links=True``).

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
from airflow_provider_rtk.sensors import RealtimeKitActiveSessionSensor, RealtimeKitRecordingSensor

with DAG(
    dag_id="rtk_sensor_driven_recording",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={
        "meeting_id": Param("", type="string", minLength=1, pattern=ID_PATTERN, title="Meeting id"),
        "file_name_prefix": Param("live", type="string", pattern="^[-\\w\\s]+$", title="File name prefix"),
    },
) as dag:
    meeting_live = RealtimeKitActiveSessionSensor(
        task_id="wait_until_live",
        meeting_id="{{ params.meeting_id }}",
        poke_interval=2,
        timeout=6 * 3600,
        deferrable=True,
    )
    start = RealtimeKitStartTrackRecordingOperator(
        task_id="start_recording",
        meeting_id="{{ params.meeting_id }}",
        layers={"default": {"file_name_prefix": "{{ params.file_name_prefix }}", "media_kind": "audio"}},
    )
    uploaded = RealtimeKitRecordingSensor(
        task_id="wait_until_uploaded",
        recording_id="{{ ti.xcom_pull(task_ids='start_recording', key='recording_id') }}",
        target_status="UPLOADED",
        xcom_download_links=True,  # the report below needs the fresh pre-signed links
        poke_interval=2,
        timeout=12 * 3600,
        deferrable=True,
    )

    @task
    def report_download_links(recording: dict[str, Any]) -> dict[str, str]:
        """Log and return file name -> download URL."""
        from airflow_provider_rtk.models import Recording

        links = Recording.model_validate(recording).download_links
        for file_name, url in sorted(links.items()):
            print(f"{file_name}: {url}")
        return links

    meeting_live >> start >> uploaded
    report_download_links(uploaded.output)
