"""The hook's start: what it sends, and what it knows afterwards (started, believed, or busy).

respx unit tests of the HTTP layer; the DAG-level cases run against the emulator in
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
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.ownership import Knowledge
from airflow_provider_rtk.starting import RecordingStarter
from tests.unit import test_hook
from tests.unit.test_hook import (
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

# the HTTP-layer fixtures of the hook's own tests: a respx router, the connection, a fast hook
api, conn, hook = test_hook.api, test_hook.conn, test_hook.hook


@pytest.fixture
def start(api):
    return api.post("/recordings/track")


@pytest.fixture
def active(api):
    return api.get(f"/recordings/active-recording/{MEETING}")


@pytest.fixture
def listed(api):
    """The recordings list, which a legacy start reads to find what it started."""
    return api.get("/recordings")


LEGACY = {"meeting_id": MEETING, "max_seconds": 600, "layers": {"default": {"outputs": [{}]}}}


def newest_first(*recordings: dict) -> httpx.Response:
    return list_answer(list(recordings), total=len(recordings), start=1, end=len(recordings))


class TestStartTrackRecording:
    def test_current_generation(self, hook, start, active):
        start.mock(return_value=ok({"recording": recording("rec-new", "INVOKED")}))
        outcome = hook.start_track_recording({"meeting_id": MEETING, "user_ids": ["u1"]})
        assert (outcome.recording.id, outcome.recording.status) == ("rec-new", RecordingStatus.INVOKED)
        assert outcome.knowledge is Knowledge.STARTED
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
        hook.start_track_recording(body)
        assert json.loads(start.calls.last.request.content) == body

    def test_400_not_retried(self, hook, start, active):
        start.mock(return_value=rtk_error(400, "meeting has no live session"))
        active.mock(return_value=rtk_error(404, "no active recording"))
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.start_track_recording({"meeting_id": MEETING})
        assert info.value.status_code == 400
        assert info.value.message == "meeting has no live session"
        assert start.call_count == 1
        assert active.call_count == 1  # was it refused because another recording is active? no

    def test_409_not_retried(self, hook, start, active):
        start.mock(return_value=rtk_error(409, "already recording"))
        active.mock(return_value=rtk_error(404, "none"))
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.start_track_recording({"meeting_id": MEETING})
        assert info.value.status_code == 409
        assert start.call_count == 1

    def test_refusal_while_another_recording_is_active_says_which(self, hook, start, active):
        """A race lost: the service refuses because the meeting is being recorded; the error carries
        the recording that won, so the caller can follow it."""
        start.mock(return_value=rtk_error(409, "Meeting is already being recorded"))
        active.mock(return_value=ok(recording("rec-winner", invoked_time=now_iso(-timedelta(seconds=1)))))
        with pytest.raises(RealtimeKitMeetingBusyError) as info:
            hook.start_track_recording({"meeting_id": MEETING})
        assert info.value.active.id == "rec-winner"
        assert "already being recorded" in str(info.value)
        assert start.call_count == 1

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

    def test_connect_error_retried(self, hook, start, active):
        start.mock(side_effect=[httpx.ConnectError("refused"), ok({"recording": recording("rec-3")})])
        assert hook.start_track_recording({"meeting_id": MEETING}).recording.id == "rec-3"
        assert start.call_count == 2
        assert active.call_count == 0

    @pytest.mark.parametrize(
        "failure",
        [
            rtk_error(503, "unavailable"),
            rtk_error(500, "internal"),
            httpx.ReadTimeout("read timeout"),
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
        ],
        ids=["503", "500", "timeout", "dropped"],
    )
    def test_lost_answer_follows_what_became_active_as_believed(self, hook, start, active, failure):
        """After an ambiguous answer a recording invoked since may be ours - or another client's: it
        prevents a second start but is only believed, never started (no right to stop it)."""
        start.mock(side_effect=[failure, ok({"recording": recording("rec-dup")})])
        active.mock(return_value=ok(recording("rec-started", "RECORDING", invoked_time=now_iso())))
        outcome = hook.start_track_recording({"meeting_id": MEETING})
        assert outcome.recording.id == "rec-started"
        assert outcome.knowledge is Knowledge.BELIEVED
        assert start.call_count == 1
        assert active.call_count == 1

    def test_lost_answer_with_unknown_invoked_time_adopted(self, hook, start, active):
        start.mock(side_effect=[rtk_error(503), ok({"recording": recording("rec-dup")})])
        active.mock(return_value=ok({"id": "rec-started", "status": "INVOKED"}))
        assert hook.start_track_recording({"meeting_id": MEETING}).recording.id == "rec-started"
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
            assert 1.0 <= waited < 3.0
        else:
            assert active.call_count == 1

    def test_timed_out_start_that_lands_late_is_adopted_not_resent(self, conn, start, active):
        """The first start is still being processed when the client gives up; it shows up a moment later."""
        start.mock(side_effect=[httpx.ReadTimeout("read timeout"), ok({"recording": recording("rec-dup")})])
        active.mock(
            side_effect=[rtk_error(404, "none yet"), rtk_error(404, "none yet"), ok(recording("rec-late"))]
        )
        with RealtimeKitHook(retry_policy=FAST, timeout=5.0) as hook:
            outcome = hook.start_track_recording({"meeting_id": MEETING})
            assert (outcome.recording.id, outcome.knowledge) == ("rec-late", Knowledge.BELIEVED)
        assert start.call_count == 1

    def test_refusal_after_an_uncertain_attempt_adopts_what_the_first_started(self, hook, start, active):
        """Attempt 1 is lost (503); attempt 2 is refused (409, already recording): that recording is ours."""
        start.mock(side_effect=[rtk_error(503), rtk_error(409, "already recording")])
        active.mock(side_effect=[rtk_error(404, "not yet"), ok(recording("rec-first"))])
        active.side_effect = None
        active.mock(
            side_effect=[rtk_error(404, "not yet"), ok(recording("rec-first", invoked_time=now_iso()))]
        )
        outcome = hook.start_track_recording({"meeting_id": MEETING})
        assert (outcome.recording.id, outcome.knowledge) == ("rec-first", Knowledge.BELIEVED)
        assert start.call_count == 2

    @pytest.mark.parametrize("lookup", ["never appears", "unreadable"])
    def test_legacy_start_is_never_resent_whatever_happens_next(
        self, hook, start, listed, lookup, monkeypatch
    ):
        """The legacy API said 200 (no body): the start took effect, so no failure may send it again."""
        start.mock(return_value=httpx.Response(200))
        if lookup == "unreadable":
            listed.mock(return_value=rtk_error(503, "no answer"))
        else:
            listed.mock(return_value=newest_first())
        monkeypatch.setattr(RecordingStarter, "legacy_start_wait", 1.0)
        with pytest.raises(RealtimeKitStartOutcomeUnknownError) as info:
            hook.start_track_recording({"meeting_id": MEETING})
        assert start.call_count == 1
        assert info.value.accepted_at is not None  # the caller can still look for it, and stop it

    def test_lost_answer_with_older_foreign_recording_is_a_conflict(self, hook, start, active):
        start.mock(side_effect=[rtk_error(503, "unavailable"), ok({"recording": recording("rec-dup")})])
        active.mock(return_value=ok(recording("rec-foreign", invoked_time=now_iso(-timedelta(hours=1)))))
        with pytest.raises(RealtimeKitMeetingBusyError) as info:
            hook.start_track_recording({"meeting_id": MEETING})
        assert info.value.status_code == 409
        assert "rec-foreign" in str(info.value)
        assert "unavailable" in str(info.value)
        assert start.call_count == 1
        assert active.call_count == 1
        assert_no_token(info.value)

    def test_lost_answer_and_failed_lookup_does_not_send_again(self, hook, start, active):
        """If the service cannot tell whether the start took effect, sending it again risks a duplicate."""
        start.mock(side_effect=[rtk_error(503, "unavailable"), ok({"recording": recording("rec-dup")})])
        active.mock(return_value=rtk_error(503, "still unavailable"))
        with pytest.raises(RealtimeKitAPIError):
            hook.start_track_recording({"meeting_id": MEETING})
        assert start.call_count == 1

    def test_legacy_empty_body_finds_the_one_recording_invoked_since(self, hook, start, active, listed):
        start.mock(return_value=httpx.Response(200, content=b""))
        older = recording("rec-older", "UPLOADED", invoked_time=now_iso(-timedelta(hours=1)))
        listed.mock(return_value=newest_first(recording("rec-legacy", "INVOKED"), older))
        body = {"meeting_id": MEETING, "max_seconds": 600, "layers": {"default": {"outputs": [{}]}}}
        outcome = hook.start_track_recording(body, meeting_was_idle=True)
        assert (outcome.recording.id, outcome.knowledge) == ("rec-legacy", Knowledge.STARTED)
        assert json.loads(start.calls.last.request.content) == body
        assert start.call_count == 1
        assert listed.call_count == 1
        assert dict(listed.calls.last.request.url.params) == {
            "meeting_id": MEETING,
            "sort_by": "invokedTime",
            "sort_order": "DESC",
            "per_page": "20",
        }
        assert active.call_count == 0

    def test_legacy_start_waits_for_its_recording_to_be_listed(self, hook, start, listed):
        start.mock(return_value=httpx.Response(200, content=b""))
        listed.mock(side_effect=[newest_first(), newest_first(recording("rec-legacy", "INVOKED"))])
        outcome = hook.start_track_recording(LEGACY, meeting_was_idle=True)
        assert (outcome.recording.id, outcome.knowledge) == ("rec-legacy", Knowledge.STARTED)
        assert listed.call_count == 2

    def test_legacy_start_with_a_second_recording_since_is_only_believed(self, hook, start, listed):
        """Another client's start landed in the same window (a service that accepts a second start):
        nothing proves which of the two is this start's, so neither may be stopped; the newest is
        followed (the earliest is the one a client that listed sooner proved its own)."""
        start.mock(return_value=httpx.Response(200, content=b""))
        listed.mock(
            return_value=newest_first(
                recording("rec-newer", "INVOKED"),
                recording("rec-earlier", "RECORDING", invoked_time=now_iso(-timedelta(seconds=1))),
            )
        )
        outcome = hook.start_track_recording(LEGACY, meeting_was_idle=True)
        assert (outcome.recording.id, outcome.knowledge) == ("rec-newer", Knowledge.BELIEVED)
        assert "rec-earlier too" in outcome.how

    def test_legacy_start_never_takes_a_recording_that_ended_for_its_own(self, hook, start, listed):
        """A recording invoked just before the start (within the clock-skew allowance) and already
        stopped is not this start's: the hook waits for its own, and then cannot prove which is."""
        start.mock(return_value=httpx.Response(200, content=b""))
        ended = recording("rec-ended", "UPLOADED", invoked_time=now_iso(-timedelta(seconds=20)))
        listed.mock(
            side_effect=[newest_first(ended), newest_first(recording("rec-legacy", "INVOKED"), ended)]
        )
        outcome = hook.start_track_recording(LEGACY, meeting_was_idle=True)
        assert (outcome.recording.id, outcome.knowledge) == ("rec-legacy", Knowledge.BELIEVED)
        assert listed.call_count == 2

    def test_legacy_start_with_an_unreadable_item_listed_is_only_believed(self, hook, start, listed):
        """An item the models cannot read (another client's odd record) may be a second recording
        invoked since: it is skipped, and the start is then not provably this task's."""
        start.mock(return_value=httpx.Response(200, content=b""))
        odd = {**recording("rec-odd", "RECORDING"), "status": "SOMETHING_NEW"}
        listed.mock(return_value=newest_first(recording("rec-legacy", "INVOKED"), odd))
        outcome = hook.start_track_recording(LEGACY, meeting_was_idle=True)
        assert (outcome.recording.id, outcome.knowledge) == ("rec-legacy", Knowledge.BELIEVED)
        assert "could not read" in outcome.how

    def test_legacy_success_envelope_without_recording_finds_its_recording(self, hook, start, listed):
        """The legacy answer has no documented body: ``{"success": true}`` must not break the parse."""
        start.mock(return_value=httpx.Response(200, json={"success": True}))
        listed.mock(return_value=newest_first(recording("rec-legacy", "INVOKED")))
        outcome = hook.start_track_recording(
            {"meeting_id": MEETING, "max_seconds": 600, "layers": {"default": {"outputs": [{}]}}}
        )
        assert outcome.recording.id == "rec-legacy"
        # nobody told the hook the meeting was idle before: the recording is only believed its own
        assert outcome.knowledge is Knowledge.BELIEVED
        assert start.call_count == 1

    def test_invalid_mapping_rejected_before_any_request(self, hook, api):
        with pytest.raises(RealtimeKitPayloadError) as info:
            hook.start_track_recording(
                {"meeting_id": MEETING, "layers": {"default": {"media_kind": "video"}}}
            )
        assert info.value.paths == ["layers.default.media_kind"]
        assert not api.calls
