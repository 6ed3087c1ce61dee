"""A DAG test as a user writes one: the provider's pytest plugin (entry point ``pytest11``) gives the
``realtimekit_connection`` fixture, an emulator with ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT`` pointing at it.

The DAG lives in the DAGs folder (``dag.test()`` of Airflow 3.3 runs only DAGs it finds in a bundle).
``make check-wheel`` runs this file against the installed wheel (Airflow's metadata DB made first with
``airflow db migrate``); the docs show it as the plugin's example.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


def load_dag(dag_id: str):
    """The DAG from its file in the DAGs folder, as the scheduler would find it."""
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    spec = importlib.util.spec_from_file_location(dag_id, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


@pytest.mark.realtimekit_emulator(invoke_delay=0)
def test_the_dag_records_the_meeting_it_is_given(realtimekit_connection):
    meeting_id = realtimekit_connection.create_meeting("standup")["id"]
    realtimekit_connection.start_session(meeting_id)

    dag_run = load_dag("record_standup").test(run_conf={"meeting_id": meeting_id})

    assert str(dag_run.state) == "success"
    (recording,) = realtimekit_connection.recordings()
    assert recording["meeting_id"] == meeting_id
    assert recording["request_body"]["layers"]["default"]["file_name_prefix"] == "standup"
