"""Record a meeting on demand, from the UI's "Trigger DAG" form.

The form asks for the meeting id, a file name prefix and where the files go: RealtimeKit's bucket, or
an SFTP server whose credentials live in an Airflow connection (never in the DAG or the form).

Safe to copy: the form's values are checked by the params' patterns when the run is triggered, then put
into the layers *dict* by a small task (never pasted into JSON text, so a value with quotes stays one
value). The form offers only the SFTP connections this DAG declares (``SFTP_CONNECTIONS``: edit it),
and the one chosen must be an SFTP or SSH connection marked for recordings (extra
``"realtimekit_storage": true``; the operator refuses any other before a request). Only the
connection's id is sent to the operator, which fills the destination and credentials from the
connection at run time.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_rtk.arguments import ID_PATTERN
from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

#: Connection types that can hold the SFTP destination and its credentials.
SFTP_CONN_TYPES = frozenset({"sftp", "ssh"})
#: The connections whoever may trigger this DAG may send files (and so credentials) to: the form
#: offers only these. Each must also carry the extra ``"realtimekit_storage": true``.
SFTP_CONNECTIONS: tuple[str, ...] = ("rtk_sftp",)

with DAG(
    dag_id="rtk_manual_recording",
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
            pattern=ID_PATTERN,
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
            SFTP_CONNECTIONS[0],
            type="string",
            enum=list(SFTP_CONNECTIONS),
            title="SFTP connection",
            description="An SFTP or SSH connection meant for recordings: host, login and password or "
            "private key, extra realtimekit_storage=true (SFTP only).",
        ),
        "max_seconds": Param(3600, type="integer", minimum=1, maximum=86400, title="Maximum seconds"),
    },
) as dag:

    @task(multiple_outputs=False)
    def layers_from_form(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The track layers as a dict built from the form's values (never JSON text)."""
        form = params or {}
        output: dict[str, Any] = {"type": "REALTIMEKIT_BUCKET"}
        if form.get("storage") == "sftp":
            conn_id = str(form.get("sftp_conn_id") or "")
            from airflow.providers.common.compat.sdk import BaseHook

            conn_type = BaseHook.get_connection(conn_id).conn_type
            if conn_type not in SFTP_CONN_TYPES:
                raise ValueError(
                    f"params.sftp_conn_id: connection {conn_id!r} is of type {conn_type!r}, "
                    f"not one of {sorted(SFTP_CONN_TYPES)}"
                )
            output = {"type": "STORAGE_CONFIG", "storage_conn_id": conn_id}
        return {"default": {"file_name_prefix": str(form.get("file_name_prefix")), "outputs": [output]}}

    RealtimeKitStartTrackRecordingOperator(
        task_id="record_meeting",
        meeting_id="{{ params.meeting_id }}",
        layers=layers_from_form(),
        max_seconds="{{ params.max_seconds }}",
        wait_for_completion=True,
        poll_interval=2,
    )
