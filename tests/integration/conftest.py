"""DAG-level fixtures: a real emulator on loopback, the connection pointing at it, and a DAG runner."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import airflow.sdk
import pytest

from tests.conftest import DAGS_FOLDER

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator import RealtimeKitEmulator

pytestmark = pytest.mark.dag

#: Whether this Airflow has the task state store (3.3+) that keeps what a start learnt across tries.
STATE_STORE = hasattr(airflow.sdk, "ResumableJobMixin")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.nodeid.split("/"):
            item.add_marker(pytest.mark.dag)


#: What the service does with a second concurrent start of one meeting is not documented: the
#: emulator refuses it (409) or accepts it (two recordings at once). Suites that use the fixture
#: ``second_start`` run in both modes.
SECOND_START_MODES = ("refuse", "accept")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "second_start" in metafunc.fixturenames:
        metafunc.parametrize("second_start", SECOND_START_MODES, indirect=True)


@pytest.fixture
def second_start(request: pytest.FixtureRequest) -> str:
    """The emulator's second-start mode for this test (``refuse`` unless parametrized)."""
    mode: str = getattr(request, "param", "refuse")
    marker = request.node.get_closest_marker("realtimekit_emulator")
    options = {**(marker.kwargs if marker else {}), "second_start": mode}
    request.node.add_marker(pytest.mark.realtimekit_emulator(**options), append=False)  # found first
    return mode


@pytest.fixture
def emulator(airflow_db: Any, realtimekit_connection: RealtimeKitEmulator) -> RealtimeKitEmulator:
    """The plugin's emulator (users test their DAGs with the same fixture), with a metadata DB, and
    ``realtimekit_default`` pointing at it. Options: ``@pytest.mark.realtimekit_emulator(legacy_track=True)``.
    """
    return realtimekit_connection


@pytest.fixture
def live_meeting(emulator: RealtimeKitEmulator) -> str:
    """A meeting with a live session."""
    meeting_id: str = emulator.create_meeting("standup")["id"]
    emulator.start_session(meeting_id)
    return meeting_id


@pytest.fixture
def when() -> Iterator[Callable[..., None]]:
    """``when(condition, action, after=0)``: while a DAG runs, do ``action`` once ``condition()`` holds
    (then ``after`` seconds more). Watches for at most two minutes; stopped at the end of the test."""
    stop = threading.Event()
    watchers: list[threading.Thread] = []

    def watch(condition: Callable[[], bool], action: Callable[[], Any], after: float = 0.0) -> None:
        def run() -> None:
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                if condition():
                    if not stop.wait(after):
                        action()
                    return
                stop.wait(0.1)

        thread = threading.Thread(target=run, daemon=True)
        watchers.append(thread)
        thread.start()

    yield watch
    stop.set()
    for thread in watchers:
        thread.join(timeout=5)


def recording_of(emulator: RealtimeKitEmulator, meeting_id: str, status: str = "RECORDING") -> bool:
    """Whether the meeting has a recording in ``status``."""
    return any(r["meeting_id"] == meeting_id and r["status"] == status for r in emulator.recordings())


@pytest.fixture
def end_session_once_recording(
    emulator: RealtimeKitEmulator, when: Callable[..., None]
) -> Callable[[str], None]:
    """Everyone leaves the meeting a second after its recording is running: the recording then ends."""

    def arrange(meeting_id: str) -> None:
        when(lambda: recording_of(emulator, meeting_id), lambda: emulator.end_session(meeting_id), after=1.0)

    return arrange


def load_dag(dag_id: str) -> Any:
    """A DAG as Airflow's DAG bundle parses it."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def task_states(dag_run: Any) -> dict[str, str]:
    """``task_id`` (with ``[map_index]`` for mapped tasks) -> state."""
    states = {}
    for ti in dag_run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[key] = str(ti.state)
    return states


def xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(
        run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key, map_indexes=map_index
    )
    with create_session() as session:
        row = session.scalars(query).first() if not hasattr(query, "first") else query.first()
        assert row is not None, f"no XCom {key!r} from {task_id}"
        return XComModel.deserialize_value(row)


#: version specific: Airflow 3.0's execution API fails to record asset-alias events that carry an extra
#: ("TypeError: unhashable type: 'dict'" while finishing the task, which still succeeds); 3.1+ records them
ALIAS_EVENTS_RECORDED = not __import__("airflow").__version__.startswith("3.0.")


def asset_events(uri_prefix: str) -> list[dict[str, Any]]:
    """The asset events recorded for assets whose URI starts with ``uri_prefix``: ``uri`` and ``extra``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri.startswith(uri_prefix))
        ).all()
        return [{"uri": uri, "extra": extra} for uri, extra in rows]


def console_text(captured: Any) -> str:
    """What a ``dag.test()`` run wrote to the console (``capfd.readouterr()``), less Airflow 3.0's debug
    echo of the task's requests to mask a secret (``MaskSecret``: the secret handed to the masker, by
    design, in the supervisor's own debug lines, never in the task log)."""
    lines = (captured.out + captured.err).splitlines(keepends=True)
    return "".join(line for line in lines if "MaskSecret" not in line)


@pytest.fixture
def fast_connection(emulator, monkeypatch):
    """The connection with a short request timeout and three attempts per call, so faults resolve fast."""
    conn = emulator.airflow_connection()
    conn["extra"] = {**conn["extra"], "timeout": 1, "max_attempts": 3}
    monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))


class Run:
    """A finished DAG run and what its tasks printed (``dag.test()`` logs to the console)."""

    def __init__(self, dag_run, output: str) -> None:
        self.dag_run = dag_run
        self.state = str(dag_run.state)
        self.output = output

    def task(self, task_id: str = "start"):
        (ti,) = [ti for ti in self.dag_run.get_task_instances() if ti.task_id == task_id]
        return ti

    def log(self, try_number: int | None = None, task_id: str = "start") -> str:
        """The task's log lines: of every try, or of one (tries are split at ``dag.test()``'s markers)."""
        tries = self.output.split("Task started ")[1:]
        assert tries, f"no log of task {task_id}"
        return "\n".join(tries) if try_number is None else tries[try_number - 1]


@pytest.fixture
def run(capfd):
    def run_dag(dag_id: str, meeting_id: str, **conf) -> Run:
        capfd.readouterr()
        dag_run = load_dag(dag_id).test(run_conf={"meeting_id": meeting_id, **conf})
        captured = capfd.readouterr()
        return Run(dag_run, captured.out + captured.err)

    return run_dag


def recordings_of(emulator: RealtimeKitEmulator, meeting_id: str) -> list[dict[str, Any]]:
    """Every recording of the meeting."""
    return [r for r in emulator.recordings() if r["meeting_id"] == meeting_id]


def every_request_answered(emulator: RealtimeKitEmulator, seconds: float = 60.0) -> None:
    """Wait until the emulator has answered every request it got (a ``delay`` fault's too, which has
    then had its effect): on a busy machine a delayed request can land well after the run ended."""
    deadline = time.monotonic() + seconds
    while any(request["status"] is None for request in emulator.requests()):
        assert time.monotonic() < deadline, emulator.requests()
        time.sleep(0.05)


def _clear_openlineage_settings() -> None:
    """The OpenLineage provider reads its settings once per process (``functools.cache``)."""
    from airflow.providers.openlineage import conf

    for value in vars(conf).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


@pytest.fixture
def lineage_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The OpenLineage provider's listener, enabled for this test only, its events appended to a file
    (``[openlineage] transport = {"type": "file", ...}``); returns a reader of the events so far.

    Its plugin registers the listener when a process first loads plugins, if lineage is enabled then;
    the test process loaded them long before, with lineage off, so the same listener is added here."""
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener

    try:
        from airflow.sdk.listener import get_listener_manager  # the task runner's (Airflow 3.1+)
    except ImportError:  # Airflow 3.0
        from airflow.listeners.listener import get_listener_manager

    manager = get_listener_manager()  # the plugins load now if not before, lineage still off
    path = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(path), "append": True}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "rtk-tests")
    _clear_openlineage_settings()
    listener = OpenLineageListener()
    assert not any(isinstance(plugin, OpenLineageListener) for plugin in manager.pm.get_plugins())
    manager.add_listener(listener)

    def read() -> list[dict[str, Any]]:
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    try:
        yield read
    finally:
        manager.pm.unregister(listener)
        listener.before_stopping(component=None)  # its pool of DAG-run event processes, if it made one
        _clear_openlineage_settings()
