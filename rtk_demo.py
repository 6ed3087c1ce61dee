"""The demo: every example DAG, end to end, against the local RealtimeKit emulator (``make demo``).

It lives beside ``dags/`` in the repository, not in the provider's package: it runs the repository's
example DAGs, which an installed wheel does not have. ``python rtk_demo.py [--dags-folder ./dags]``
does everything in one process:

1. starts the emulator on a free loopback port (recordings start after 0.5 s, upload in 1 s);
2. sets up Airflow on SQLite in ``.demo/airflow-home`` under the current directory (recreated each
   run; the DAGs folder is a copy of ``--dags-folder``), with the ``realtimekit_default`` connection
   and the ``rtk_standup_meeting_id`` Variable pointing at the emulator, and migrates its database;
3. runs each example DAG under ``dag.test()`` while a background "director" plays the meetings:
   sessions go live (the sensor-driven one only after its sensor has started waiting), and everyone
   leaves a second after the recording is running, so it stops and uploads;
4. prints, per DAG run, its state and every recording with its final status and files.

Airflow's own output goes to ``.demo/logs/`` (one file per DAG run); a failure shows the last error and
the log to read. The exit code is 0 only if every DAG run succeeded and every recording was uploaded.
Airflow is imported only after its environment is set, never when this module is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator import RealtimeKitEmulator

#: Emulator timing: seconds from start to RECORDING, and from stop to UPLOADED.
INVOKE_DELAY = 0.5
UPLOAD_DELAY = 1.0
#: Everyone leaves the meeting this many seconds after its recording reaches RECORDING.
LEAVE_AFTER = 1.0
#: The sensor-driven meeting goes live this many seconds after the sensor first finds it not live...
GO_LIVE_AFTER = 3.0
#: ...or this many seconds after its run started, whichever comes first.
GO_LIVE_LATEST = 30.0
#: A cue whose condition has not held by then is dropped.
CUE_DEADLINE = 150.0
#: Default for ``--run-timeout``: a DAG run still going after this long ends the demo (exit code 1).
RUN_TIMEOUT = 150.0
MIGRATE_TIMEOUT = 300.0

SCHEDULED = "rtk_scheduled_recording"
MANUAL = "rtk_manual_recording"
SENSOR_DRIVEN = "rtk_sensor_driven_recording"
FAN_OUT = "rtk_fan_out_recordings"
EXAMPLE_DAG_IDS = (SCHEDULED, MANUAL, SENSOR_DRIVEN, FAN_OUT)
STANDUP_VARIABLE = "rtk_standup_meeting_id"

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---- small helpers (no Airflow)


def short_id(value: str, keep: int = 8) -> str:
    """``5f0c1a2b…`` for a long id."""
    return value if len(value) <= keep + 1 else f"{value[:keep]}…"


def short_file_name(name: str) -> str:
    """A recorded file's name without its peer id and time stamp: ``standup_20261126_user-1_….webm``."""
    return re.sub(rf"(?<=_){_UUID}.*?(\.\w+)$", r"…\1", name)


def last_error(log_text: str) -> str | None:
    """The exception that ended the last traceback in an Airflow log, else its last error line."""
    lines = [_ANSI.sub("", line).rstrip() for line in log_text.splitlines()]
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("Traceback (most recent call last):"):
            for line in lines[start + 1 :]:
                if line and not line[0].isspace():
                    return line
            break
    for line in reversed(lines):
        if "[error" in line or " ERROR " in line:
            return line
    return None


def _elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s"


def _default_dags_folder() -> Path:
    """``./dags``, else the repository's ``dags/`` beside this file."""
    here = Path("dags")
    if here.is_dir():
        return here
    repository = Path(__file__).resolve().parent / "dags"
    return repository if repository.is_dir() else here


# ---- the terminal, and Airflow's output kept out of it


class Console:
    """The demo's own output on the original stdout, while fds 1 and 2 can go to a log file."""

    def __init__(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self.terminal: IO[str] = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", errors="replace")
        self._lock = threading.Lock()
        self.log_path: Path | None = None

    def say(self, text: str = "") -> None:
        with self._lock:
            self.terminal.write(text + "\n")
            self.terminal.flush()

    def capture(self, path: Path) -> None:
        """From now on, everything written to stdout or stderr (by any thread) goes to ``path``."""
        self._flush_std()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        finally:
            os.close(fd)
        self.log_path = path

    def release(self) -> None:
        """Stdout and stderr back where they were."""
        self._flush_std()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        self.log_path = None

    def close(self) -> None:
        self.release()
        for fd in self._saved:
            with suppress(OSError):
                os.close(fd)
        with suppress(OSError):
            self.terminal.close()

    @staticmethod
    def _flush_std() -> None:
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()


# ---- the director: plays the meetings while a DAG runs


@dataclass
class Cue:
    """Do ``action`` ``after`` seconds once ``condition()`` holds (or at ``fallback_at`` regardless)."""

    label: str
    condition: Callable[[], bool]
    action: Callable[[], object]
    after: float
    deadline: float
    fallback_at: float | None = None
    #: Where a cue that fails or expires says so (the run's notes).
    problems: list[str] = field(default_factory=list)
    due: float | None = None


class Director:
    """One background thread that plays the cues, and ends the demo if a DAG run hangs."""

    def __init__(self, on_timeout: Callable[[str], None]) -> None:
        self._on_timeout = on_timeout
        self._cues: list[Cue] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: tuple[str, float] | None = None
        self._thread = threading.Thread(target=self._run, name="rtk-demo-director", daemon=True)

    def start(self) -> Director:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def cue(
        self,
        label: str,
        condition: Callable[[], bool],
        action: Callable[[], object],
        *,
        after: float = 0.0,
        fallback_after: float | None = None,
        problems: list[str] | None = None,
    ) -> None:
        """Play ``action`` ``after`` seconds once ``condition()`` holds (or ``fallback_after`` anyway)."""
        now = time.monotonic()
        fallback_at = now + fallback_after if fallback_after is not None else None
        cue = Cue(label, condition, action, after, now + CUE_DEADLINE, fallback_at)
        if problems is not None:
            cue.problems = problems
        with self._lock:
            self._cues.append(cue)

    def watch(self, what: str, seconds: float) -> None:
        """``what`` must be over within ``seconds``, or the demo ends with ``on_timeout``."""
        self._watch = (what, time.monotonic() + seconds)

    def unwatch(self) -> None:
        self._watch = None

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            watch = self._watch
            if watch is not None and time.monotonic() > watch[1]:
                self._on_timeout(watch[0])
                return
            with self._lock:
                cues = list(self._cues)
            for cue in cues:
                if self._stop.is_set():
                    return
                if self._step(cue):
                    with self._lock:
                        self._cues.remove(cue)

    def _step(self, cue: Cue) -> bool:
        """Move one cue on; ``True`` when it is finished (played, failed or expired)."""
        now = time.monotonic()
        try:
            if cue.due is None:
                if cue.condition():
                    cue.due = now + cue.after
                elif cue.fallback_at is not None and now >= cue.fallback_at:
                    cue.due = now
                elif now > cue.deadline:
                    cue.problems.append(f"{cue.label}: never happened")
                    return True
            if cue.due is not None and now >= cue.due:
                cue.action()
                return True
        except Exception as error:
            cue.problems.append(f"{cue.label}: failed: {type(error).__name__}: {error}")
            return True
        return False


def first_asked(emulator: RealtimeKitEmulator, path_suffix: str) -> float | None:
    """When (``time.time()``) the emulator was first asked for a path ending in ``path_suffix``."""
    return min((r["at"] for r in emulator.requests() if r["path"].endswith(path_suffix)), default=None)


# ---- the runs


@dataclass
class DemoRun:
    """One example DAG's run: what it gets, what it records, how it ended."""

    dag_id: str
    run_conf: dict[str, Any] | None = None
    meetings: list[str] = field(default_factory=list)
    state: str = "not run"
    seconds: float = 0.0
    log: Path | None = None
    failed_tasks: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    recordings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Why this run does not count as a success (empty when it does)."""
        if self.state == "missing":
            return ["not in the DAGs folder, or it failed to import"]
        found = [] if self.state == "success" else [f"run {self.state}"]
        for meeting_id in self.meetings:
            count = sum(1 for r in self.recordings if r["meeting_id"] == meeting_id)
            if count != 1:
                found.append(f"meeting {short_id(meeting_id)} has {count} recordings, not 1")
        found += [
            f"recording {short_id(r['id'])} is {r['status']}"
            for r in self.recordings
            if r["status"] != "UPLOADED"
        ]
        return found


class Demo:
    """Runs the whole demo; :meth:`run` returns the exit code."""

    def __init__(self, dags_folder: Path, workdir: Path, run_timeout: float) -> None:
        self.source_dags = dags_folder.resolve()
        self.root = (workdir / ".demo").resolve()
        self.home = self.root / "airflow-home"
        self.logs = self.root / "logs"
        self.run_timeout = run_timeout
        self.console = Console()
        self.emulator: RealtimeKitEmulator | None = None
        self.director: Director | None = None
        self.runs: list[DemoRun] = []
        self.started = time.monotonic()

    # ---- set-up

    def prepare_home(self) -> None:
        """A fresh Airflow home with a copy of the DAGs, and the environment that points Airflow at it."""
        for folder in (self.home, self.logs):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        shutil.copytree(self.source_dags, self.home / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        for name in list(os.environ):
            if name.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) or name == "AIRFLOW_CONFIG":
                del os.environ[name]
        os.environ.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            }
        )

    def start_emulator(self) -> RealtimeKitEmulator:
        """The emulator (this imports Airflow: the environment is set by now), and the connection to it."""
        from airflow_provider_rtk.emulator import RealtimeKitEmulator

        emulator = RealtimeKitEmulator(invoke_delay=INVOKE_DELAY, upload_delay=UPLOAD_DELAY).start()
        self.emulator = emulator
        os.environ["AIRFLOW_CONN_REALTIMEKIT_DEFAULT"] = emulator.airflow_connection_json()
        return emulator

    def start_migration(self) -> subprocess.Popen[bytes]:
        """``airflow db migrate`` in the background, its output in ``logs/db-migrate.log``."""
        with open(self.logs / "db-migrate.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )

    def finish_migration(self, process: subprocess.Popen[bytes]) -> bool:
        try:
            code = process.wait(timeout=MIGRATE_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = -1
        if code == 0:
            return True
        log = self.logs / "db-migrate.log"
        tail = log.read_text(errors="replace").splitlines()[-15:]
        self.console.say(f"airflow db migrate failed (exit code {code}); the end of {self._shown(log)}:")
        for line in tail:
            self.console.say(f"  {line}")
        return False

    def load_dags(self) -> dict[str, Any]:
        """The DAGs of the (copied) DAGs folder, as Airflow's DagBag parses them; import errors shown."""
        try:
            from airflow.dag_processing.dagbag import DagBag
        except ImportError:  # Airflow 3.0
            from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

        bag = DagBag(dag_folder=str(self.home / "dags"))
        for path, error in sorted(bag.import_errors.items()):
            lines = str(error).strip().splitlines() or ["?"]
            self.console.say(f"Import error in {Path(path).name}: {lines[-1][:300]}")
        return dict(bag.dags)

    # ---- the meetings of each run

    def _emu(self) -> RealtimeKitEmulator:
        if self.emulator is None:
            raise RuntimeError("the emulator is not running")
        return self.emulator

    def _director(self) -> Director:
        if self.director is None:
            raise RuntimeError("the director is not running")
        return self.director

    def _live_meeting(self, title: str) -> str:
        emulator = self._emu()
        meeting_id: str = emulator.create_meeting(title)["id"]
        emulator.start_session(meeting_id)
        return meeting_id

    def _recording_in(self, meeting_id: str, status: str) -> bool:
        return any(r["meeting_id"] == meeting_id and r["status"] == status for r in self._emu().recordings())

    def _leave_once_recording(self, meeting_id: str, run: DemoRun) -> None:
        """Everyone leaves a second after the meeting's recording is running: it stops and uploads."""
        emulator = self._emu()
        self._director().cue(
            f"everyone leaves meeting {short_id(meeting_id)}",
            lambda: self._recording_in(meeting_id, "RECORDING"),
            lambda: emulator.end_session(meeting_id),
            after=LEAVE_AFTER,
            problems=run.notes,
        )

    def arrange(self, dag_id: str) -> DemoRun:
        """The meetings and the run's conf for one example DAG."""
        run = DemoRun(dag_id)
        if dag_id == SCHEDULED:
            meeting_id = self._live_meeting("Daily stand-up")
            os.environ[f"AIRFLOW_VAR_{STANDUP_VARIABLE.upper()}"] = meeting_id
            run.meetings = [meeting_id]
        elif dag_id == MANUAL:
            meeting_id = self._live_meeting("Board review")
            run.meetings = [meeting_id]
            run.run_conf = {
                "meeting_id": meeting_id,
                "file_name_prefix": "board-review",
                "storage": "realtimekit",
                "max_seconds": 600,
            }
        elif dag_id == SENSOR_DRIVEN:
            meeting_id = self._emu().create_meeting("All hands")["id"]
            run.meetings = [meeting_id]
            run.run_conf = {"meeting_id": meeting_id, "file_name_prefix": "all-hands"}
            self._go_live_once_waited_for(meeting_id, run)
        elif dag_id == FAN_OUT:
            run.meetings = [self._live_meeting(f"Room {n}") for n in (1, 2, 3)]
            run.run_conf = {"meeting_ids": run.meetings}
        for meeting_id in run.meetings:
            self._leave_once_recording(meeting_id, run)
        return run

    def _go_live_once_waited_for(self, meeting_id: str, run: DemoRun) -> None:
        """The meeting goes live a few seconds after the sensor first finds it not live."""
        emulator = self._emu()
        asked = f"/meetings/{meeting_id}/active-session"
        started = time.time()

        def sensor_waiting() -> bool:
            return first_asked(emulator, asked) is not None

        def go_live() -> None:
            emulator.start_session(meeting_id)
            now = time.time()
            first = first_asked(emulator, asked)
            waited = f", {now - first:.0f} s after the sensor started waiting" if first is not None else ""
            run.notes.append(f"the meeting went live {now - started:.0f} s into the run{waited}")

        self._director().cue(
            f"meeting {short_id(meeting_id)} goes live",
            sensor_waiting,
            go_live,
            after=GO_LIVE_AFTER,
            fallback_after=GO_LIVE_LATEST,
            problems=run.notes,
        )

    # ---- running

    def run_dag(self, dag: Any, run: DemoRun) -> None:
        """``dag.test()`` with Airflow's output in the run's log; the outcome is kept on ``run``."""
        run.log = self.logs / f"{run.dag_id}.log"
        self.console.capture(run.log)
        self._director().watch(f"the {run.dag_id} run", self.run_timeout)
        started = time.monotonic()
        try:
            dag_run = dag.test(run_conf=run.run_conf)
            run.state = str(getattr(dag_run.state, "value", dag_run.state))
            for ti in dag_run.get_task_instances():
                state = str(getattr(ti.state, "value", ti.state))
                if state != "success":
                    key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
                    run.failed_tasks[key] = state
        except Exception as error:
            run.state = "error"
            run.error = f"{type(error).__name__}: {error}"
        finally:
            run.seconds = time.monotonic() - started
            self._director().unwatch()
            self.console.release()
        if run.state != "success" and run.error is None:
            run.error = last_error(run.log.read_text(errors="replace"))

    def collect(self, run: DemoRun) -> None:
        """The run's recordings, as the emulator saw them, once their uploads are over."""
        deadline = time.monotonic() + 5 * UPLOAD_DELAY
        while True:
            run.recordings = [r for r in self._emu().recordings() if r["meeting_id"] in run.meetings]
            busy = any(r["status"] in ("INVOKED", "RECORDING", "UPLOADING") for r in run.recordings)
            if run.state != "success" or not busy or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    # ---- the report

    def _shown(self, path: Path) -> str:
        with suppress(ValueError):
            return str(path.relative_to(Path.cwd()))
        return str(path)

    def report(self, run: DemoRun) -> None:
        say = self.console.say
        took = f"  ({_elapsed(run.seconds)})" if run.log is not None else ""
        say(f"{run.dag_id}: {run.state}{took}")
        for recording in run.recordings:
            files = ", ".join(short_file_name(name) for name in recording["files"]) or "none"
            say(
                f"  recording {short_id(recording['id'])}  meeting {short_id(recording['meeting_id'])}  "
                f"{recording['status']}  files: {files}"
            )
        for note in run.notes:
            say(f"  ({note})")
        problems = run.problems
        if not problems:
            return
        say(f"  FAILED: {'; '.join(problems)}")
        for task, state in sorted(run.failed_tasks.items()):
            say(f"    task {task}: {state}")
        if run.error:
            say(f"    last error: {run.error[:500]}")
        if run.log is not None:
            say(f"    log: {self._shown(run.log)}")

    def write_json(self) -> Path:
        """Every run and the emulator's full recordings, for a closer look."""
        path = self.root / "report.json"
        data = {
            "runs": [
                {
                    "dag_id": run.dag_id,
                    "state": run.state,
                    "seconds": round(run.seconds, 1),
                    "run_conf": run.run_conf,
                    "meetings": run.meetings,
                    "problems": run.problems,
                    "failed_tasks": run.failed_tasks,
                    "error": run.error,
                    "log": str(run.log) if run.log else None,
                    "recordings": run.recordings,
                }
                for run in self.runs
            ],
        }
        path.write_text(json.dumps(data, indent=2, default=str))
        return path

    # ---- the whole demo

    def _timed_out(self, what: str) -> None:
        """A DAG run hangs: say so, stop the emulator, and end the process (nothing is left running)."""
        say, log = self.console.say, self.console.log_path
        say(f"{what} did not finish within {self.run_timeout:.0f} s: giving up.")
        if log is not None:
            say(f"  the last lines of {self._shown(log)}:")
            for line in log.read_text(errors="replace").splitlines()[-5:]:
                say(f"    {_ANSI.sub('', line)[:300]}")
        with suppress(Exception):
            self._emu().stop()
        say("FAILED")
        os._exit(1)

    def run(self) -> int:
        say = self.console.say
        migration: subprocess.Popen[bytes] | None = None
        try:
            if not self.source_dags.is_dir():
                say(f"No DAGs folder at {self.source_dags}: run from the repository root, or --dags-folder.")
                return 1
            self.prepare_home()
            home, source = self._shown(self.home), self._shown(self.source_dags)
            say(f"Airflow home {home} (SQLite); DAGs copied from {source}/")
            migration = self.start_migration()
            self.console.capture(self.logs / "airflow-setup.log")
            try:
                emulator = self.start_emulator()
                dags = self.load_dags()
            finally:
                self.console.release()
            say(
                f"RealtimeKit emulator on {emulator.base_url} "
                f"(recording after {INVOKE_DELAY} s, upload {UPLOAD_DELAY} s)"
            )
            ok = self.finish_migration(migration)
            migration = None
            if not ok:
                return 1
            say(f"Metadata database migrated; Airflow's output goes to {self._shown(self.logs)}/\n")
            self.director = Director(self._timed_out).start()
            for dag_id in EXAMPLE_DAG_IDS:
                dag = dags.get(dag_id)
                if dag is None:
                    run = DemoRun(
                        dag_id, state="missing", error="not in the DAGs folder, or failed to import"
                    )
                else:
                    run = self.arrange(dag_id)
                    self.run_dag(dag, run)
                    self.collect(run)
                self.runs.append(run)
                self.report(run)
            for dag_id in sorted(set(dags) - set(EXAMPLE_DAG_IDS)):
                say(f"{dag_id}: skipped (the demo has no meetings for it)")
            return self.summary()
        except KeyboardInterrupt:
            say("Interrupted.")
            return 130
        finally:
            if migration is not None and migration.poll() is None:
                migration.kill()
                migration.wait()
            if self.director is not None:
                self.director.stop()
            if self.emulator is not None:
                self.emulator.stop()
            self.console.close()

    def summary(self) -> int:
        say = self.console.say
        report = self.write_json()
        failed = [run for run in self.runs if run.problems]
        recordings = [r for run in self.runs for r in run.recordings]
        uploaded = sum(1 for r in recordings if r["status"] == "UPLOADED")
        took = _elapsed(time.monotonic() - self.started)
        say()
        if failed:
            say(
                f"FAILED: {len(failed)} of {len(self.runs)} DAG runs failed "
                f"({', '.join(run.dag_id for run in failed)}); {uploaded} of {len(recordings)} recordings "
                f"UPLOADED, in {took}. Details: {self._shown(report)}"
            )
            return 1
        say(
            f"OK: all {len(self.runs)} DAG runs succeeded and all {len(recordings)} recordings were "
            f"UPLOADED, in {took}."
        )
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python rtk_demo.py [--dags-folder DIR] [--run-timeout S]``."""
    parser = argparse.ArgumentParser(
        prog="python rtk_demo.py",
        description="Run every example DAG end to end against the local RealtimeKit emulator, "
        "on a throw-away SQLite Airflow in ./.demo/airflow-home.",
    )
    parser.add_argument(
        "--dags-folder",
        type=Path,
        default=None,
        help="the example DAGs to copy and run (default: ./dags, else the dags/ beside this file)",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=RUN_TIMEOUT,
        help=f"seconds one DAG run may take before the demo gives up (default: {RUN_TIMEOUT:.0f})",
    )
    args = parser.parse_args(argv)
    dags_folder = args.dags_folder if args.dags_folder is not None else _default_dags_folder()
    return Demo(dags_folder, Path.cwd(), args.run_timeout).run()


if __name__ == "__main__":
    sys.exit(main())
