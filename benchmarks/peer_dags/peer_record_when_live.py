"""Peer of ``dags/rtk_record_when_live.py``: a DAG scheduled on an asset watched by a standard event
trigger (``FileDeleteTrigger`` in an ``AssetWatcher``), a ``@task`` feeding a mapped standard
``BashOperator``. Parsed by the benchmarks, never run."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.triggers.file import FileDeleteTrigger
from airflow.sdk import DAG, Asset, AssetWatcher, Param, task

live_sessions = Asset(
    name="peer_live_sessions",
    watchers=[
        AssetWatcher(
            name="peer_live_sessions_watcher",
            trigger=FileDeleteTrigger(filepath="/tmp/peer-live-session", poke_interval=10),
        )
    ],
)

with DAG(
    dag_id="peer_record_when_live",
    schedule=[live_sessions],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,
    tags=["realtimekit", "example"],
    doc_md=__doc__,
    params={"meeting_id": Param(None, type=["null", "string"], title="Meeting id (manual runs only)")},
) as dag:

    @task
    def meetings_gone_live(**context: Any) -> list[str]:
        """One command per meeting named by the triggering events, or the manual run's param."""
        events = context.get("triggering_asset_events") or {}
        meeting_ids = [str(event) for found in events.values() for event in found]
        manual = (context.get("params") or {}).get("meeting_id")
        if manual:
            meeting_ids = list(dict.fromkeys([*meeting_ids, manual]))
        if not meeting_ids:
            raise ValueError("no event and no params.meeting_id: nothing to record")
        return [f"echo record {meeting_id}" for meeting_id in meeting_ids]

    BashOperator.partial(
        task_id="record",
        env={"FILE_NAME_PREFIX": "live_{{ ds_nodash }}", "MEDIA_KIND": "audio"},
    ).expand(bash_command=meetings_gone_live())
