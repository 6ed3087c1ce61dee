"""The hooks' reads of a session's post-meeting transcript and summary, and ``create_meeting``'s
post-meeting flags, against a respx-mocked API (sync and async alike)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest

from airflow_provider_rtk.exceptions import (
    RealtimeKitBadAnswerError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
)
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook, RealtimeKitHook
from airflow_provider_rtk.models import SessionSummary, SessionTranscript
from tests.api_answers import FAST, ok, rtk_error

if TYPE_CHECKING:
    import respx

LINK = "https://files.test/transcripts/sess-1.csv?X-Amz-Signature=abc"
#: The answers as Cloudflare's API reference shows them: the transcript in snake_case, the summary in
#: camelCase (GetSessionTranscripts, GetSessionSummary).
TRANSCRIPT = {
    "sessionId": "sess-1",
    "transcript_download_url": LINK,
    "transcript_download_url_expiry": "2026-12-08T10:15:30.000Z",
}
SUMMARY = {
    "sessionId": "sess-1",
    "summaryDownloadUrl": LINK,
    "summaryDownloadUrlExpiry": "2026-12-08T10:15:30.000Z",
}


def _async(call):
    async def go():
        async with RealtimeKitAsyncHook(retry_policy=FAST) as hook:
            return await call(hook)

    return asyncio.run(go())


@pytest.mark.parametrize("way", ["sync", "async"])
def test_the_transcript_and_the_summary_are_read_with_their_links_and_expiry(
    hook: RealtimeKitHook, api: respx.MockRouter, way: str
) -> None:
    api.get("/sessions/sess-1/transcript").mock(return_value=ok(TRANSCRIPT))
    api.get("/sessions/sess-1/summary").mock(return_value=ok(SUMMARY))
    if way == "sync":
        transcript, summary = hook.get_session_transcript("sess-1"), hook.get_session_summary("sess-1")
    else:
        transcript = _async(lambda h: h.get_session_transcript("sess-1"))
        summary = _async(lambda h: h.get_session_summary("sess-1"))

    assert isinstance(transcript, SessionTranscript)
    assert isinstance(summary, SessionSummary)
    for document in (transcript, summary):
        assert document.session_id == "sess-1"
        assert document.download_url == LINK
        assert document.is_ready
        assert document.download_url_expiry is not None
        assert document.download_url_expiry.isoformat() == "2026-12-08T10:15:30+00:00"
        assert LINK not in repr(document)  # a pre-signed link is a credential


def test_the_models_are_lenient_both_spellings_unknown_fields_and_an_unreadable_expiry() -> None:
    transcript = SessionTranscript.model_validate(
        {
            "session_id": "s",
            "transcriptDownloadUrl": LINK,
            "transcriptDownloadUrlExpiry": "soon",
            "format": "CSV",
        }
    )
    summary = SessionSummary.model_validate({"summary_download_url": LINK, "summary_download_url_expiry": 12})
    assert transcript.download_url == summary.download_url == LINK
    assert transcript.download_url_expiry is None
    assert summary.download_url_expiry is None
    assert transcript.model_extra == {"format": "CSV"}
    assert not SessionTranscript.model_validate({"transcript_download_url": ""}).is_ready


def test_an_answer_without_a_link_is_not_ready(hook: RealtimeKitHook, api: respx.MockRouter) -> None:
    api.get("/sessions/sess-1/transcript").mock(return_value=ok(None))
    api.get("/sessions/sess-1/summary").mock(return_value=ok({"sessionId": "sess-1"}))
    assert not hook.get_session_transcript("sess-1").is_ready
    assert not hook.get_session_summary("sess-1").is_ready


def test_a_404_is_not_found_and_a_wrong_shape_a_bad_answer(
    hook: RealtimeKitHook, api: respx.MockRouter
) -> None:
    api.get("/sessions/sess-1/transcript").mock(return_value=rtk_error(404, "Transcript not found"))
    api.get("/sessions/sess-1/summary").mock(return_value=ok(["not", "an", "object"]))
    with pytest.raises(RealtimeKitNotFoundError):
        hook.get_session_transcript("sess-1")
    with pytest.raises(RealtimeKitBadAnswerError, match="unexpected shape"):
        hook.get_session_summary("sess-1")


@pytest.mark.parametrize("session_id", ["", "../recordings", "sess 1", "sess-1/summary"])
def test_a_bad_session_id_is_refused_before_any_request(
    hook: RealtimeKitHook, api: respx.MockRouter, session_id: str
) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        hook.get_session_transcript(session_id)
    assert "session_id" in error.value.paths
    assert not api.calls


def test_create_meeting_sends_the_post_meeting_flags_asked_for(
    hook: RealtimeKitHook, api: respx.MockRouter
) -> None:
    route = api.post("/meetings").mock(
        return_value=ok(
            {"id": "meet-1", "title": "review", "transcribe_on_end": True, "summarize_on_end": True}
        )
    )
    meeting = hook.create_meeting("review", transcribe_on_end=True, summarize_on_end=True)
    hook.create_meeting("plain")

    assert json.loads(route.calls[0].request.content) == {
        "title": "review",
        "transcribe_on_end": True,
        "summarize_on_end": True,
    }
    assert json.loads(route.calls[1].request.content) == {"title": "plain"}  # nothing asked, nothing sent
    assert meeting.transcribe_on_end is True
    assert meeting.summarize_on_end is True


@pytest.mark.parametrize("field", ["transcribe_on_end", "summarize_on_end"])
def test_a_post_meeting_flag_that_is_not_a_boolean_is_refused_before_any_request(
    hook: RealtimeKitHook, api: respx.MockRouter, field: str
) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        hook.create_meeting("review", **{field: "yes"})
    assert field in error.value.paths
    assert not api.calls


def test_a_transcript_format_is_sent_only_when_asked_for(
    hook: RealtimeKitHook, api: respx.MockRouter
) -> None:
    route = api.get("/sessions/sess-1/transcript").mock(return_value=ok(TRANSCRIPT))
    hook.get_session_transcript("sess-1")
    hook.get_session_transcript("sess-1", "vtt")
    _async(lambda h: h.get_session_transcript("sess-1", "SRT"))
    assert [dict(call.request.url.params) for call in route.calls] == [
        {},
        {"format": "VTT"},
        {"format": "SRT"},
    ]


def test_an_unknown_transcript_format_is_refused_before_any_request(
    hook: RealtimeKitHook, api: respx.MockRouter
) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        hook.get_session_transcript("sess-1", "docx")
    assert error.value.paths == ["transcript_format"]
    assert not api.calls
