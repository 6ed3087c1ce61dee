"""Test set-up: a private Airflow home (SQLite metadata DB, DAGs folder) made before Airflow is imported."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.hostile_server import HostileServer

#: The fixtures users get too: ``realtimekit_emulator`` and ``realtimekit_connection``.
pytest_plugins = ["airflow_provider_rtk.emulator.pytest_plugin"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = ROOT / "dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"

# Airflow reads its configuration when first imported: point it at a throw-away home first.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="rtk-airflow-home-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
DAGS_FOLDER = AIRFLOW_HOME / "dags"
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Airflow's own XCom, refusing one push for the ownership tests (see tests/xcom_backend.py)
        "AIRFLOW__CORE__XCOM_BACKEND": "tests.xcom_backend.RefusingXCom",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    }
)
for leftover in [name for name in os.environ if name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    del os.environ[leftover]


def _fill_dags_folder() -> None:
    """The example DAGs and the tests' own DAGs, where Airflow's DAG bundle finds them."""
    DAGS_FOLDER.mkdir(parents=True, exist_ok=True)
    for folder in (EXAMPLE_DAGS, TEST_DAGS):
        for source in folder.glob("*.py"):
            shutil.copy(source, DAGS_FOLDER / source.name)


_fill_dags_folder()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database (once per test session)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(autouse=True)
def _fresh_connection_lookups():
    """Each test looks its connections up anew (hooks keep a lookup for a while within a process)."""
    from airflow_provider_rtk.hooks import connection_cache

    connection_cache.clear()
    yield
    connection_cache.clear()


@pytest.fixture(autouse=True)
def _secrets_of_one_test_only() -> Iterator[None]:
    """Each test starts with the secrets known before it: what a test remembers (the provider's
    redaction, Airflow's masker) is forgotten after it (see ``tests/known_secrets.py`` for why)."""
    from tests.known_secrets import forgotten_afterwards

    with forgotten_afterwards():
        yield


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    """A hostile server on loopback (``tests/hostile_server.py``) that ``realtimekit_default`` points at,
    with one attempt per request (a misbehaving answer is seen at once, not retried)."""
    # imported here: they import Airflow, which must first see the environment set above
    from tests.api_answers import set_conn
    from tests.hostile_server import HostileServer

    with HostileServer() as server:
        set_conn(
            monkeypatch,
            host=server.base_url,
            extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 1},
        )
        yield server
