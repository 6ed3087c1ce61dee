"""DAGs the retry-policy tests run: the same failing stop with and without the policy, and a stop that
is rate limited once (copied into the tests' DAGs folder, not examples)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_rtk.operators.recording import RealtimeKitRecordingActionOperator
from airflow_provider_rtk.retry_policy import retry_policy_kwargs

START = pendulum.datetime(2026, 11, 1, tz="UTC")


def _stop_dag(dag_id: str, *, with_policy: bool, conn_id: str, retry_delay: timedelta) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        params={"recording_id": Param("", type="string")},
        tags=["realtimekit", "test"],
    ) as dag:
        RealtimeKitRecordingActionOperator(
            task_id="stop",
            recording_id="{{ params.recording_id }}",
            action="stop",
            realtimekit_conn_id=conn_id,
            retries=2,
            retry_delay=retry_delay,
            **(retry_policy_kwargs() if with_policy else {}),
        )
    return dag


_stop_dag("rtk_test_retry_policy", with_policy=True, conn_id="realtimekit_default", retry_delay=timedelta(0))
_stop_dag(
    "rtk_test_no_retry_policy", with_policy=False, conn_id="realtimekit_default", retry_delay=timedelta(0)
)
# The hook makes one attempt per try here, so a 429 fails the try; the task's own delay is long on purpose.
_stop_dag(
    "rtk_test_retry_policy_rate_limited",
    with_policy=True,
    conn_id="rtk_one_attempt",
    retry_delay=timedelta(seconds=45),
)
