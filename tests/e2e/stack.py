"""Starts the whole stack as users run it, on loopback, and always stops what it started.

``local`` profile: the project's emulator, then Airflow's api-server, scheduler, dag-processor and
triggerer as separate commands (LocalExecutor, SQLite). ``distributed`` profile: PostgreSQL and Redis
as the metadata database and broker, the CeleryExecutor with two workers, and the same services.

Every command runs in its own process group (so stopping it ends its workers too), with its output in
``<home>/services/<name>.log``. The services share one JWT secret and one API secret key, know the
execution API's URL, and use free ports for the API and every log server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = ROOT / "dags"
COPY_TEST_DAG = ROOT / "tests" / "dags" / "rtk_copy_dags.py"
#: DAGs of the e2e suite's own (the chaos cases), copied into the stack's DAGs folder beside the examples.
E2E_DAGS = Path(__file__).resolve().parent / "dags"
ADMIN_USER = "admin"
EMULATOR_TOKEN = "e2e-emulator-token"
EMULATOR_ACCOUNT = "e2e-account"
EMULATOR_APP = "e2e-app"
PROFILES = ("local", "distributed")


class StackError(RuntimeError):
    """A service did not start or became unhealthy; the message ends with its log's tail."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Call ``check`` until it returns something truthy; :class:`StackError` naming ``what`` after
    ``timeout`` seconds (the last exception, if any, is in the message)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as error:
            last, result = error, None
        if result:
            return result
        time.sleep(every)
    raise StackError(f"timed out after {timeout:.0f}s waiting for {what}" + (f": {last!r}" if last else ""))


@dataclass
class Service:
    """One command in its own process group, its output in a log file."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.argv),
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the workers it forks
                cwd=self.log_path.parent,
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process is not None and not self.running():
            raise StackError(
                f"{self.name} exited with {self.process.returncode}; {self.log_path}:\n{self.log_tail()}"
            )

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM to the whole group, SIGKILL to what is left after ``grace`` seconds."""
        stop_all([self], grace)


def stop_all(services: Sequence[Service], grace: float = 20.0) -> None:
    """Stop several services at once: SIGTERM to every group, then SIGKILL to any group still alive
    after ``grace`` seconds (so teardown takes the slowest service's time, not the sum)."""
    groups = {service.process.pid: service.process for service in services if service.process is not None}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pgid in list(groups):
            try:
                os.killpg(pgid, sig)  # each service leads its own session and process group
            except ProcessLookupError:
                del groups[pgid]
        deadline = time.monotonic() + wait
        while groups and time.monotonic() < deadline:
            for pgid, process in list(groups.items()):
                process.poll()
                if not _group_alive(pgid):
                    del groups[pgid]
            time.sleep(0.2)
        if not groups:
            break
    for service in services:
        if service.process is not None:
            service.process.poll()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie leader keeps the group "alive" until it is reaped: count only live members
    return any(_pgid_of(pid) == pgid and not _is_zombie(pid) for pid in _pids())


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat[stat.rindex(")") + 2 :].split()


def _pgid_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[2]) if len(fields) > 2 else None


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return not fields or fields[0] == "Z"


class EmulatorControl:
    """The emulator's no-auth control endpoints (``/_emulator/...``), over HTTP."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.http = httpx.Client(base_url=f"{origin}/_emulator", timeout=10)

    def _data(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()["data"]

    def create_meeting(self, title: str, **flags: bool) -> str:
        """A new meeting (``flags``: ``transcribe_on_end``, ``summarize_on_end``); its id."""
        return str(self._data(self.http.post("/meetings", json={"title": title, **flags}))["id"])

    def start_session(self, meeting_id: str) -> str:
        """Someone joins: the meeting has a live session; its id."""
        return str(self._data(self.http.post(f"/meetings/{meeting_id}/session", json={}))["id"])

    def end_session(self, meeting_id: str) -> None:
        self._data(self.http.delete(f"/meetings/{meeting_id}/session"))

    def recordings(self, meeting_id: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._data(self.http.get("/recordings"))
        return [r for r in found if meeting_id is None or r["meeting_id"] == meeting_id]

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        """An injected fault (``operation``, ``kind``, ``status``, ``times``...: see its ``faults``)."""
        fault: dict[str, Any] = self._data(self.http.post("/faults", json=spec))
        return fault

    def clear_faults(self) -> None:
        self._data(self.http.delete("/faults"))

    def requests(self, since: float | None = None) -> list[dict[str, Any]]:
        """The API requests it received (``at`` >= ``since``, epoch seconds), oldest first: ``method``,
        ``path`` (from ``/accounts/``, no query), ``status`` (``dropped``; ``None`` until answered)."""
        params = {} if since is None else {"since": since}
        logged: list[dict[str, Any]] = self._data(self.http.get("/requests", params=params))
        api = [entry for entry in logged if "/accounts/" in entry["path"]]
        for entry in api:
            entry["path"] = entry["path"][entry["path"].index("/accounts/") :]
        return api

    def close(self) -> None:
        self.http.close()


class AirflowAPI:
    """Airflow's public REST API (``/api/v2``) with a token from ``/auth/token``."""

    def __init__(self, origin: str, username: str, password: str) -> None:
        self.origin = origin
        self.username = username
        self.password = password
        self.http = httpx.Client(base_url=f"{origin}/api/v2", timeout=30)

    def login(self) -> None:
        answer = httpx.post(
            f"{self.origin}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=30,
        )
        answer.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, **kwargs)
        if answer.status_code >= 400:
            raise AssertionError(f"{method} {path}: HTTP {answer.status_code}: {answer.text}")
        return answer.json() if answer.content else None

    def health(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.origin}/api/v2/monitor/health", timeout=5)
        answer.raise_for_status()
        health: dict[str, Any] = answer.json()
        return health

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """A run with ``logical_date: null`` (Airflow 3's default for API triggers); its run id."""
        run = self.request(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": dict(conf or {})}
        )
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return run

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.request("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
        return runs

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``task_id`` (``task_id[i]`` for mapped tasks) -> state."""
        rows = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        states: dict[str, str | None] = {}
        for ti in rows["task_instances"]:
            key = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            states[key] = ti["state"]
        return states

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        ti: dict[str, Any] = self.request("GET", path if map_index < 0 else f"{path}/{map_index}")
        return ti

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> dict[str, Any]:
        """The run once it has finished (``success`` or ``failed``)."""

        def finished() -> dict[str, Any] | None:
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in ("success", "failed") else None

        try:
            run: dict[str, Any] = wait_for(f"{dag_id} run {run_id} to finish", finished, timeout, every=1)
        except StackError as error:
            raise AssertionError(f"{error}; tasks: {self.task_instances(dag_id, run_id)}") from None
        return run

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        entry = self.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": True, "stringify": False, "map_index": map_index},
        )
        return entry["value"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1
    ) -> str:
        """The task's log as the UI shows it (the triggerer's lines of a deferred task included)."""
        answer = self.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"map_index": map_index, "full_content": True},
            headers={"Accept": "application/json"},
        )
        return "\n".join(
            str(line.get("event", "")) if isinstance(line, dict) else str(line) for line in answer["content"]
        )

    def close(self) -> None:
        self.http.close()


@dataclass
class Stack:
    """Everything one profile needs, started in order; :meth:`stop` ends it all in reverse."""

    profile: str
    home: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    api_port: int = field(default_factory=free_port)
    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    emulator: EmulatorControl | None = None
    api: AirflowAPI | None = None
    workers: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # ---- the pieces

    def _service(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Service:
        service = Service(name, argv, env or self.env, self.home / "services" / f"{name}.log").start()
        self.services.append(service)
        return service

    def _airflow(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Service:
        return self._service(name, [sys.executable, "-m", "airflow", *args], env)

    def _start_emulator(self) -> str:
        """The emulator on a free port; the ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT`` value it printed."""
        port = free_port()
        service = self._service(
            "emulator",
            [
                sys.executable,
                "-m",
                "airflow_provider_rtk.emulator",
                "--port",
                str(port),
                "--api-token",
                EMULATOR_TOKEN,
                "--account-id",
                EMULATOR_ACCOUNT,
                "--app-id",
                EMULATOR_APP,
            ],
            env={**_clean_environment(), "PYTHONUNBUFFERED": "1"},
        )
        origin = f"http://127.0.0.1:{port}"

        def up() -> bool:
            service.check_alive()
            return httpx.get(f"{origin}/_emulator/state", timeout=2).status_code == 200

        wait_for("the emulator", up, 30)
        self.emulator = EmulatorControl(origin)
        # the connection line the emulator prints, as a user copies it (with the token it was given)
        line = wait_for("the emulator's connection line", lambda: _connection_line(service.log_tail()), 10)
        connection = json.loads(line)
        connection["password"] = EMULATOR_TOKEN
        return json.dumps(connection)

    def _start_postgres(self) -> str:
        """A throw-away PostgreSQL cluster on a free port (run as ``postgres`` when we are root)."""
        bindir = _postgres_bindir()
        data, sockets = self.home / "pgdata", self.home / "pgsock"
        for folder in (data, sockets):
            folder.mkdir(parents=True, exist_ok=True)
        as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
            shutil.chown(sockets, "postgres", "postgres")
            self.home.chmod(0o755)
            as_user = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "airflow"],
            check=True,
            capture_output=True,
        )
        port = free_port()
        service = self._service(
            "postgres",
            [
                *as_user,
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(sockets),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=300",
            ],
            env=_clean_environment(),
        )

        def accepting() -> bool:
            service.check_alive()
            ready = subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            )
            return ready.returncode == 0

        wait_for("PostgreSQL", accepting, 60)
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "airflow"],
            check=True,
            capture_output=True,
        )
        return f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow"

    def _start_redis(self) -> str:
        port = free_port()
        service = self._service(
            "redis",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            env=_clean_environment(),
        )

        def pong() -> bool:
            service.check_alive()
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")

        wait_for("Redis", pong, 30)
        return f"redis://127.0.0.1:{port}/0"

    def _configure(self, connection: str, database_url: str, broker_url: str | None) -> None:
        dags = self.home / "dags"
        shutil.copytree(EXAMPLE_DAGS, dags, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(COPY_TEST_DAG, dags / COPY_TEST_DAG.name)  # the copy operator, driven by params
        for source in E2E_DAGS.glob("*.py"):
            shutil.copy(source, dags / source.name)
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({ADMIN_USER: self.password}))
        self.env = {
            **_clean_environment(),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if broker_url else "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "32" if broker_url else "8",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.origin}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the connection form's Test button
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": self.origin,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # A task's supervisor notices its process's exit at the next heartbeat tick (5 s by
            # default). A trigger that fires within that window makes Airflow 3.3's scheduler take the
            # deferring process's stale "success" for the resumed try and fail it (apache/airflow#67287,
            # #72716); docs/running.md gives users the same advice
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            # the connection exists before any service starts, as the README tells users to do
            "AIRFLOW_CONN_REALTIMEKIT_DEFAULT": connection,
            "PYTHONUNBUFFERED": "1",
        }
        if broker_url:
            self.env["AIRFLOW__CELERY__BROKER_URL"] = broker_url
            self.env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + database_url
            self.env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = "8"

    # ---- start and stop

    def start(self) -> Stack:
        """Start every service of the profile and wait until Airflow reports them healthy."""
        if self.profile not in PROFILES:
            raise StackError(f"RTK_E2E_PROFILE must be one of {PROFILES}, not {self.profile!r}")
        connection = self._start_emulator()
        if self.profile == "distributed":
            database_url, broker_url = self._start_postgres(), self._start_redis()
        else:
            database_url, broker_url = f"sqlite:///{self.home / 'airflow.db'}", None
        self._configure(connection, database_url, broker_url)
        migrate = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=self.env, capture_output=True, text=True
        )
        if migrate.returncode:
            raise StackError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}{migrate.stderr[-3000:]}")
        api = self._airflow("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port))
        self._airflow("scheduler", "scheduler")
        self._airflow("dag-processor", "dag-processor")
        self._airflow("triggerer", "triggerer")
        if broker_url:
            for number in (1, 2):
                worker_env = {**self.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
                self._airflow(
                    f"worker{number}",
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"worker{number}@%h",
                    env=worker_env,
                )
                self.workers += 1
        self.api = AirflowAPI(self.origin, ADMIN_USER, self.password)

        def healthy() -> bool:
            self.check_alive()
            health = self.api.health() if self.api else {}
            return all(
                health.get(part, {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_for("the API server's health", lambda: api.running() and healthy(), 180, every=1)
        self.api.login()
        wait_for("the example DAGs to be parsed", self._dags_parsed, 180, every=2)
        if broker_url:
            wait_for("two Celery workers", self._workers_ready, 120, every=1)
        return self

    def _dags_parsed(self) -> bool:
        assert self.api is not None
        errors = self.api.request("GET", "/importErrors")
        if errors["total_entries"]:
            raise StackError(f"the example DAGs do not import: {errors['import_errors']}")
        found = {
            dag["dag_id"] for dag in self.api.request("GET", "/dags", params={"tags": "example"})["dags"]
        }
        return {path.stem for path in EXAMPLE_DAGS.glob("rtk_*.py")} <= found

    def _workers_ready(self) -> bool:
        self.check_alive()
        return all(
            "ready." in service.log_tail(200)
            for service in self.services
            if service.name.startswith("worker")
        )

    def service(self, name: str) -> Service:
        (found,) = [service for service in self.services if service.name == name]
        return found

    def kill(self, name: str) -> None:
        """``kill -9`` a service's whole process group (the command and every process it forked, as a
        lost machine or an OOM kill would), and wait until none of them is left."""
        service = self.service(name)
        assert service.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=30)
        wait_for(f"{name}'s processes to be gone", lambda: not _group_alive(service.process.pid), 30, 0.2)

    def restart(self, name: str) -> Service:
        """Start a killed service again with the same command and environment (its log goes on)."""
        old = self.service(name)
        if old.running():
            raise StackError(f"{name} is still running: kill it first")
        new = Service(old.name, old.argv, old.env, old.log_path).start()
        self.services[self.services.index(old)] = new
        return new

    def check_alive(self) -> None:
        """:class:`StackError` with the log's tail if any service has exited."""
        for service in self.services:
            service.check_alive()

    def stop(self) -> None:
        """Stop every service, the last started first; closes the HTTP clients."""
        for client in (self.api, self.emulator):
            if client is not None:
                client.close()
        infrastructure = ("emulator", "postgres", "redis")
        # Airflow's services first, together; then what they use (the database last of all)
        stop_all([service for service in self.services if service.name not in infrastructure])
        for name in ("redis", "postgres", "emulator"):
            stop_all([service for service in self.services if service.name == name])

    def logs(self) -> str:
        """Where each service's output went."""
        return "\n".join(f"{service.name}: {service.log_path}" for service in self.services)

    def task_log_files(self, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
        """One try's log as the files Airflow wrote it (the worker's file and the triggerer's beside
        it), for a try the REST API no longer lists: when the scheduler fails a deferred task on a stale
        executor event (apache/airflow#67287, #72716) it keeps no history row for that try."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder /= f"map_index={map_index}"
        lines: list[str] = []
        for path in sorted(folder.glob(f"attempt={try_number}.log*")):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    lines.append(str(json.loads(line).get("event", "")))
                except (ValueError, AttributeError):
                    lines.append(line)
        return "\n".join(lines)


@contextmanager
def running_stack(profile: str, home: Path, stack_class: type[Stack] = Stack) -> Iterator[Stack]:
    """The stack of ``profile`` in ``home`` (a ``stack_class``, e.g. one that adds DAGs: the
    benchmarks' section 7); stopped on the way out whatever happened."""
    stack = stack_class(profile=profile, home=home)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # a SIGTERM to the test process (a CI timeout) still runs the teardown below
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield stack.start()
    finally:
        stack.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _connection_line(output: str) -> str | None:
    """The JSON in the emulator's ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT='...'`` line, if printed yet."""
    for line in output.splitlines():
        name, _, value = line.strip().partition("=")
        if name == "AIRFLOW_CONN_REALTIMEKIT_DEFAULT" and value.startswith("'"):
            return value.strip("'")
    return None


def _clean_environment() -> dict[str, str]:
    """The test process's environment without its Airflow settings (the tests' own home), with this
    checkout first on ``PYTHONPATH``: the services run the provider and emulator under test, whatever
    copy of the package the virtualenv has installed."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW_", "AIRFLOW__", "PYTEST_"))
    }
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *(part for part in environment.get("PYTHONPATH", "").split(os.pathsep) if part)]
    )
    return environment


def _postgres_bindir() -> Path:
    """The newest installed PostgreSQL's ``bin`` folder (Debian keeps ``initdb`` out of PATH)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise StackError("PostgreSQL is not installed: run .ci/install-e2e distributed")
    return versions[-1].parent
