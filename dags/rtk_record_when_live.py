"""Record every meeting of the app when it goes live: scheduled on an asset watched in the triggerer.

``RealtimeKitLiveSessionTrigger`` (in an ``AssetWatcher``) lists the live sessions of
``realtimekit_default``'s app and fires once per new live session; each event updates the asset
``realtimekit_live_sessions`` and the scheduler starts a run. The run records the meeting named by its
triggering event and follows the recording until its files are ``UPLOADED``.

One run per live session: on Airflow 3.4+ each asset event starts its own run (``[scheduler]
batch_asset_events``, False by default), so two sessions going live together make two runs. Below 3.4,
or with that setting True, two sessions going live between two scheduler loops give one run both
events, and the run records both meetings (one mapped task each). Known gap of Airflow 3.3's scheduler:
events saved after the first one queued the DAG and before its run is created are left for the asset's
next event (the run takes only events up to the first one's queue time), so sessions found by one
poll, or pushed within one scheduler loop, can wait for the next session to go live (measured:
benchmarks/README.md, section 7); Airflow 3.4 closes it (apache/airflow#70972). A repeated
event (a triggerer restart below Airflow 3.3, or a manual rerun) never starts a second recording: the
start operator's ``if_active="attach"`` follows the recording the meeting already has.

A manual run (UI or REST) records the meeting in ``params.meeting_id`` instead.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, Param, task

from airflow_provider_rtk.arguments import ID_PATTERN
from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator
from airflow_provider_rtk.triggers.live_session import RealtimeKitLiveSessionTrigger

#: Every meeting of the connection's app (pass ``meeting_ids=[...]`` to watch only some).
live_sessions = Asset(
    name="realtimekit_live_sessions",
    watchers=[
        AssetWatcher(
            name="realtimekit_default_live_sessions",
            trigger=RealtimeKitLiveSessionTrigger(
                realtimekit_conn_id="realtimekit_default", poll_interval=10
            ),
        )
    ],
)

with DAG(
    dag_id="rtk_record_when_live",
    schedule=[live_sessions],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={
        "meeting_id": Param(
            None,
            type=["null", "string"],
            pattern=ID_PATTERN,
            title="Meeting id (manual runs only)",
        ),
    },
) as dag:

    @task
    def meetings_gone_live(**context: Any) -> list[str]:
        """The meetings named by this run's triggering events (one per live session), or the
        ``meeting_id`` param of a manual run; each meeting once."""
        from airflow_provider_rtk.assets import meetings_from_asset_events

        meeting_ids = meetings_from_asset_events(context.get("triggering_asset_events") or {})
        manual = (context.get("params") or {}).get("meeting_id")
        if manual:
            meeting_ids = list(dict.fromkeys([*meeting_ids, manual]))
        if not meeting_ids:
            raise ValueError("no live-session event and no params.meeting_id: nothing to record")
        return meeting_ids

    RealtimeKitStartTrackRecordingOperator.partial(
        task_id="record",
        layers={
            "default": {"file_name_prefix": "live_{{ dag_run.run_after | ds_nodash }}", "media_kind": "audio"}
        },
        if_active="attach",
        wait_for_completion=True,
        poll_interval=5,
        deferrable=True,
    ).expand(meeting_id=meetings_gone_live())
