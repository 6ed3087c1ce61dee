"""Section 7's two DAGs: one on a push-only watched asset (fed by the webhook receiver), one on a
polling watcher at its default ``poll_interval``; each runs a trivial task. The polling watcher uses
its own connection id (the same emulator values) so that pushes to ``realtimekit_default`` never feed
its asset: each DAG's runs come from its own path only."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_rtk.triggers.live_session import RealtimeKitLiveSessionTrigger

PUSH_DAG_ID = "rtk_bench_push"
POLL_DAG_ID = "rtk_bench_poll"
POLL_CONN_ID = "realtimekit_bench_poll"

pushed = Asset(
    name="rtk_bench_pushed_sessions",
    watchers=[
        AssetWatcher(
            name="rtk_bench_push",
            trigger=RealtimeKitLiveSessionTrigger(realtimekit_conn_id="realtimekit_default", push_only=True),
        )
    ],
)
polled = Asset(
    name="rtk_bench_polled_sessions",
    watchers=[
        AssetWatcher(
            name="rtk_bench_poll",
            trigger=RealtimeKitLiveSessionTrigger(realtimekit_conn_id=POLL_CONN_ID),  # default interval
        )
    ],
)

for dag_id, asset in ((PUSH_DAG_ID, pushed), (POLL_DAG_ID, polled)):
    with DAG(
        dag_id=dag_id,
        schedule=[asset],
        start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
        catchup=False,
        max_active_runs=64,
        tags=["realtimekit", "benchmark"],
    ):

        @task
        def noted() -> None:
            """Trivial: the benchmark measures when the run is queued."""

        noted()
