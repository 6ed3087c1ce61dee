"""Run one test DAG under ``dag.test()`` in a process of its own, with an Airflow home of its own.

``python -m tests.integration.separate_airflow DAG_ID MEETING_ID``, in the environment that
:func:`prepare` returns, prints one line ``RESULT`` + JSON (read it with :func:`result_of`): the run's
state and the start task's try number. Airflow may print after it (3.4 logs a failed close of the
async SQLite engine at exit). The connection comes from the environment
(``AIRFLOW_CONN_REALTIMEKIT_DEFAULT``). Used to race two independent Airflow deployments.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
RESULT = "separate_airflow result: "


def result_of(output: str) -> dict[str, object]:
    """The run's result in what the process printed."""
    (line,) = [line for line in output.splitlines() if line.startswith(RESULT)]
    return json.loads(line.removeprefix(RESULT))  # type: ignore[no-any-return]


def prepare(home: Path) -> dict[str, str]:
    """An Airflow home with its own SQLite database and the tests' DAGs; returns its environment."""
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    for source in (TESTS / "dags").glob("*.py"):
        shutil.copy(source, dags / source.name)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": str(TESTS.parent),
    }
    if not (home / "airflow.db").exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
        )
    return env


def main() -> None:
    dag_id, meeting_id = sys.argv[1:3]
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag_run = bag.dags[dag_id].test(run_conf={"meeting_id": meeting_id})
    (ti,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "start"]
    print(RESULT + json.dumps({"state": str(dag_run.state), "try_number": ti.try_number}), flush=True)


if __name__ == "__main__":
    main()
