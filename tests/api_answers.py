"""What the RealtimeKit API answers, and the connection that points at it: plain helpers the unit and
integration tests share (the fixtures built on them are in the ``conftest.py`` files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_rtk.hooks._api import HttpRetryPolicy

if TYPE_CHECKING:
    import pytest

TOKEN = "TOKEN-abc123"
BASE = "http://rtk.test/client/v4"
APP_URL = f"{BASE}/accounts/ACC/realtime/kit/APP"
MEETING = "97440c6a-140b-40a9-9499-b23fd7a3868a"
CONN: dict[str, Any] = {
    "conn_type": "realtimekit",
    "password": TOKEN,
    "host": BASE,
    "extra": {"account_id": "ACC", "app_id": "APP"},
}
#: Retries without the wait: for tests that count them.
FAST = HttpRetryPolicy(initial_wait=0.001, max_wait=0.01)


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "realtimekit_default", **changes: Any) -> None:
    """Connection ``conn_id`` as :data:`CONN` with ``changes`` (a ``None`` leaves the field out)."""
    conn = {**CONN, **changes}
    conn = {key: value for key, value in conn.items() if value is not None}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def recording(rec_id: str = "rec-1", status: str = "RECORDING", **fields: Any) -> dict[str, Any]:
    return {"id": rec_id, "status": status, "meeting_id": MEETING, "invoked_time": now_iso(), **fields}


def track_download_url(*file_names: str, layer: str = "default") -> list[dict[str, Any]]:
    """A track recording's ``download_url`` in the docs' per-layer list form, one signed link a file."""
    links = {
        name: {"download_url": f"https://r2.example/{n}?X-Amz-Signature={n}"}
        for n, name in enumerate(file_names)
    }
    return [{"layer_name": layer, "download_urls": links}]


def ok(data: Any, status: int = 200, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"success": True, "data": data, **extra})


def list_answer(data: list[Any], total: int, start: int, end: int) -> httpx.Response:
    """A list answer with its paging."""
    return ok(data, paging={"total_count": total, "start_offset": start, "end_offset": end})


def rtk_error(
    status: int, message: str = "boom", code: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"success": False, "error": {"code": status if code is None else code, "message": message}}
    return httpx.Response(status, json=body, headers=headers)


def gateway_error(
    status: int, message: str, code: int = 10000, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}
    return httpx.Response(status, json=body, headers=headers)


def assert_no_token(error: BaseException) -> None:
    for text in (str(error), repr(error), repr(error.args), str(vars(error))):
        assert TOKEN not in text
