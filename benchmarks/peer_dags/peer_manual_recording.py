"""Peer of ``dags/rtk_manual_recording.py``: the same trigger form and template, with a standard
``BashOperator`` in place of the start operator. Parsed by the benchmarks, never run."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

LAYERS_TEMPLATE = """
{"default": {
    "file_name_prefix": "{{ params.file_name_prefix }}",
    "outputs": [
    {%- if params.storage == "sftp" %}
        {"type": "STORAGE_CONFIG", "storage_conn_id": "{{ params.sftp_conn_id }}"}
    {%- else %}
        {"type": "REALTIMEKIT_BUCKET"}
    {%- endif %}
    ]
}}
"""

with DAG(
    dag_id="peer_manual_recording",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={
        "meeting_id": Param(
            "",
            type="string",
            minLength=1,
            pattern="^[A-Za-z0-9][A-Za-z0-9_-]*$",
            title="Meeting id",
            description="The RealtimeKit meeting to record (it must be live).",
        ),
        "file_name_prefix": Param(
            "manual",
            type="string",
            minLength=1,
            pattern="^[-\\w\\s]+$",
            title="File name prefix",
            description="Letters, digits, spaces, '-' and '_'.",
        ),
        "storage": Param(
            "realtimekit",
            type="string",
            enum=["realtimekit", "sftp"],
            title="Storage",
            values_display={"realtimekit": "RealtimeKit bucket", "sftp": "SFTP (from a connection)"},
        ),
        "sftp_conn_id": Param(
            "rtk_sftp",
            type="string",
            title="SFTP connection",
            description="Airflow connection with host, login and password or private key (SFTP only).",
        ),
        "max_seconds": Param(3600, type="integer", minimum=1, maximum=86400, title="Maximum seconds"),
    },
) as dag:
    BashOperator(
        task_id="record_meeting",
        bash_command="echo record {{ params.meeting_id }} for {{ params.max_seconds }}s",
        env={"LAYERS": LAYERS_TEMPLATE},
    )
