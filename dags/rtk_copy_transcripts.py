"""Copy each session's post-meeting transcript and summary into your storage once RealtimeKit has them.

The meeting must be created with ``transcribe_on_end`` (and ``summarize_on_end`` for the summary),
e.g. ``RealtimeKitHook().create_meeting("standup", transcribe_on_end=True, summarize_on_end=True)``.
After each of its sessions ends, RealtimeKit transcribes it, then summarises the transcript.

The DAG is scheduled on the asset ``realtimekit_session_transcripts``. Whatever updates it with an
extra naming the session (``session_id``, and ``meeting_id``) starts a run for that session:

- the webhook receiver, on a ``meeting.summary`` push (its watcher,
  ``RealtimeKitPushedDocumentsTrigger(documents=["summary"])``, makes no request; the summary is made
  after the transcript, so both are ready and the copy starts at once: one run per session), or
- a recording task with ``outlets=[Asset("realtimekit_session_transcripts")]`` and
  ``wait_for_completion=True``: its asset event carries the recording's ``session_id`` when the files are
  ``UPLOADED``, and the copy waits in the triggerer (``deferrable=True``, polling every minute for up
  to two hours) until the transcript and summary are ready.

A manual run copies the session in ``params.session_id`` instead. The files land as
``<destination>/<session id>.transcript.csv`` and ``<session id>.summary.txt``, each complete or absent,
and each is an asset event of the alias ``realtimekit_transcript_copies`` (schedule the next step on it).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, Param

from airflow_provider_rtk.arguments import ID_PATTERN
from airflow_provider_rtk.transfers.session_transcript_to_object_storage import (
    RealtimeKitSessionTranscriptToObjectStorageOperator,
)
from airflow_provider_rtk.triggers.pushed_documents import RealtimeKitPushedDocumentsTrigger

#: Updated by whatever learns that a session's transcript is (or will be) there: see the docstring.
session_transcripts = Asset(
    name="realtimekit_session_transcripts",
    watchers=[
        AssetWatcher(
            name="realtimekit_pushed_summaries",
            trigger=RealtimeKitPushedDocumentsTrigger(
                realtimekit_conn_id="realtimekit_default", documents=["summary"]
            ),
        )
    ],
)

with DAG(
    dag_id="rtk_copy_transcripts",
    schedule=[session_transcripts],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={
        "session_id": Param(
            None, type=["null", "string"], pattern=ID_PATTERN, title="Session id (manual runs only)"
        ),
        "destination": Param(
            "file:///tmp/realtimekit/transcripts", type="string", title="Destination folder (URL)"
        ),
    },
) as dag:
    RealtimeKitSessionTranscriptToObjectStorageOperator(
        task_id="copy_transcript",
        # empty on a scheduled run: the sessions of the run's triggering asset events
        session_id="{{ params.session_id or '' }}",
        destination="{{ params.destination }}",
        include=("transcript", "summary"),
        deferrable=True,
        poll_interval=60,
        wait_timeout=2 * 3600,
    )
