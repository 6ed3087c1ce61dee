"""The recording link: the URL function and the operator link's XCom read."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_rtk import links
from airflow_provider_rtk.exceptions import RealtimeKitConnectionConfigError
from airflow_provider_rtk.get_provider_info import get_provider_info
from airflow_provider_rtk.links import RealtimeKitRecordingLink, check_link_template, recording_url
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
    "base_url",
    [
        "http://127.0.0.1:8787/client/v4",
        "http://localhost:8787",
        "https://rtk.example.com:8443/proxy/client/v4/",
    ],
)
def test_other_base_urls_have_no_link_unless_the_connection_names_one(base_url):
    assert recording_url(base_url, "ACC", "APP", "REC") is None


@pytest.mark.parametrize(
    ("base_url", "template", "expected"),
    [
        (
            "http://127.0.0.1:8787/client/v4",
            "http://127.0.0.1:8787/_emulator/recordings/{recording_id}",
            "http://127.0.0.1:8787/_emulator/recordings/REC",
        ),
        (
            "https://proxy.example.com/client/v4",
            "https://rec.example.com/{account_id}/{app_id}/{recording_id}?view=1",
            "https://rec.example.com/ACC/APP/REC?view=1",
        ),
        (  # the connection's link wins over the dashboard
            "https://api.cloudflare.com/client/v4",
            "  https://mirror.example.com/r/{recording_id}  ",
            "https://mirror.example.com/r/REC",
        ),
        (
            "https://x.example.com",
            "https://x.example.com/{{literal}}/{recording_id}",
            "https://x.example.com/{literal}/REC",
        ),
    ],
)
def test_the_connections_link_is_filled_in(base_url, template, expected):
    assert recording_url(base_url, "ACC", "APP", "REC", link_template=template) == expected


@pytest.mark.parametrize("template", [None, "", "   "])
def test_an_unset_link_falls_back(template):
    assert check_link_template(template) is None
    assert recording_url("http://127.0.0.1:1", "ACC", "APP", "REC", link_template=template) is None


def test_odd_characters_cannot_change_the_path():
    url = recording_url(
        "http://127.0.0.1:8787/client/v4",
        "A/B",
        "APP",
        "../x?y#z",
        link_template="https://h/{account_id}/{recording_id}",
    )
    assert url == "https://h/A%2FB/..%2Fx%3Fy%23z"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (42, "must be a string, not int"),
        (
            "https://h/{meeting_id}/{recording_id}",
            r"may only use \{recording_id\}, \{account_id\}, \{app_id\}, not \{meeting_id\}",
        ),
        ("https://h/{recording_id!r}", r"not \{recording_id!r\}"),
        ("https://h/{recording_id:>40}", r"not \{recording_id:>40\}"),
        ("https://h/{0}", r"not \{0\}"),
        ("https://h/{}", r"not \{\}"),
        ("https://h/recordings", r"must contain \{recording_id\}"),
        ("https://h/{recording_id", "is not a valid template"),
        ("ftp://h/{recording_id}", "must be an http or https URL"),
        ("javascript:alert(1)//{recording_id}", "must be an http or https URL"),
        ("/relative/{recording_id}", "must be an http or https URL"),
    ],
)
def test_a_bad_link_names_the_extra_and_the_problem(template, problem):
    with pytest.raises(RealtimeKitConnectionConfigError, match=r"^extra\.recording_link .*" + problem):
        check_link_template(template)
    with pytest.raises(RealtimeKitConnectionConfigError, match=r"^extra\.recording_link "):
        recording_url("https://api.cloudflare.com/client/v4", "ACC", "APP", "REC", link_template=template)


@given(
    recording_id=st.from_regex(ID_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 64),
    port=st.integers(min_value=1, max_value=65535),
)
def test_link_keeps_scheme_host_port_and_id(recording_id, port):
    template = f"http://127.0.0.1:{port}/view/{{recording_id}}"
    url = recording_url(
        f"http://127.0.0.1:{port}/client/v4", "ACC", "APP", recording_id, link_template=template
    )
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", f"127.0.0.1:{port}")
    assert parts.path == f"/view/{recording_id}"


def test_links_know_nothing_of_the_emulator():
    source = Path(links.__file__).read_text()
    assert "emulator" not in source.lower()


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


def _settings(extra: dict[str, Any]) -> Any:
    from airflow.models.connection import Connection

    from airflow_provider_rtk.hooks.realtimekit import ConnectionSettings

    connection = Connection(
        conn_id="rtk_links",
        conn_type="realtimekit",
        password="a-token",
        host="http://127.0.0.1:8787/client/v4",
        extra={"account_id": "ACC", "app_id": "APP", **extra},
    )
    return ConnectionSettings.from_connection(connection)


def test_the_connection_carries_its_checked_link():
    template = "http://127.0.0.1:8787/view/{recording_id}"
    assert _settings({"recording_link": template}).recording_link == template
    assert _settings({}).recording_link is None


def test_a_connection_with_a_bad_link_fails_naming_the_field():
    with pytest.raises(
        RealtimeKitConnectionConfigError, match=r"'rtk_links'.*extra\.recording_link must contain"
    ):
        _settings({"recording_link": "http://127.0.0.1:8787/view"})
