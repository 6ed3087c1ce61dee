"""The recording link: the URL function and the operator link's XCom read."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_rtk.get_provider_info import get_provider_info
from airflow_provider_rtk.links import RealtimeKitRecordingLink, recording_url
from airflow_provider_rtk.models import ID_PATTERN


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.cloudflare.com/client/v4",
        "https://api.cloudflare.com/client/v4/",
        "  https://api.cloudflare.com/client/v4 ",
        "api.cloudflare.com/client/v4",
        "",
    ],
)
def test_cloudflare_base_url_links_to_the_dashboard(base_url):
    assert (
        recording_url(base_url, "ACC", "APP", "REC")
        == "https://dash.cloudflare.com/ACC/realtime/kit/APP/recordings/REC"
    )


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8787/client/v4", "http://127.0.0.1:8787/_emulator/recordings/REC"),
        ("http://localhost:8787", "http://localhost:8787/_emulator/recordings/REC"),
        (
            "https://rtk.example.com:8443/proxy/client/v4/",
            "https://rtk.example.com:8443/_emulator/recordings/REC",
        ),
    ],
)
def test_other_base_urls_link_to_the_emulator_view(base_url, expected):
    assert recording_url(base_url, "ACC", "APP", "REC") == expected


def test_odd_characters_cannot_change_the_path():
    url = recording_url("http://127.0.0.1:8787/client/v4", "ACC", "APP", "../x?y#z")
    assert url == "http://127.0.0.1:8787/_emulator/recordings/..%2Fx%3Fy%23z"


@given(
    recording_id=st.from_regex(ID_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 64),
    port=st.integers(min_value=1, max_value=65535),
)
def test_emulator_url_keeps_scheme_host_port_and_id(recording_id, port):
    url = recording_url(f"http://127.0.0.1:{port}/client/v4", "ACC", "APP", recording_id)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", f"127.0.0.1:{port}")
    assert parts.path == f"/_emulator/recordings/{recording_id}"


class _RuntimeTI:
    """What Airflow 3 passes as ``ti_key`` on the worker: a runtime task instance with ``xcom_pull``."""

    def __init__(self, value: Any = None, error: Exception | None = None, map_index: int = -1) -> None:
        self.task_id = "start_recording"
        self.map_index = map_index
        self.value = value
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def xcom_pull(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return self.value


def test_link_returns_the_pushed_url():
    ti = _RuntimeTI("https://dash.cloudflare.com/ACC/realtime/kit/APP/recordings/REC", map_index=3)
    link = RealtimeKitRecordingLink().get_link(operator=None, ti_key=ti)
    assert link == "https://dash.cloudflare.com/ACC/realtime/kit/APP/recordings/REC"
    assert ti.calls == [{"task_ids": "start_recording", "key": "recording_url", "map_indexes": 3}]


@pytest.mark.parametrize(
    "ti",
    [
        _RuntimeTI(None),
        _RuntimeTI(["not", "a", "url"]),
        _RuntimeTI(error=RuntimeError("XCom backend down")),
        object(),  # a bare TaskInstanceKey-like object without xcom_pull
    ],
)
def test_link_is_empty_and_never_raises_without_a_url(ti):
    assert RealtimeKitRecordingLink().get_link(operator=None, ti_key=ti) == ""


def test_link_name_key_and_registration():
    link = RealtimeKitRecordingLink()
    assert link.name == "RealtimeKit recording"
    assert link.xcom_key == "_link_RealtimeKitRecordingLink"
    (classpath,) = get_provider_info()["extra-links"]
    module, _, name = classpath.rpartition(".")
    assert getattr(importlib.import_module(module), name) is RealtimeKitRecordingLink
