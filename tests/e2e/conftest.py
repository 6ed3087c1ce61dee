"""The end-to-end suite: real Airflow services on loopback, driven through the REST API and a browser.

Selected only with ``-m e2e`` (``make test-e2e``); a plain ``pytest`` run deselects it. The profile is
``RTK_E2E_PROFILE=local`` (default: LocalExecutor, SQLite) or ``distributed`` (PostgreSQL, Redis,
CeleryExecutor with two workers). Screenshots and the services' logs go to ``.e2e-artifacts/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import PROFILES, ROOT, EmulatorControl, Stack, running_stack

ARTIFACTS = ROOT / ".e2e-artifacts"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: the whole stack as users run it (real services, REST API, browser); -m e2e"
    )
    config.addinivalue_line(
        "markers", "distributed: e2e tests of the distributed profile only (RTK_E2E_PROFILE=distributed)"
    )
    config.addinivalue_line(
        "markers", "local: e2e tests of the local profile only (the chaos cases: one profile is enough)"
    )


def _in_e2e(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(Path(__file__).resolve().parent)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``e2e``; deselect (never skip) them unless ``-m`` names ``e2e``, and
    the ``distributed`` (``local``) ones unless that is the profile."""
    wanted = "e2e" in (config.getoption("markexpr", "") or "")
    profile = os.environ.get("RTK_E2E_PROFILE", "local")
    kept, deselected = [], []
    for item in items:
        if _in_e2e(item):
            item.add_marker(pytest.mark.e2e)
            other_profile = next(
                (name for name in PROFILES if name != profile and item.get_closest_marker(name)), None
            )
            if not wanted or other_profile:
                deselected.append(item)
                continue
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def profile() -> str:
    return os.environ.get("RTK_E2E_PROFILE", "local")


@pytest.fixture(scope="session")
def artifacts(profile: str) -> Path:
    """``.e2e-artifacts/<profile>/``, emptied at the start of the session (git ignores it)."""
    folder = ARTIFACTS / profile
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def stack(profile: str, artifacts: Path) -> Iterator[Stack]:
    """Every service of the profile, started once per session and always stopped at its end."""
    home = artifacts / "airflow-home"
    started = time.monotonic()
    with running_stack(profile, home) as running:
        print(f"\n[e2e] {profile} stack up in {time.monotonic() - started:.0f}s; logs:\n{running.logs()}")
        yield running


@pytest.fixture
def emulator(stack: Stack) -> EmulatorControl:
    assert stack.emulator is not None
    return stack.emulator


@pytest.fixture
def live_meetings(emulator: EmulatorControl) -> Iterator[Callable[[int, str], list[str]]]:
    """``live_meetings(count, title)``: that many new meetings, each with a live session. Every session
    still live is ended after the test, however it ended (none is left for the next tests, nor for the
    live-session watcher, which records every meeting of the app that goes live)."""
    started: list[str] = []

    def make(count: int, title: str) -> list[str]:
        meetings = [emulator.create_meeting(f"{title} {n}") for n in range(count)]
        for meeting_id in meetings:
            emulator.start_session(meeting_id)
            started.append(meeting_id)
        return meetings

    yield make
    for meeting_id in started:
        with contextlib.suppress(httpx.HTTPError):  # already ended by the test
            emulator.end_session(meeting_id)


@pytest.fixture
def end_once_recording(emulator: EmulatorControl) -> Iterator[Callable[[str], None]]:
    """``end_once_recording(meeting_id)``: everyone leaves the meeting a second after its recording is
    RECORDING, so the recording ends and uploads. Watches for at most four minutes."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def watch(meeting_id: str) -> None:
        deadline = time.monotonic() + 240
        while not stop.is_set() and time.monotonic() < deadline:
            if any(r["status"] == "RECORDING" for r in emulator.recordings(meeting_id)):
                if not stop.wait(1.0):
                    emulator.end_session(meeting_id)
                return
            stop.wait(0.3)

    def arrange(meeting_id: str) -> None:
        thread = threading.Thread(target=watch, args=(meeting_id,), daemon=True)
        threads.append(thread)
        thread.start()

    yield arrange
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
