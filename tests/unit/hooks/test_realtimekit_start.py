"""The hook's start on the wire: one POST, its answer read (respx unit tests of the HTTP layer).

What a start leads to (started, believed, busy, legacy, retries, convergence) is the starter's, tested
with a fake hook in ``test_starting.py``; the DAG-level cases run against the emulator in
``tests/integration/test_ownership.py``.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitMeetingBusyError,
    RealtimeKitPayloadError,
    RealtimeKitStartOutcomeUnknownError,
)
from airflow_provider_rtk.hooks._api import RealtimeKitBadAnswerError
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.ownership import Knowledge
from airflow_provider_rtk.starting import RecordingStarter
from tests.api_answers import (
    FAST,
    MEETING,
    assert_no_token,
    gateway_error,
    list_answer,
    now_iso,
    ok,
    recording,
    rtk_error,
)


@pytest.fixture
def start(api):
    return api.post("/recordings/track")


@pytest.fixture
def listed(api):
    """The recordings list, which a legacy start reads to find what it started."""
    return api.get("/recordings")


LEGACY = {"meeting_id": MEETING, "max_seconds": 600, "layers": {"default": {"outputs": [{}]}}}


def newest_first(*recordings: dict) -> httpx.Response:
    return list_answer(list(recordings), total=len(recordings), start=1, end=len(recordings))


class TestPostTrackRecording:
    """``post_track_recording``: one POST, never retried or reconciled by the hook itself."""

    def test_current_generation(self, hook, start, active):
        start.mock(return_value=ok({"recording": recording("rec-new", "INVOKED")}))
        started = hook.post_track_recording({"meeting_id": MEETING, "user_ids": ["u1"]})
        assert (started.id, started.status) == ("rec-new", RecordingStatus.INVOKED)
        assert json.loads(start.calls.last.request.content) == {"meeting_id": MEETING, "user_ids": ["u1"]}
        assert start.call_count == 1
        assert active.call_count == 0

    def test_sends_secrets_only_on_the_wire(self, hook, start):
        start.mock(return_value=ok({"recording": recording()}))
        body = {
            "meeting_id": MEETING,
            "layers": {
                "default": {
                    "outputs": [
                        {
                            "type": "STORAGE_CONFIG",
                            "storage_config": {"type": "aws", "bucket": "b", "secret": "S3-SECRET-X"},
                        }
                    ]
                }
            },
        }
        hook.post_track_recording(body)
        assert json.loads(start.calls.last.request.content) == body

    @pytest.mark.parametrize(
        "answer", [httpx.Response(200, content=b""), httpx.Response(200, json={"success": True})]
    )
    def test_legacy_empty_answer_is_none(self, hook, start, answer):
        start.mock(return_value=answer)
        assert hook.post_track_recording(LEGACY) is None

    @pytest.mark.parametrize(
        "failure", [rtk_error(503, "unavailable"), rtk_error(429, "slow down"), httpx.ConnectError("refused")]
    )
    def test_never_retried_by_the_hook(self, hook, start, active, failure):
        start.mock(side_effect=[failure, ok({"recording": recording("rec-2")})])
        with pytest.raises(RealtimeKitAPIError):
            hook.post_track_recording({"meeting_id": MEETING})
        assert start.call_count == 1
        assert active.call_count == 0

    def test_wrongly_shaped_answer_is_an_unusable_answer_that_may_have_worked(self, hook, start):
        start.mock(return_value=ok({"recording": {"id": 7, "status": "INVOKED"}}))
        with pytest.raises(RealtimeKitBadAnswerError) as info:
            hook.post_track_recording({"meeting_id": MEETING})
        assert info.value.maybe_took_effect
        assert "unexpected shape" in str(info.value)

    def test_invalid_mapping_rejected_before_any_request(self, hook, api):
        with pytest.raises(RealtimeKitPayloadError) as info:
            hook.post_track_recording({"meeting_id": MEETING, "layers": {"default": {"media_kind": "video"}}})
        assert info.value.paths == ["layers.default.media_kind"]
        assert not api.calls

    def test_attempts_follow_the_connections_retry_policy(self, hook):
        tries = 0
        for attempt in hook.attempts():
            with attempt:
                tries += 1
                if tries < 3:
                    raise RealtimeKitAPIError("slow down", status_code=429)
        assert tries == 3

    def test_what_the_starter_reads_of_the_connection(self, hook):
        assert hook.read_timeout > 0
        assert hook.second_start_refused is False


class TestStartTrackRecording:
    """The hook's convenience start (the starter's ``send``, no journal), end to end over HTTP."""

    def test_the_answer_carries_the_recording(self, hook, start, active):
        start.mock(return_value=ok({"recording": recording("rec-new", "INVOKED")}))
        outcome = hook.start_track_recording({"meeting_id": MEETING})
        assert (outcome.recording.id, outcome.knowledge) == ("rec-new", Knowledge.STARTED)
        assert active.call_count == 0

    def test_429_retried(self, hook, start, active):
        start.mock(
            side_effect=[
                gateway_error(429, "rate limited", 971, headers={"Retry-After": "0"}),
                ok({"recording": recording("rec-2")}),
            ]
        )
        assert hook.start_track_recording({"meeting_id": MEETING}).recording.id == "rec-2"
        assert start.call_count == 2
        assert active.call_count == 0

    def test_lost_answer_follows_what_became_active_as_believed(self, hook, start, active):
        start.mock(side_effect=[httpx.ReadTimeout("read timeout"), ok({"recording": recording("rec-dup")})])
        active.mock(return_value=ok(recording("rec-started", "RECORDING", invoked_time=now_iso())))
        outcome = hook.start_track_recording({"meeting_id": MEETING})
        assert (outcome.recording.id, outcome.knowledge) == ("rec-started", Knowledge.BELIEVED)
        assert start.call_count == 1

    @pytest.mark.parametrize(
        "failure",
        [rtk_error(503), httpx.ReadTimeout("read timeout"), httpx.RemoteProtocolError("dropped")],
        ids=["503", "timeout", "dropped"],
    )
    def test_lost_answer_without_active_recording_sends_again(self, conn, start, active, failure):
        start.mock(side_effect=[failure, ok({"recording": recording("rec-second")})])
        active.mock(return_value=rtk_error(404, "no active recording"))
        with RealtimeKitHook(retry_policy=FAST, timeout=1.0) as hook:
            began = time.monotonic()
            outcome = hook.start_track_recording({"meeting_id": MEETING})
            assert (outcome.recording.id, outcome.knowledge) == ("rec-second", Knowledge.STARTED)
            waited = time.monotonic() - began
        assert start.call_count == 2
        if isinstance(failure, httpx.ReadTimeout):
            # the service may still be working on it: the meeting is watched for a request's timeout
            assert active.call_count >= 2
            assert 1.0 <= waited < 10.0  # (generous above: a busy machine)
        else:
            assert active.call_count == 1

    def test_refusal_while_another_recording_is_active_says_which(self, hook, start, active):
        start.mock(return_value=rtk_error(409, "Meeting is already being recorded"))
        active.mock(return_value=ok(recording("rec-winner", invoked_time=now_iso(-timedelta(seconds=1)))))
        with pytest.raises(RealtimeKitMeetingBusyError) as info:
            hook.start_track_recording({"meeting_id": MEETING})
        assert info.value.active.id == "rec-winner"
        assert start.call_count == 1
        assert_no_token(info.value)

    def test_legacy_empty_body_reads_the_list(self, hook, start, active, listed):
        start.mock(return_value=httpx.Response(200, content=b""))
        listed.mock(return_value=newest_first(recording("rec-legacy", "INVOKED")))
        outcome = hook.start_track_recording(LEGACY, meeting_was_idle=True)
        assert (outcome.recording.id, outcome.knowledge) == ("rec-legacy", Knowledge.STARTED)
        assert dict(listed.calls.last.request.url.params) == {
            "meeting_id": MEETING,
            "sort_by": "invokedTime",
            "sort_order": "DESC",
            "per_page": "20",
        }
        assert active.call_count == 0

    def test_legacy_start_is_never_resent(self, hook, start, listed, monkeypatch):
        monkeypatch.setattr(RecordingStarter, "legacy_start_wait", 0.0)
        start.mock(return_value=httpx.Response(200))
        listed.mock(return_value=rtk_error(503, "no answer"))
        with pytest.raises(RealtimeKitStartOutcomeUnknownError) as info:
            hook.start_track_recording(LEGACY)
        assert start.call_count == 1
        assert info.value.accepted_at is not None
