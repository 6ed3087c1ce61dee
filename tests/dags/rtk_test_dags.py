"""DAGs the fault, retry and secrets tests run (copied into the tests' DAGs folder, not examples)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator

START = pendulum.datetime(2026, 11, 1, tz="UTC")
PARAMS = {
    "meeting_id": Param("", type="string"),
    "if_active": Param("attach", type="string"),
}
LAYERS = {"default": {"file_name_prefix": "fault-test", "media_kind": "audio"}}


def _dag(dag_id: str, retries: int = 1) -> DAG:
    return DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        params=PARAMS,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=1)},
        tags=["realtimekit", "test"],
    )


def _start(**options: object) -> RealtimeKitStartTrackRecordingOperator:
    """The start task every fault-test DAG runs, with that DAG's options."""
    return RealtimeKitStartTrackRecordingOperator(
        task_id="start", meeting_id="{{ params.meeting_id }}", layers=LAYERS, **options
    )


WAIT = {"wait_for_completion": True, "poll_interval": 0.5, "deferrable": False}

with _dag("rtk_test_start"):
    _start(if_active="{{ params.if_active }}")

with _dag("rtk_test_start_and_wait"):
    _start(**WAIT)

# The same without the task state store: a retry must reconcile through the service alone.
with _dag("rtk_test_start_and_wait_without_store"):
    _start(**WAIT, durable=False)

with _dag("rtk_test_timeout"):
    _start(**WAIT, timeout=3)

with _dag("rtk_test_deferred_timeout"):
    _start(**{**WAIT, "deferrable": True}, timeout=3)

with _dag("rtk_test_execution_timeout", retries=0):
    _start(**WAIT, execution_timeout=timedelta(seconds=4))

# Storage credentials: inline (a bad habit the operator still protects) and from connections.
with _dag("rtk_test_secrets", retries=0):
    RealtimeKitStartTrackRecordingOperator(
        task_id="start",
        meeting_id="{{ params.meeting_id }}",
        max_seconds=600,
        layers={
            "default": {
                "file_name_prefix": "secrets",
                "outputs": [
                    {
                        "type": "STORAGE_CONFIG",
                        "storage_config": {
                            "type": "aws",
                            "bucket": "inline-bucket",
                            "region": "us-east-1",
                            "access_key": "{{ var.value.rtk_test_value_a }}",
                            "secret": "{{ var.value.rtk_test_value_b }}",
                        },
                    },
                    {"type": "STORAGE_CONFIG", "storage_conn_id": "rtk_test_s3"},
                    {
                        "type": "STORAGE_CONFIG",
                        "storage_conn_id": "rtk_test_sftp",
                        "storage_config": {"path": "recordings/"},
                    },
                ],
            }
        },
    )

# Mapped, with layers as JSON text from a template: Airflow's own key-name redaction cannot see inside
# the text, and mapped operators render through a different path; the operator must mask it anyway.
with _dag("rtk_test_secrets_mapped", retries=0):
    RealtimeKitStartTrackRecordingOperator.partial(
        task_id="start",
        meeting_id="{{ params.meeting_id }}",
        max_seconds=600,
        layers="""{"default": {"file_name_prefix": "mapped", "outputs": [{"type": "STORAGE_CONFIG",
            "storage_config": {"type": "aws", "bucket": "b", "access_key": "{{ var.value.rtk_test_value_a }}",
                               "secret": "{{ var.value.rtk_test_value_b }}"}}]}}""",
    ).expand(if_active=["attach"])

# Ownership (issue: a recording is the task's only when it started it).
# A retry a few seconds later, so a test can act between the tries.
with _dag("rtk_test_start_slow_retry") as _slow:
    _slow.default_args["retry_delay"] = timedelta(seconds=4)
    _start(if_active="{{ params.if_active }}")

with _dag("rtk_test_wait_no_retries", retries=0):
    _start(**WAIT)

with _dag("rtk_test_deferred_execution_timeout", retries=0):
    _start(**{**WAIT, "deferrable": True}, execution_timeout=timedelta(seconds=4))

# The XCom backend of the tests (tests/xcom_backend.py) refuses this DAG's recording_id push.
with _dag("rtk_test_xcom_push_fails", retries=0):
    _start()

with _dag("rtk_test_xcom_push_fails_with_retry"):
    _start()

# The same, mapped over the meetings in params.meeting_id (comma-separated): each mapped start's retry
# must find its own try's recording in the task state store, whose scope holds the map index (Airflow
# 3.4: the region index, with map_index its compatibility name).
with _dag("rtk_test_xcom_push_fails_with_retry_mapped"):

    @task
    def meetings(params: dict[str, str] | None = None) -> list[str]:
        return (params or {})["meeting_id"].split(",")

    RealtimeKitStartTrackRecordingOperator.partial(task_id="start", layers=LAYERS).expand(
        meeting_id=meetings()
    )

# The legacy body (the emulator runs with legacy_track=True): the start answers 200 with no body.
with _dag("rtk_test_legacy_start_no_retries", retries=0):
    RealtimeKitStartTrackRecordingOperator(
        task_id="start",
        meeting_id="{{ params.meeting_id }}",
        layers={"default": {"file_name_prefix": "fault-test"}},
        max_seconds=600,
    )

# Two deployments race this legacy start (tests/integration/test_ownership.py): each waits, with a
# timeout that outlasts both starts, so each task's timeout shows what it may stop.
with _dag("rtk_test_legacy_race", retries=0):
    RealtimeKitStartTrackRecordingOperator(
        task_id="start",
        meeting_id="{{ params.meeting_id }}",
        layers={"default": {"file_name_prefix": "fault-test"}},
        max_seconds=600,
        **WAIT,
        timeout=25,
    )

with _dag("rtk_test_deferred_wait_no_retries", retries=0):
    _start(**{**WAIT, "deferrable": True})

# Deferred with a timeout: the triggers' poller waits out a failing API until it (issue 18).
with _dag("rtk_test_deferred_wait_timeout_no_retries", retries=0):
    _start(**{**WAIT, "deferrable": True}, timeout=4)

# Recordings as assets: the start task waits for the files and its outlet's event describes them.
from airflow.sdk import Asset  # noqa: E402

RECORDING_ASSET = Asset("rtk://recordings/fault-test")

with _dag("rtk_test_recording_asset", retries=0):
    _start(**WAIT, outlets=[RECORDING_ASSET])
