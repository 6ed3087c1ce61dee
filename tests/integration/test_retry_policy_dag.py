"""Airflow's own task runner consults the retry policy: DAG runs under ``dag.test()`` against the emulator.

Version specific: task retry policies exist from Airflow 3.3. Below 3.3 the same DAGs load without the
policy (``retry_policy_kwargs()`` is empty) and the task's own retries apply, which is tested instead.
A 429 reschedules the task on Airflow 3.4+ (no retry spent) and retries it on 3.3.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_rtk.retry_policy import RESCHEDULES, SUPPORTED
from tests.integration.conftest import load_dag, task_states

UNKNOWN_RECORDING = "0b1c2d3e-0000-4000-8000-000000000000"


def _stop_task(dag_run):
    (ti,) = dag_run.get_task_instances()
    return ti


def test_without_the_policy_a_404_uses_every_retry(emulator):
    dag_run = load_dag("rtk_test_no_retry_policy").test(run_conf={"recording_id": UNKNOWN_RECORDING})
    assert str(dag_run.state) == "failed", task_states(dag_run)
    assert _stop_task(dag_run).try_number == 3  # retries=2
    stops = [r for r in emulator.requests() if r["method"] == "PUT" and UNKNOWN_RECORDING in r["path"]]
    assert len(stops) == 3


if SUPPORTED:

    def test_the_policy_fails_a_404_at_once(emulator):
        dag_run = load_dag("rtk_test_retry_policy").test(run_conf={"recording_id": UNKNOWN_RECORDING})
        assert str(dag_run.state) == "failed", task_states(dag_run)
        assert _stop_task(dag_run).try_number == 1
        stops = [r for r in emulator.requests() if r["method"] == "PUT" and UNKNOWN_RECORDING in r["path"]]
        assert len(stops) == 1

    def test_the_policy_waits_out_a_429_for_the_services_retry_after(emulator, live_meeting, monkeypatch):
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        connection = emulator.airflow_connection()
        connection["extra"]["max_attempts"] = 1
        monkeypatch.setenv("AIRFLOW_CONN_RTK_ONE_ATTEMPT", json.dumps(connection))
        with RealtimeKitHook() as hook:
            body = {
                "meeting_id": live_meeting,
                "layers": {"default": {"file_name_prefix": "rl", "media_kind": "audio"}},
            }
            recording = hook.start_track_recording(body)
        recording_id = getattr(recording, "recording", recording).id
        emulator.add_fault("pause_resume_stop_recording", "status", status=429, retry_after=2)

        dag_run = load_dag("rtk_test_retry_policy_rate_limited").test(run_conf={"recording_id": recording_id})

        assert str(dag_run.state) == "success", task_states(dag_run)
        # The delay Airflow recorded is the service's 2 s, not the task's own retry_delay of 45 s (read
        # from the metadata DB, not from the wall clock, which a busy machine stretches).
        if RESCHEDULES:
            _assert_rescheduled_once_after(dag_run, seconds=2.0)
        else:
            _assert_retried_once_after(dag_run, seconds=2.0)
        (stopped,) = [r for r in emulator.recordings() if r["id"] == recording_id]
        assert stopped["status"] in ("UPLOADING", "UPLOADED")  # the next run's stop went through

    def _assert_retried_once_after(dag_run, seconds: float) -> None:
        """Airflow 3.3: the first try failed with the policy's delay; the second stopped."""
        from airflow.models.taskinstancehistory import TaskInstanceHistory
        from airflow.utils.session import create_session
        from sqlalchemy import select

        assert _stop_task(dag_run).try_number == 2
        with create_session() as session:
            (first_try,) = session.scalars(
                select(TaskInstanceHistory).where(TaskInstanceHistory.dag_id == dag_run.dag_id)
            ).all()
        assert first_try.try_number == 1
        assert first_try.retry_delay_override == pytest.approx(seconds)

    def _assert_rescheduled_once_after(dag_run, seconds: float) -> None:
        """Airflow 3.4+: no retry spent; one reschedule of the first try, after the service's delay."""
        from airflow.models.taskreschedule import TaskReschedule
        from airflow.utils.session import create_session
        from sqlalchemy import select

        task = _stop_task(dag_run)
        assert task.try_number == 1
        with create_session() as session:
            (reschedule,) = session.scalars(
                select(TaskReschedule).where(TaskReschedule.ti_id == task.id)
            ).all()
        assert (reschedule.reschedule_date - reschedule.end_date).total_seconds() == pytest.approx(seconds)

else:

    def test_below_3_3_the_policy_dags_load_and_use_the_tasks_retries(emulator):
        task = load_dag("rtk_test_retry_policy").get_task("stop")
        assert not hasattr(task, "retry_policy")
        dag_run = load_dag("rtk_test_retry_policy").test(run_conf={"recording_id": UNKNOWN_RECORDING})
        assert str(dag_run.state) == "failed", task_states(dag_run)
        assert _stop_task(dag_run).try_number == 3
