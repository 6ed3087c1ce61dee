"""pytest plugin: ``pytest -p airflow_provider_rtk.emulator.pytest_plugin`` gives tests a running emulator.

Fixtures:

- ``realtimekit_emulator``: a started :class:`RealtimeKitEmulator` per test (fast delays of 0.1 s).
- ``realtimekit_connection``: the same, with ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT`` pointing at it.
- ``realtimekit_webhook_sink``: a started :class:`~.sink.WebhookSink` (a loopback webhook receiver that
  keeps every delivery and answers as told).

Constructor options per test (any :class:`RealtimeKitEmulator` option), e.g.
``@pytest.mark.realtimekit_emulator(legacy_track=True, invoke_delay=0, second_start="accept")``.
Webhook targets: ``webhooks=[{"name": ..., "url": ..., "events": [...]}]``; a ``url`` of ``"{sink}"``
is the ``realtimekit_webhook_sink``'s URL (the sink is then started for the test).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.emulator import RealtimeKitEmulator
    from airflow_provider_rtk.emulator.sink import WebhookSink

MARKER = "realtimekit_emulator"
CONNECTION_ENV = "AIRFLOW_CONN_REALTIMEKIT_DEFAULT"
#: The ``url`` of a marker's webhook that means "the realtimekit_webhook_sink".
SINK_URL = "{sink}"
#: Short, not zero: a test still sees INVOKED and UPLOADING, as against the real service; retries and
#: transcripts come quickly.
FIXTURE_DEFAULTS: dict[str, Any] = {
    "invoke_delay": 0.1,
    "upload_delay": 0.1,
    "webhook_retry_delays": (0.05, 0.1, 0.2),
    "transcript_delay": 0.1,
    "summary_delay": 0.1,
}


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
    webhooks = [dict(webhook) for webhook in options.get("webhooks", ())]
    for webhook in webhooks:
        if webhook.get("url") == SINK_URL:
            webhook["url"] = request.getfixturevalue("realtimekit_webhook_sink").url
    options["webhooks"] = webhooks
    with RealtimeKitEmulator(**options) as emulator:
        yield emulator


@pytest.fixture
def realtimekit_webhook_sink() -> Iterator[WebhookSink]:
    """A loopback webhook receiver (``.url``, ``.wait(n)``, ``.received``, ``.answer_next(...)``)."""
    from airflow_provider_rtk.emulator.sink import WebhookSink

    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def realtimekit_connection(
    realtimekit_emulator: RealtimeKitEmulator, monkeypatch: pytest.MonkeyPatch
) -> RealtimeKitEmulator:
    """The emulator, with Airflow's default RealtimeKit connection pointing at it."""
    monkeypatch.setenv(CONNECTION_ENV, realtimekit_emulator.airflow_connection_json())
    return realtimekit_emulator
