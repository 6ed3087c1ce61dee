"""DAGs the hostile-input secrets tests run (copied into the tests' DAGs folder, not examples)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

# Layers from a variable that holds JSON text of JSON text (encoded twice), storage secrets inside:
# the task must refuse them, and no view of the run may show the secrets.
with DAG(
    dag_id="rtk_test_secrets_double_encoded",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    params={"meeting_id": Param("", type="string")},
    default_args={"retries": 0},
    tags=["realtimekit", "test"],
):
    RealtimeKitStartTrackRecordingOperator(
        task_id="start",
        meeting_id="{{ params.meeting_id }}",
        max_seconds=600,
        layers="{{ var.value.rtk_test_layers_text }}",
    )
