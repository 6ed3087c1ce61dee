"""The transcript copy operator against a respx-mocked API and download links, and against a hostile
server on loopback; the session ids a run's asset events name (``airflow_provider_rtk.assets``)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.assets import session_document_asset_extra, session_ids_from_asset_events
from airflow_provider_rtk.exceptions import (
    RealtimeKitCopyError,
    RealtimeKitDownloadLinksExpiredError,
    RealtimeKitError,
    RealtimeKitFilesNotDownloadableError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
)
from airflow_provider_rtk.transfers.session_transcript_to_object_storage import (
    RealtimeKitSessionTranscriptToObjectStorageOperator,
)
from airflow_provider_rtk.triggers.session_documents import RealtimeKitSessionDocumentsTrigger
from tests.api_answers import APP_URL, rtk_error, set_conn
from tests.hostile_server import json_answer, serve_file
from tests.recording_files import fresh_signature

try:  # Airflow 3.1+
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.0
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

SIGNATURE = "X-Amz-Signature=7ra45c41p7"
TRANSCRIPT_LINK = f"http://files.test/t/sess-1.csv?{SIGNATURE}"
SUMMARY_LINK = f"http://files.test/s/sess-1.txt?{SIGNATURE}"
CSV = b"start,end,speaker,text\n0.0,1.5,alice,hello everyone\n1.5,3.0,bob,hi alice\n" * 200
SUMMARY = b"Alice and Bob said hello.\n"


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 1})


def _operator(tmp_path, **kwargs: Any) -> RealtimeKitSessionTranscriptToObjectStorageOperator:
    options: dict[str, Any] = {
        "task_id": "copy_transcript",
        "session_id": "sess-1",
        "destination": f"file://{tmp_path}",
        "poll_interval": 0.05,
        "wait_timeout": 0.5,
        "asset_alias": None,
        "deferrable": False,
        **kwargs,
    }
    return RealtimeKitSessionTranscriptToObjectStorageOperator(**options)


def _expiry(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _transcript(link: str = TRANSCRIPT_LINK, expires_in: float = 3600) -> httpx.Response:
    data = {
        "sessionId": "sess-1",
        "transcript_download_url": link,
        "transcript_download_url_expiry": _expiry(expires_in),
    }
    return httpx.Response(200, json={"success": True, "data": data})


def _summary(link: str = SUMMARY_LINK) -> httpx.Response:
    data = {"sessionId": "sess-1", "summaryDownloadUrl": link, "summaryDownloadUrlExpiry": _expiry()}
    return httpx.Response(200, json={"success": True, "data": data})


def test_the_transcript_and_summary_land_byte_for_byte_and_xcom_holds_no_link(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript())
        mock.get(f"{APP_URL}/sessions/sess-1/summary").mock(return_value=_summary())
        mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        mock.get(SUMMARY_LINK).respond(200, content=SUMMARY)
        result = _operator(tmp_path).execute({})

    assert (tmp_path / "sess-1.transcript.csv").read_bytes() == CSV
    assert (tmp_path / "sess-1.summary.txt").read_bytes() == SUMMARY
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sess-1.summary.txt", "sess-1.transcript.csv"]
    assert result["session_ids"] == ["sess-1"]
    assert [(f["document"], f["name"], f["size_bytes"], f["copied"]) for f in result["files"]] == [
        ("transcript", "sess-1.transcript.csv", len(CSV), True),
        ("summary", "sess-1.summary.txt", len(SUMMARY), True),
    ]
    assert "files.test" not in json.dumps(result)
    assert SIGNATURE not in caplog.text


def test_a_transcript_format_asks_for_it_and_names_the_file(tmp_path) -> None:
    with respx.mock() as mock:
        read = mock.get(f"{APP_URL}/sessions/sess-1/transcript", params={"format": "VTT"}).mock(
            return_value=_transcript()
        )
        mock.get(TRANSCRIPT_LINK).respond(200, content=b"WEBVTT\n")
        result = _operator(tmp_path, include="transcript", transcript_format="vtt").execute({})
    assert read.called
    assert result["files"][0]["name"] == "sess-1.transcript.vtt"
    assert (tmp_path / "sess-1.transcript.vtt").read_bytes() == b"WEBVTT\n"


def test_a_rerun_skips_what_is_already_there(tmp_path) -> None:
    (tmp_path / "sess-1.transcript.csv").write_bytes(CSV)
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript())
        mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        result = _operator(tmp_path, include="transcript").execute({})
    assert result["files"][0]["copied"] is False


def test_it_waits_while_the_transcript_is_not_ready_then_copies(tmp_path) -> None:
    with respx.mock() as mock:
        reads = mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(
            side_effect=[
                rtk_error(404, "not ready"),
                httpx.Response(200, json={"success": True, "data": {}}),
                _transcript(),
            ]
        )
        mock.get(f"{APP_URL}/sessions/sess-1").respond(
            200, json={"success": True, "data": {"id": "sess-1", "status": "ENDED"}}
        )
        mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        _operator(tmp_path, include=["transcript"], wait_timeout=10).execute({})

    assert reads.call_count == 3
    assert (tmp_path / "sess-1.transcript.csv").read_bytes() == CSV


def test_a_session_the_service_does_not_know_fails_at_once(tmp_path) -> None:
    with respx.mock() as mock:
        reads = mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=rtk_error(404, "no"))
        mock.get(f"{APP_URL}/sessions/sess-1").mock(return_value=rtk_error(404, "no such session"))
        with pytest.raises(RealtimeKitNotFoundError):
            _operator(tmp_path, wait_timeout=30).execute({})
    assert reads.call_count == 1


def test_a_transcript_that_never_comes_times_out_with_a_hint(tmp_path) -> None:
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript())
        mock.get(f"{APP_URL}/sessions/sess-1/summary").mock(return_value=rtk_error(404, "no summary"))
        mock.get(f"{APP_URL}/sessions/sess-1").respond(200, json={"success": True, "data": {"id": "sess-1"}})
        mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        with pytest.raises(RealtimeKitFilesNotDownloadableError, match="summarize_on_end") as error:
            _operator(tmp_path).execute({})
    assert "sess-1/summary: not ready" in str(error.value)
    assert (tmp_path / "sess-1.transcript.csv").read_bytes() == CSV  # what was ready is copied


def test_an_expired_link_fails_before_any_download(tmp_path) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript(expires_in=-60))
        download = mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        with pytest.raises(RealtimeKitDownloadLinksExpiredError, match="transcript of session sess-1"):
            _operator(tmp_path, include="transcript").execute({})
    assert not download.called


def test_a_fresh_link_refused_again_means_it_expired(tmp_path) -> None:
    with respx.mock() as mock:
        reads = mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript())
        mock.get(TRANSCRIPT_LINK).respond(403)
        with pytest.raises(RealtimeKitDownloadLinksExpiredError, match="refused: 403") as error:
            _operator(tmp_path, include="transcript", wait_timeout=10).execute({})
    assert reads.call_count == 2  # one fresh link, at once
    assert SIGNATURE not in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"session_id": "sess/1"}, "session_id"),
        ({"session_id": None}, "session_id"),  # and no asset event names one
        ({"session_id": "None"}, "session_id"),
        ({"destination": "bucket/transcripts"}, "destination"),
    ],
)
def test_bad_input_is_a_field_error_before_any_request(tmp_path, kwargs: dict[str, Any], field: str) -> None:
    with respx.mock() as mock, pytest.raises(RealtimeKitPayloadError) as error:
        _operator(tmp_path, **kwargs).execute({"triggering_asset_events": {}})
    assert field in error.value.paths
    assert not mock.calls


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"include": "minutes"}, "include"),
        ({"include": []}, "include"),
        ({"max_file_size": 0}, "max_file_size"),
        ({"transcript_format": "docx"}, "transcript_format"),
        ({"poll_interval": 0}, "poll_interval"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(tmp_path, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        _operator(tmp_path, **kwargs)
    assert field in error.value.paths


# --------------------------------------------------------------------------------------------------
# Deferrable: the wait happens in the triggerer


def test_deferrable_defers_while_not_ready_and_copies_on_the_triggers_success(tmp_path) -> None:
    operator = _operator(tmp_path, deferrable=True, include=["transcript"], wait_timeout=600)
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=rtk_error(404, "not yet"))
        mock.get(f"{APP_URL}/sessions/sess-1").respond(200, json={"success": True, "data": {"id": "sess-1"}})
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, RealtimeKitSessionDocumentsTrigger)
    assert trigger.session_ids == ["sess-1"]
    assert trigger.include == ["transcript"]
    assert "files.test" not in json.dumps(trigger.serialize()[1])

    event = {"status": "success", "message": "ready", "session_ids": ["sess-1"], "include": ["transcript"]}
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript())
        mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        result = operator.execute_complete({}, event)
    assert result["files"][0]["size_bytes"] == len(CSV)
    assert (tmp_path / "sess-1.transcript.csv").read_bytes() == CSV


def test_deferrable_copies_at_once_when_ready_as_after_a_push(tmp_path) -> None:
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript())
        mock.get(f"{APP_URL}/sessions/sess-1/summary").mock(return_value=_summary())
        mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        mock.get(SUMMARY_LINK).respond(200, content=SUMMARY)
        result = _operator(tmp_path, deferrable=True).execute({})
    assert len(result["files"]) == 2


@pytest.mark.parametrize(
    ("status", "error"), [("timeout", RealtimeKitFilesNotDownloadableError), ("error", RealtimeKitError)]
)
def test_the_triggers_timeout_or_error_fails_the_task(tmp_path, status: str, error: type[Exception]) -> None:
    event = {
        "status": status,
        "message": "sess-1/transcript",
        "session_ids": ["sess-1"],
        "include": ["transcript"],
    }
    with respx.mock() as mock, pytest.raises(error, match="sess-1/transcript"):
        _operator(tmp_path, deferrable=True).execute_complete({}, event)
    assert not mock.calls


# --------------------------------------------------------------------------------------------------
# The sessions of a run's asset events


@dataclass
class _Event:
    extra: Any


def test_sessions_come_from_asset_events_each_once_with_their_meeting() -> None:
    events = {
        "recordings": [_Event({"recording_id": "rec-1", "session_id": "sess-1", "meeting_id": "meet-1"})],
        "pushed": [
            _Event({"session_id": "sess-2"}),
            _Event({"session_id": "sess-1", "meeting_id": "meet-1"}),
            _Event({"unrelated": True}),
            _Event(None),
        ],
        "live": [_Event({"payload": {"session_id": "sess-3", "meeting_id": "meet-3"}})],
    }
    assert session_ids_from_asset_events(events) == {"sess-1": "meet-1", "sess-2": None, "sess-3": "meet-3"}


def test_a_session_id_that_is_not_an_id_names_where_it_sits() -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        session_ids_from_asset_events(
            {"pushed": [_Event({"session_id": "sess-1"}), _Event({"session_id": "../x"})]}
        )
    assert error.value.paths == ["triggering_asset_events[pushed][1].extra.session_id"]


def test_the_operator_copies_each_session_of_the_runs_asset_events(tmp_path) -> None:
    context = {
        "triggering_asset_events": {"pushed": [_Event({"session_id": "sess-1", "meeting_id": "meet-1"})]}
    }
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/sessions/sess-1/transcript").mock(return_value=_transcript())
        mock.get(TRANSCRIPT_LINK).respond(200, content=CSV)
        result = _operator(tmp_path, session_id=None, include="transcript").execute(context)
    assert result["files"][0]["meeting_id"] == "meet-1"
    assert (tmp_path / "sess-1.transcript.csv").read_bytes() == CSV


def test_asset_extra_of_a_copied_document_names_no_link() -> None:
    extra = session_document_asset_extra(
        "sess-1", "meet-1", "summary", "sess-1.summary.txt", 26, "s3://b/sess-1.summary.txt", copied=True
    )
    assert extra == {
        "session_id": "sess-1",
        "meeting_id": "meet-1",
        "document": "summary",
        "file": {"name": "sess-1.summary.txt", "size_bytes": 26},
        "destination": "s3://b/sess-1.summary.txt",
        "copied": True,
    }


# --------------------------------------------------------------------------------------------------
# Against a hostile server on loopback: a file is absent or complete and right


def _serve_transcript(hostile, route) -> str:
    path = f"/files/sess-1.csv?X-Amz-Signature={fresh_signature()}"
    data = {
        "sessionId": "sess-1",
        "transcript_download_url": f"http://{hostile.host_port}{path}",
        "transcript_download_url_expiry": _expiry(),
    }
    hostile.route("GET", "/sessions/sess-1/transcript", json_answer(200, {"success": True, "data": data}))
    hostile.routes[("GET", path.split("?")[0])] = route
    return path


def test_a_transcript_cut_short_leaves_no_file_at_all(hostile, tmp_path) -> None:
    _serve_transcript(hostile, serve_file(CSV, cut_after=len(CSV) // 2))

    with pytest.raises(RealtimeKitFilesNotDownloadableError, match="sess-1/transcript"):
        _operator(tmp_path, include="transcript").execute({})
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_a_chunked_transcript_larger_than_max_file_size_is_refused_and_leaves_nothing(
    hostile, tmp_path
) -> None:
    _serve_transcript(hostile, serve_file(CSV, chunked=True))

    with pytest.raises(RealtimeKitCopyError, match="more than the 1024 bytes"):
        _operator(tmp_path, include="transcript", max_file_size=1024).execute({})
    assert list(tmp_path.iterdir()) == []


def test_a_chunked_transcript_within_max_file_size_is_copied(hostile, tmp_path) -> None:
    _serve_transcript(hostile, serve_file(CSV, chunked=True, piece=4096))

    _operator(tmp_path, include="transcript").execute({})
    assert (tmp_path / "sess-1.transcript.csv").read_bytes() == CSV


def test_a_transcript_ending_by_closing_the_connection_is_refused(hostile, tmp_path) -> None:
    _serve_transcript(hostile, serve_file(CSV, declare_length=False))

    with pytest.raises(RealtimeKitCopyError, match="not chunked"):
        _operator(tmp_path, include="transcript").execute({})
    assert list(tmp_path.iterdir()) == []
