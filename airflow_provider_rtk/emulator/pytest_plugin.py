"""pytest plugin: ``pytest -p airflow_provider_rtk.emulator.pytest_plugin`` gives tests a running emulator.

Fixtures:

- ``realtimekit_emulator``: a started :class:`RealtimeKitEmulator` per test (fast delays of 0.1 s).
- ``realtimekit_connection``: the same, with ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT`` pointing at it.

Constructor options per test (any :class:`RealtimeKitEmulator` option), e.g.
``@pytest.mark.realtimekit_emulator(legacy_track=True, invoke_delay=0, second_start="accept")``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.emulator import RealtimeKitEmulator

MARKER = "realtimekit_emulator"
CONNECTION_ENV = "AIRFLOW_CONN_REALTIMEKIT_DEFAULT"
#: Short, not zero: a test still sees INVOKED and UPLOADING, as against the real service.
FIXTURE_DEFAULTS: dict[str, Any] = {"invoke_delay": 0.1, "upload_delay": 0.1}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(**options): RealtimeKitEmulator options for the realtimekit_emulator fixture"
    )


@pytest.fixture
def realtimekit_emulator(request: pytest.FixtureRequest) -> Iterator[RealtimeKitEmulator]:
    """A RealtimeKit emulator on a free loopback port, stopped after the test."""
    from airflow_provider_rtk.emulator.emulator import RealtimeKitEmulator

    options = dict(FIXTURE_DEFAULTS)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    with RealtimeKitEmulator(**options) as emulator:
        yield emulator


@pytest.fixture
def realtimekit_connection(
    realtimekit_emulator: RealtimeKitEmulator, monkeypatch: pytest.MonkeyPatch
) -> RealtimeKitEmulator:
    """The emulator, with Airflow's default RealtimeKit connection pointing at it."""
    monkeypatch.setenv(CONNECTION_ENV, realtimekit_emulator.airflow_connection_json())
    return realtimekit_emulator
