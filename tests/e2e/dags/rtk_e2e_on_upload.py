"""The e2e push case's downstream DAG (the stack copies this folder beside the example DAGs).

``rtk_e2e_on_upload`` is scheduled on an asset that only pushed ``recording.statusUpdate`` deliveries
at ``UPLOADED`` feed (its watcher makes no request); its one task returns the recording ids of the
run's asset events, so the test sees which upload started it. No task polls the recording.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_rtk.triggers.pushed_recording import RealtimeKitPushedRecordingTrigger

pushed_uploads = Asset(
    name="rtk_e2e_pushed_uploads",
    watchers=[
        AssetWatcher(
            name="rtk_e2e_pushed_uploads_watch",
            trigger=RealtimeKitPushedRecordingTrigger(
                realtimekit_conn_id="realtimekit_default", statuses=["UPLOADED"]
            ),
        )
    ],
)

with DAG(
    dag_id="rtk_e2e_on_upload",
    schedule=[pushed_uploads],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["realtimekit", "test"],
):

    @task
    def uploaded(triggering_asset_events: Any = None) -> list[str]:
        """The recording ids the run's asset events name."""
        return [
            str(event.extra["recording_id"])
            for events in (triggering_asset_events or {}).values()
            for event in events
            if "recording_id" in (event.extra or {})
        ]

    uploaded()
