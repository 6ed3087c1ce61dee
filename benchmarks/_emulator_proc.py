"""The emulator's CLI in a process of its own, for benchmarks that must not count its CPU as theirs.

:class:`EmulatorProcess` starts ``python -m airflow_provider_rtk.emulator -v`` on a free loopback port
and reads its request log (one line per request: time, method, path, status), so a benchmark can count
the API requests and 429s the service received in any time window. Steering goes through the
emulator's ``/_emulator/`` control endpoints.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from benchmarks.emulator_load import APP, TOKEN, Connection, server_usage

ACCOUNT_ID = "acc"
APP_ID = "app"
#: Path prefix of the API requests (control requests under ``/_emulator`` are not counted).
API_PREFIX = "/client/v4/accounts/"
#: Concurrent connections used to set up recordings.
SETUP_WORKERS = 32


@contextlib.contextmanager
def connection_env(value: str, name: str = "AIRFLOW_CONN_REALTIMEKIT_DEFAULT") -> Iterator[None]:
    """``name`` set to ``value`` for the block, then back to what it was."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def raise_open_files_limit(needed: int) -> None:
    """Let this process (and the processes it starts) hold ``needed`` file descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))


class EmulatorProcess:
    """A running emulator process and what it was asked: API requests as (time, status), in order.

    Use it as a context manager; ``options`` are extra CLI options (e.g. ``--second-start accept``).
    """

    def __init__(self, *options: str) -> None:
        self.options = list(options)
        self.port = 0
        self._process: subprocess.Popen[str] | None = None
        self._times: list[float] = []
        self._statuses: list[int] = []
        self._lock = threading.Lock()
        self._control: httpx.Client | None = None

    def __enter__(self) -> EmulatorProcess:
        command = [sys.executable, "-m", "airflow_provider_rtk.emulator", "--port", "0", "-v"]
        command += ["--account-id", ACCOUNT_ID, "--app-id", APP_ID, "--api-token", TOKEN]
        command += ["--invoke-delay", "0", "--upload-delay", "0", *self.options]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
        )
        assert self._process.stdout is not None
        first = self._process.stdout.readline()
        if "serving http://" not in first:
            self._process.kill()
            raise RuntimeError(f"the emulator did not start: {first!r}")
        self.port = int(first.split("serving http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        threading.Thread(target=self._read_log, daemon=True).start()
        self._control = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._control is not None:
            self._control.close()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)

    def _read_log(self) -> None:
        """Keep the request log: ``2026-12-01 21:13:09,023 GET /client/v4/... 200 0.3 ms``."""
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            parts = line.split()
            if len(parts) < 7 or not parts[3].startswith(API_PREFIX):
                continue
            try:
                at = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y-%m-%d %H:%M:%S,%f").timestamp()
                status = int(parts[4])
            except ValueError:
                continue
            with self._lock:
                self._times.append(at)
                self._statuses.append(status)

    # ---- what it was asked

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def cpu_seconds(self) -> float:
        """The emulator process's CPU so far (user + system)."""
        return server_usage(self.pid)[0]

    def requests_between(self, start: float, end: float) -> tuple[int, int]:
        """API requests logged with a time in ``[start, end)`` (epoch seconds): (all, answered 429)."""
        with self._lock:
            low = bisect.bisect_left(self._times, start)
            high = bisect.bisect_left(self._times, end)
            statuses = self._statuses[low:high]
        return len(statuses), statuses.count(429)

    def requests_total(self) -> int:
        with self._lock:
            return len(self._times)

    # ---- steering

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{APP}"

    def connection_json(self, **extra: Any) -> str:
        """``AIRFLOW_CONN_REALTIMEKIT_DEFAULT`` for this emulator (``extra`` added to the connection's)."""
        return json.dumps(
            {
                "conn_type": "realtimekit",
                "password": TOKEN,
                "host": self.base_url,
                "extra": {"account_id": ACCOUNT_ID, "app_id": APP_ID, **extra},
            }
        )

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a control endpoint (``path`` under ``/_emulator``); its ``data``."""
        assert self._control is not None
        answer = self._control.request(method, f"/_emulator{path}", json=body)
        answer.raise_for_status()
        return answer.json()["data"]

    def set_rate_limit(self, requests: int | None, window_seconds: float = 60.0) -> None:
        if requests is None:
            self.control("DELETE", "/rate-limit")
        else:
            self.control("POST", "/rate-limit", {"requests": requests, "window_seconds": window_seconds})

    def recordings(self) -> list[dict[str, Any]]:
        return self.control("GET", "/recordings")  # type: ignore[no-any-return]

    def live_meetings(self, prefix: str, count: int) -> list[str]:
        """``count`` meetings ``{prefix}-{n}``, each with a live session (nothing recorded yet)."""
        return asyncio.run(self._setup(prefix, count, record=False))

    def recording_meetings(self, prefix: str, count: int) -> list[tuple[str, str]]:
        """``count`` live meetings ``{prefix}-{n}``, each being recorded: (meeting id, recording id)."""
        return asyncio.run(self._setup(prefix, count, record=True))

    async def _setup(self, prefix: str, count: int, *, record: bool) -> Any:
        made: list[Any] = [None] * count

        async def work(first: int) -> None:
            connection = await Connection.open(self.port)
            try:
                for number in range(first, count, SETUP_WORKERS):
                    meeting_id = f"{prefix}-{number}"
                    status, body = await connection.call("POST", f"/_emulator/meetings/{meeting_id}/session")
                    if status != 200:
                        raise RuntimeError(f"session start failed: {status} {body[:200]!r}")
                    if not record:
                        made[number] = meeting_id
                        continue
                    status, body = await connection.call(
                        "POST", f"{APP}/recordings/track", {"meeting_id": meeting_id}
                    )
                    if status != 200:
                        raise RuntimeError(f"recording start failed: {status} {body[:200]!r}")
                    made[number] = (meeting_id, json.loads(body)["data"]["recording"]["id"])
            finally:
                connection.close()

        await asyncio.gather(*(work(first) for first in range(min(SETUP_WORKERS, count))))
        return made
