"""The hooks' HTTP-layer fixtures: a respx router on the app's URL, the connection, a fast sync hook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from tests.api_answers import APP_URL, FAST, MEETING, set_conn


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=APP_URL, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def active(api: respx.MockRouter) -> respx.Route:
    """The meeting's active-recording route."""
    return api.get(f"/recordings/active-recording/{MEETING}")


@pytest.fixture
def hook(conn: None) -> Iterator[RealtimeKitHook]:
    hook = RealtimeKitHook(retry_policy=FAST)
    yield hook
    hook.close()
