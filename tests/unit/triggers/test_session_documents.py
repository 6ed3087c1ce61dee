"""The trigger that waits for sessions' transcripts and summaries, driven with asyncio against a
respx-mocked API."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.triggers.events import SessionDocumentsEvent
from airflow_provider_rtk.triggers.session_documents import RealtimeKitSessionDocumentsTrigger
from tests.api_answers import APP_URL, rtk_error, set_conn

LINK = "http://files.test/t.csv?X-Amz-Signature=t41ggered"


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 1})


def _ready(document: str) -> httpx.Response:
    field = "transcript_download_url" if document == "transcript" else "summaryDownloadUrl"
    return httpx.Response(200, json={"success": True, "data": {"sessionId": "s", field: LINK}})


def _run(trigger: RealtimeKitSessionDocumentsTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), timeout=30))


def _trigger(**kwargs: Any) -> RealtimeKitSessionDocumentsTrigger:
    options: dict[str, Any] = {"session_ids": ["sess-1"], "poll_interval": 0.01, "end_time": time.time() + 20}
    return RealtimeKitSessionDocumentsTrigger(**{**options, **kwargs})


def test_it_fires_once_every_document_has_a_link_and_reads_a_ready_one_no_more() -> None:
    with respx.mock(base_url=APP_URL) as mock:
        transcript = mock.get("/sessions/sess-1/transcript").mock(return_value=_ready("transcript"))
        summary = mock.get("/sessions/sess-1/summary").mock(
            side_effect=[
                rtk_error(404, "not yet"),
                httpx.Response(200, json={"success": True}),
                _ready("summary"),
            ]
        )
        events = _run(_trigger())

    assert len(events) == 1
    event = SessionDocumentsEvent.parse(events[0])
    assert event.is_success
    assert event.session_ids == ["sess-1"]
    assert event.missing == []
    assert transcript.call_count == 1
    assert summary.call_count == 3
    assert "files.test" not in json.dumps(events)


def test_the_deadline_fires_a_timeout_naming_what_is_missing() -> None:
    with respx.mock(base_url=APP_URL) as mock:
        mock.get("/sessions/sess-1/transcript").mock(return_value=rtk_error(404, "not yet"))
        events = _run(_trigger(include="transcript", end_time=time.time() + 0.2))

    event = SessionDocumentsEvent.parse(events[0])
    assert event.is_timeout
    assert event.missing == ["sess-1/transcript"]
    assert "transcribe_on_end" in event.message


def test_an_api_that_keeps_failing_fires_an_error() -> None:
    with respx.mock(base_url=APP_URL) as mock:
        mock.get("/sessions/sess-1/transcript").mock(return_value=rtk_error(401, "bad token"))
        events = _run(_trigger(include=["transcript"]))
    assert SessionDocumentsEvent.parse(events[0]).is_error


def test_it_serializes_to_what_rebuilds_it() -> None:
    trigger = _trigger(session_ids=["a", "b"], include=["summary"])
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_rtk.triggers.session_documents.RealtimeKitSessionDocumentsTrigger"
    assert RealtimeKitSessionDocumentsTrigger(**kwargs).serialize() == (path, kwargs)
    assert kwargs["session_ids"] == ["a", "b"]
    assert kwargs["include"] == ["summary"]


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"session_ids": ["../x"]}, "session_ids"), ({"include": "notes"}, "include")]
)
def test_bad_arguments_are_field_errors(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        _trigger(**kwargs)
    assert field in error.value.paths
