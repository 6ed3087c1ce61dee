"""The triggers' fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def generous_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The triggerer's budget for the shared poller (``[realtimekit] poll_requests_per_second``) raised
    from its default of 2 requests a second to 100, so a test's handful of reads is not spaced half a
    second apart (a budget's own spacing is tested on ``RequestBudget`` itself)."""
    monkeypatch.setenv("AIRFLOW__REALTIMEKIT__POLL_REQUESTS_PER_SECOND", "100")
