"""Unit-test fixtures: the shared poller's knobs (``triggers/poller.py``) set so that a test waits
little, for the triggers' tests and a deferrable sensor's."""

from __future__ import annotations

import pytest


@pytest.fixture
def generous_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The triggerer's budget for the shared poller (``[realtimekit] poll_requests_per_second``) raised
    from its default of 2 requests a second to 100, so a test's handful of reads is not spaced half a
    second apart (a budget's own spacing is tested on ``RequestBudget`` itself)."""
    monkeypatch.setenv("AIRFLOW__REALTIMEKIT__POLL_REQUESTS_PER_SECOND", "100")


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared poller's backoff after a failed sweep shortened (from 1 s doubling to 30 s), so an
    outage of a second is several failures."""
    from airflow_provider_rtk.triggers import poller

    monkeypatch.setattr(poller, "BACKOFF_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(poller, "BACKOFF_MAX_SECONDS", 0.2)
