"""connection.py owns the connection rules; the hook module still names them (their old home)."""

from __future__ import annotations

import ast
import inspect

import pytest

from airflow_provider_rtk import connection
from airflow_provider_rtk.hooks import _calls, connection_cache, realtimekit
from airflow_provider_rtk.models import SessionPage


@pytest.mark.parametrize(
    "name",
    [
        "ConnectionSettings",
        "SECOND_START_CHOICES",
        "_choice_extra",
        "_connection_problem",
        "_blank",
        "_path_segment",
        "_check_token",
        "_positive_extra",
        "_base_url",
    ],
)
def test_the_hook_module_still_names_what_moved_to_connection(name: str) -> None:
    assert getattr(realtimekit, name) is getattr(connection, name)


def test_session_page_still_importable_from_the_hook_module() -> None:
    assert realtimekit.SessionPage is SessionPage


def _imported_modules(module: object) -> set[str]:
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_no_type_cycle_between_the_connection_cache_and_the_hook() -> None:
    assert "airflow_provider_rtk.hooks.realtimekit" not in _imported_modules(connection_cache)
    assert "airflow_provider_rtk.connection" in _imported_modules(connection_cache)
    assert not {m for m in _imported_modules(connection) if m.startswith("airflow_provider_rtk.hooks")}


def test_connection_rules_and_calls_are_defined_outside_the_hook() -> None:
    assert connection.ConnectionSettings.__module__ == "airflow_provider_rtk.connection"
    assert SessionPage.__module__ == "airflow_provider_rtk.models"
    assert realtimekit._Calls is _calls._Calls
    assert "links" not in str(_imported_modules(realtimekit))  # the hook -> links dependency moved


def test_session_page_reads_like_the_recording_page() -> None:
    page = SessionPage.from_answer(
        {"sessions": [{"id": "s1", "status": "LIVE"}, {"status": 3}]},
        {"total_count": 2, "start_offset": 0, "end_offset": 2},
    )
    assert [s.id for s in page.sessions] == ["s1"]
    assert len(page.skipped) == 1
    assert page.skipped[0].startswith("item 1:")
    assert page.is_last
    with pytest.raises(TypeError, match="not a list"):
        SessionPage.from_answer({"sessions": None}, {})


# --------------------------------------------------------------------------------------------------
# extra.webhook_keys_url (the webhook receiver's key page)


def test_webhook_keys_url_defaults_to_cloudflares_page() -> None:
    from airflow_provider_rtk.webhooks.signature import DEFAULT_KEYS_URL

    assert connection.webhook_keys_url("rtk", {}) == DEFAULT_KEYS_URL
    assert connection.webhook_keys_url("rtk", {"webhook_keys_url": "  "}) == DEFAULT_KEYS_URL


@pytest.mark.parametrize(
    "url",
    ["https://keys.example.com/webhooks.json", "http://127.0.0.1:8787/.well-known/webhooks.json"],
)
def test_webhook_keys_url_accepts_https_and_loopback_http(url: str) -> None:
    assert connection.webhook_keys_url("rtk", {"webhook_keys_url": url}) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://keys.example.com/webhooks.json",
        "ftp://keys.example.com/x",
        "https://user:pw@keys.example.com/x",
        "/relative/path",
        "https://keys.example.com/a b",
        42,
        "https://keys.example.com:99999/x",  # these three failed only at a delivery, the extra unnamed
        "https://keys.example.com:0/x",
        "https://[::1/x",
        "https://user:pw@keys.example.com:99999/x",
    ],
)
def test_webhook_keys_url_refuses_anything_else_naming_the_extra(url: object) -> None:
    from airflow_provider_rtk.exceptions import RealtimeKitConnectionConfigError

    with pytest.raises(RealtimeKitConnectionConfigError, match=r"'rtk': extra\.webhook_keys_url") as caught:
        connection.webhook_keys_url("rtk", {"webhook_keys_url": url})
    assert "pw@" not in str(caught.value)
