"""The start decision as plain Python: :class:`RecordingStarter` against a fake hook (no Airflow run,
no HTTP). What the hook sends on the wire is in ``tests/unit/hooks/test_realtimekit_start.py``; the same
rules against the emulator, through Airflow, in ``tests/integration/test_ownership.py`` and
``test_faults.py``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_none

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitMeetingBusyError,
    RealtimeKitMeetingRecordedError,
    RealtimeKitStartOutcomeUnknownError,
    RealtimeKitTransportError,
)
from airflow_provider_rtk.models import Paging, Recording, RecordingPage, parse_track_request
from airflow_provider_rtk.ownership import IfActive, JournalEntry, Knowledge, StartJournal
from airflow_provider_rtk.starting import RecordingStarter

MEETING = "bbb3e3a2-04e5-4bcb-bab3-8d8cb3f4f6a1"
CURRENT = {"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": "standup"}}}
LEGACY = {"meeting_id": MEETING, "max_seconds": 600, "layers": {"default": {"outputs": [{}]}}}
Answer = Recording | None | BaseException | Callable[[], Any]


def ago(seconds: float = 0.0) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def rec(
    rec_id: str,
    status: str = "RECORDING",
    *,
    invoked: datetime | str | None = "now",
    reason: str = "API_CALL",
    file: str | None = None,
) -> Recording:
    body: dict[str, Any] = {
        "id": rec_id,
        "status": status,
        "meeting_id": MEETING,
        "start_reason": {"reason": reason},
    }
    if invoked is not None:
        body["invoked_time"] = (ago() if invoked == "now" else invoked).isoformat()  # type: ignore[union-attr]
    if file is not None:
        body["output_file_name"] = file
    return Recording.model_validate(body)


def page(*recordings: Recording) -> RecordingPage:
    n = len(recordings)
    return RecordingPage(
        recordings=list(recordings), paging=Paging(total_count=n, start_offset=1, end_offset=n)
    )


def api_error(status: int | None, message: str = "boom") -> RealtimeKitAPIError:
    return RealtimeKitAPIError(message, status_code=status, operation="startTrackRecordingForAMeeting")


def lost(in_progress: bool = False) -> RealtimeKitTransportError:
    return RealtimeKitTransportError(
        "the answer was lost", operation="x", maybe_delivered=True, maybe_in_progress=in_progress
    )


class FakeHook:
    """The hook's verbs, answered from scripts (the last answer repeats); every call is logged."""

    read_timeout = 0.0

    def __init__(
        self,
        *,
        posts: list[Answer] | None = None,
        active: list[Answer] | None = None,
        lists: list[Answer] | None = None,
        second_start_refused: bool = False,
        stop_fails: bool = False,
    ) -> None:
        self.scripts: dict[str, list[Answer]] = {
            "post": posts or [rec("rec-new", "INVOKED")],
            "active": active or [None],
            "list": lists or [page()],
        }
        self.second_start_refused = second_start_refused
        self.stop_fails = stop_fails
        self.calls: list[str] = []
        self.stopped: list[str] = []

    def _answer(self, verb: str) -> Any:
        self.calls.append(verb)
        script = self.scripts[verb]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer() if callable(answer) else answer

    def attempts(self) -> Retrying:
        retryable = retry_if_exception(lambda e: isinstance(e, RealtimeKitAPIError) and e.is_retryable)
        return Retrying(stop=stop_after_attempt(3), wait=wait_none(), retry=retryable, reraise=True)

    def post_track_recording(self, request: Any) -> Recording | None:
        return self._answer("post")  # type: ignore[no-any-return]

    def get_active_recording(self, meeting_id: str) -> Recording | None:
        assert meeting_id == MEETING
        return self._answer("active")  # type: ignore[no-any-return]

    def list_recordings(self, **filters: Any) -> RecordingPage:
        assert filters["meeting_id"] == MEETING
        return self._answer("list")  # type: ignore[no-any-return]

    def stop_recording(self, recording_id: str) -> Recording:
        self.calls.append(f"stop {recording_id}")
        self.stopped.append(recording_id)
        if self.stop_fails:
            raise api_error(503, "stop failed")
        return rec(recording_id, "UPLOADING")


class Store:
    """A task state store that keeps its writes in order."""

    def __init__(self, entry: JournalEntry | None = None) -> None:
        self.values: dict[str, Any] = {}
        self.writes: list[dict[str, Any]] = []
        if entry is not None:
            self.values[StartJournal.KEY] = entry.to_json()

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.writes.append(value)

    @property
    def phases(self) -> list[str]:
        return [write["phase"] for write in self.writes]


def starter(
    hook: FakeHook,
    body: dict[str, Any] = CURRENT,
    *,
    store: Store | None = None,
    if_active: IfActive | str = "attach",
    try_number: int = 1,
    run_started_at: datetime | None = None,
) -> RecordingStarter:
    return RecordingStarter(
        hook,
        parse_track_request(body),
        journal=StartJournal(store),
        if_active=if_active,
        try_number=try_number,
        run_started_at=run_started_at,
        fingerprint="fp",
        log=logging.getLogger("test_starting"),
    )


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr("airflow_provider_rtk.starting.time.sleep", lambda seconds: None)


# ---------------------------------------------------------------------------------- first try


class TestFirstTry:
    def test_the_answer_carries_the_recording_started(self):
        hook, store = FakeHook(), Store()
        outcome = starter(hook, store=store).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-new", Knowledge.STARTED)
        assert hook.calls == ["post", "active"]  # the start, then the race check
        assert store.phases == ["sending", "started"]
        assert store.writes[1]["recording_id"] == "rec-new"
        assert store.writes[1]["fingerprint"] == "fp"

    def test_the_journal_holds_the_fact_before_anything_else_is_asked(self):
        """The race check is the next request after the answer: by then the journal holds the id."""
        store = Store()
        seen: list[Any] = []
        hook = FakeHook(active=[lambda: seen.append(store.get(StartJournal.KEY)) or None])
        starter(hook, store=store).start()
        assert seen[0]["recording_id"] == "rec-new"
        assert seen[0]["phase"] == "started"

    def test_a_connection_that_declares_a_second_start_refused_skips_the_race_check(self):
        hook = FakeHook(second_start_refused=True)
        assert starter(hook).start().knowledge is Knowledge.STARTED
        assert hook.calls == ["post"]

    def test_a_retryable_refusal_is_sent_again(self):
        hook = FakeHook(posts=[api_error(429, "rate limited"), rec("rec-2")], second_start_refused=True)
        assert starter(hook).start().recording.id == "rec-2"
        assert hook.calls == ["post", "post"]

    def test_a_definite_refusal_is_journalled_and_raised(self):
        hook, store = FakeHook(posts=[api_error(400, "no live session")]), Store()
        with pytest.raises(RealtimeKitAPIError, match="no live session"):
            starter(hook, store=store).start()
        assert hook.calls == ["post", "active"]  # was it refused because one is active? no
        assert store.phases == ["sending", "refused"]

    def test_what_is_learnt_is_kept_when_a_later_step_fails(self):
        """The race check fails: the caller still knows the recording it started (to stop it)."""
        hook = FakeHook(active=[api_error(503, "down")])
        start = starter(hook)
        with pytest.raises(RealtimeKitAPIError):
            start.start()
        assert start.learnt is not None
        assert (start.learnt.recording.id, start.learnt.knowledge) == ("rec-new", Knowledge.STARTED)


class TestAmbiguousStart:
    @pytest.mark.parametrize("failure", [api_error(503), api_error(500), lost(), lost(in_progress=True)])
    def test_what_became_active_since_is_believed_never_started(self, failure):
        hook, store = FakeHook(posts=[failure, rec("rec-dup")], active=[rec("rec-started")]), Store()
        outcome = starter(hook, store=store).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-started", Knowledge.BELIEVED)
        assert hook.calls == ["post", "active"]  # not sent again; no race check for a belief
        assert store.phases == ["sending", "believed"]

    def test_no_invoked_time_counts_as_since(self):
        hook = FakeHook(posts=[api_error(503)], active=[rec("rec-started", invoked=None)])
        assert starter(hook).start().knowledge is Knowledge.BELIEVED

    def test_nothing_active_sends_it_again(self):
        hook = FakeHook(posts=[api_error(503), rec("rec-second")], active=[None])
        outcome = starter(hook).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-second", Knowledge.STARTED)
        assert hook.calls == ["post", "active", "post", "active"]

    def test_a_timeout_watches_the_meeting_for_a_late_landing(self):
        hook = FakeHook(posts=[lost(in_progress=True)], active=[None, None, rec("rec-late")])
        hook.read_timeout = 5.0
        outcome = starter(hook).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-late", Knowledge.BELIEVED)
        assert hook.calls == ["post", "active", "active", "active"]

    def test_an_older_active_recording_is_another_clients(self):
        """Active since before the start: busy, and ``if_active`` decides (attach: followed, foreign)."""
        hook, store = (
            FakeHook(posts=[api_error(503, "unavailable")], active=[rec("rec-old", invoked=ago(3600))]),
            Store(),
        )
        outcome = starter(hook, store=store).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-old", Knowledge.FOREIGN)
        assert store.phases == ["sending", "refused", "attached"]
        assert hook.stopped == []

    def test_a_failed_lookup_does_not_send_it_again(self):
        hook, store = FakeHook(posts=[api_error(503)], active=[api_error(503, "still down")]), Store()
        with pytest.raises(RealtimeKitStartOutcomeUnknownError):
            starter(hook, store=store).start()
        assert hook.calls == ["post", "active"]
        assert store.phases == ["sending"]  # unknown: a retry reconciles it

    def test_a_refusal_after_an_uncertain_attempt_is_the_first_attempts_recording(self):
        hook = FakeHook(
            posts=[api_error(503), api_error(409, "already recording")], active=[None, rec("rec-first")]
        )
        outcome = starter(hook).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-first", Knowledge.BELIEVED)
        assert hook.calls == ["post", "active", "post", "active"]


class TestRefusedWhileActive:
    def busy_hook(self, **kwargs: Any) -> FakeHook:
        return FakeHook(
            posts=[api_error(409, "already being recorded"), rec("rec-mine")],
            active=[rec("rec-other", invoked=ago(5)), None],
            **kwargs,
        )

    def test_the_refusal_names_the_recording(self):
        start = starter(self.busy_hook())
        with pytest.raises(RealtimeKitMeetingBusyError) as info:
            start.send()
        assert info.value.active.id == "rec-other"

    def test_attach_follows_it_never_stops_it(self):
        hook, store = self.busy_hook(), Store()
        outcome = starter(hook, store=store, if_active="attach").start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-other", Knowledge.FOREIGN)
        assert "the service refused the start" in outcome.how
        assert hook.stopped == []
        assert store.phases == ["sending", "refused", "attached"]

    def test_fail_fails_and_leaves_it_alone(self):
        hook, store = self.busy_hook(), Store()
        with pytest.raises(RealtimeKitMeetingRecordedError, match="if_active='fail'"):
            starter(hook, store=store, if_active="fail").start()
        assert hook.stopped == []
        assert store.phases == ["sending", "refused"]

    def test_stop_and_start_stops_it_then_starts(self):
        hook, store = self.busy_hook(), Store()
        start = starter(hook, store=store, if_active="stop_and_start")
        outcome = start.start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-mine", Knowledge.STARTED)
        assert hook.stopped == ["rec-other"]
        assert start.meeting_was_idle
        assert store.phases == ["sending", "refused", "sending", "started"]


class TestConvergence:
    """The service accepted two starts of one meeting: the earliest active recording wins."""

    def test_the_winner_is_ours(self):
        hook = FakeHook(active=[rec("rec-new")])
        assert starter(hook).start().knowledge is Knowledge.STARTED
        assert hook.stopped == []

    def test_another_won_ours_is_stopped_and_the_winner_followed(self):
        hook, store = FakeHook(active=[rec("rec-winner", invoked=ago(1))]), Store()
        start = starter(hook, store=store)
        outcome = start.start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-winner", Knowledge.FOREIGN)
        assert hook.stopped == ["rec-new"]  # only what this task started
        assert start.stopped == {"rec-new"}
        assert store.phases == ["sending", "started", "attached"]
        assert store.writes[-1]["recording_id"] == "rec-winner"

    def test_a_stop_that_fails_is_sent_once_and_the_winner_still_followed(self):
        hook = FakeHook(active=[rec("rec-winner", invoked=ago(1))], stop_fails=True)
        start = starter(hook)
        assert start.start().recording.id == "rec-winner"
        assert hook.stopped == ["rec-new"]
        assert start.stopped == {"rec-new"}  # never sent again

    def test_fail_stops_its_own_and_fails(self):
        hook = FakeHook(active=[rec("rec-winner", invoked=ago(1))])
        start = starter(hook, if_active="fail")
        with pytest.raises(RealtimeKitMeetingRecordedError, match="started first"):
            start.start()
        assert hook.stopped == ["rec-new"]
        assert start.learnt is not None
        assert start.learnt.recording.id == "rec-new"

    def test_stop_and_start_stops_the_other(self):
        hook = FakeHook(active=[rec("rec-winner", invoked=ago(1))])
        outcome = starter(hook, if_active="stop_and_start").start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-new", Knowledge.STARTED)
        assert hook.stopped == ["rec-winner"]


class TestLegacyStart:
    """The legacy start answers 200 with no body: the meeting is read before, the list after."""

    def test_idle_before_and_the_only_one_since_is_started(self):
        hook, store = (
            FakeHook(
                posts=[None],
                lists=[page(rec("rec-legacy", "INVOKED"), rec("rec-older", "UPLOADED", invoked=ago(3600)))],
            ),
            Store(),
        )
        start = starter(hook, LEGACY, store=store)
        outcome = start.start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-legacy", Knowledge.STARTED)
        assert "is the only one invoked since" in outcome.how
        assert start.meeting_was_idle
        assert hook.calls == ["active", "post", "list", "active"]
        assert store.phases == ["sending", "started"]

    def test_it_waits_for_its_recording_to_be_listed(self):
        hook = FakeHook(posts=[None], lists=[page(), page(rec("rec-legacy", "INVOKED"))])
        assert starter(hook, LEGACY).start().knowledge is Knowledge.STARTED
        assert hook.calls.count("list") == 2

    def test_a_second_recording_since_is_only_believed(self):
        hook = FakeHook(
            posts=[None], lists=[page(rec("rec-newer", "INVOKED"), rec("rec-earlier", invoked=ago(1)))]
        )
        outcome = starter(hook, LEGACY).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-newer", Knowledge.BELIEVED)
        assert "rec-earlier too" in outcome.how
        assert hook.stopped == []

    def test_a_recording_that_ended_is_never_taken(self):
        ended = rec("rec-ended", "UPLOADED", invoked=ago(20))
        hook = FakeHook(posts=[None], lists=[page(ended), page(rec("rec-legacy", "INVOKED"), ended)])
        outcome = starter(hook, LEGACY).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-legacy", Knowledge.BELIEVED)

    def test_an_unreadable_item_makes_it_only_believed(self):
        listed = page(rec("rec-legacy", "INVOKED"))
        listed.unreadable.append(object())  # type: ignore[arg-type]
        hook = FakeHook(posts=[None], lists=[listed])
        outcome = starter(hook, LEGACY).start()
        assert outcome.knowledge is Knowledge.BELIEVED
        assert "could not read" in outcome.how

    def test_without_a_read_before_it_is_only_believed(self):
        hook = FakeHook(posts=[None], lists=[page(rec("rec-legacy", "INVOKED"))])
        outcome = starter(hook, LEGACY).send()
        assert outcome.knowledge is Knowledge.BELIEVED
        assert "the meeting was not idle" in outcome.how

    @pytest.mark.parametrize(
        "lookup", [page(), api_error(503, "no answer")], ids=["never appears", "unreadable"]
    )
    def test_it_is_never_sent_again(self, lookup, monkeypatch):
        monkeypatch.setattr(RecordingStarter, "legacy_start_wait", 0.0)
        hook, store = FakeHook(posts=[None], lists=[lookup]), Store()
        with pytest.raises(RealtimeKitStartOutcomeUnknownError) as info:
            starter(hook, LEGACY, store=store).start()
        assert hook.calls.count("post") == 1
        assert info.value.accepted_at is not None
        assert store.phases == ["sending"]

    def test_a_lost_start_is_found_once_more(self, monkeypatch):
        monkeypatch.setattr(RecordingStarter, "legacy_start_wait", 0.0)
        hook = FakeHook(posts=[None], lists=[page()])
        start = starter(hook, LEGACY)
        with pytest.raises(RealtimeKitStartOutcomeUnknownError) as info:
            start.start()
        hook.scripts["list"] = [page(rec("rec-legacy", "INVOKED"))]
        found = start.resolve_lost_start(info.value)
        assert found is not None
        assert (found.recording.id, found.knowledge) == ("rec-legacy", Knowledge.STARTED)
        assert start.learnt == found

    def test_a_lost_start_that_cannot_be_read_stays_unknown(self):
        hook = FakeHook(lists=[api_error(503)])
        error = RealtimeKitStartOutcomeUnknownError("lost", accepted_at=ago())
        assert starter(hook, LEGACY).resolve_lost_start(error) is None
        assert starter(hook, LEGACY).resolve_lost_start(api_error(503)) is None  # no accepted start


class TestRetry:
    """A retry reads the meeting's active recording first and reconciles it with the journal."""

    def test_the_journal_recorded_it(self):
        earlier = JournalEntry("started", ago(10), "fp0", "rec-mine")
        hook, store = FakeHook(active=[rec("rec-mine", invoked=ago(10))]), Store(earlier)
        outcome = starter(hook, store=store, try_number=2).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-mine", Knowledge.STARTED)
        assert hook.calls == ["active"]
        assert store.writes[-1] == JournalEntry("started", earlier.sent_at, "fp0", "rec-mine").to_json()

    def test_a_start_sent_without_answer_is_believed(self):
        earlier = JournalEntry("sending", ago(10), "fp0")
        hook = FakeHook(active=[rec("rec-lost", invoked=ago(9), file="standup_u_p_audio_1.webm")])
        outcome = starter(hook, store=Store(earlier), try_number=2).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-lost", Knowledge.BELIEVED)
        assert "got no answer" in outcome.how

    @pytest.mark.parametrize(
        "active",
        [
            rec("rec-x", invoked=ago(60 * 60)),  # before the start was sent
            rec("rec-x", reason="RECORD_ON_START"),  # the meeting's own setting
            rec("rec-x", file="other_u_p_audio_1.webm"),  # another prefix
        ],
        ids=["older", "record-on-start", "other-prefix"],
    )
    def test_what_is_not_the_earlier_tries_is_foreign(self, active):
        hook = FakeHook(active=[active])
        outcome = starter(hook, store=Store(JournalEntry("sending", ago(10), "fp0")), try_number=2).start()
        assert outcome.knowledge is Knowledge.FOREIGN
        assert hook.stopped == []

    def test_a_journal_that_says_nothing_was_started_starts(self):
        hook, store = FakeHook(active=[None]), Store(JournalEntry("refused"))
        outcome = starter(hook, store=store, try_number=2).start()
        assert outcome.knowledge is Knowledge.STARTED
        assert hook.calls == ["active", "post", "active"]  # no list: the journal accounts for try 1

    def test_an_earlier_tries_stopped_recording_is_reattached(self):
        earlier = JournalEntry("sending", ago(10), "fp0")
        listed = page(rec("rec-err", "ERRORED", invoked=ago(5)), rec("rec-done", "UPLOADED", invoked=ago(9)))
        hook = FakeHook(active=[None], lists=[listed])
        outcome = starter(hook, store=Store(earlier), try_number=2).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-done", Knowledge.BELIEVED)
        assert "reattaching to a stopped recording" in outcome.how
        assert "post" not in hook.calls

    def test_without_a_journal_what_looks_like_ours_since_the_run_started_is_believed(self):
        hook = FakeHook(active=[rec("rec-looks", invoked=ago(30))])
        outcome = starter(hook, store=None, try_number=2, run_started_at=ago(60)).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-looks", Knowledge.BELIEVED)
        assert "no task state store" in outcome.how

    def test_without_a_journal_an_older_one_is_foreign(self):
        hook = FakeHook(active=[rec("rec-old", invoked=ago(600))])
        outcome = starter(hook, store=None, try_number=2, run_started_at=ago(60)).start()
        assert outcome.knowledge is Knowledge.FOREIGN

    def test_without_a_journal_a_stopped_one_since_the_run_started_is_reattached(self):
        hook = FakeHook(active=[None], lists=[page(rec("rec-done", "UPLOADED", invoked=ago(30)))])
        outcome = starter(hook, store=None, try_number=2, run_started_at=ago(60)).start()
        assert (outcome.recording.id, outcome.knowledge) == ("rec-done", Knowledge.BELIEVED)

    @pytest.mark.parametrize("policy", list(IfActive))
    def test_if_active_on_a_foreign_active_recording(self, policy):
        hook = FakeHook(active=[rec("rec-other", invoked=ago(600)), None])
        start = starter(hook, store=Store(JournalEntry("refused")), if_active=policy, try_number=2)
        if policy is IfActive.FAIL:
            with pytest.raises(RealtimeKitMeetingRecordedError, match="it was already active"):
                start.start()
            assert hook.stopped == []
            return
        outcome = start.start()
        if policy is IfActive.ATTACH:
            assert (outcome.recording.id, outcome.knowledge) == ("rec-other", Knowledge.FOREIGN)
            assert hook.stopped == []
        else:
            assert (outcome.recording.id, outcome.knowledge) == ("rec-new", Knowledge.STARTED)
            assert hook.stopped == ["rec-other"]


def test_never_stops_what_it_did_not_start():
    """Across every path above the only stops are of STARTED recordings or by ``stop_and_start``;
    here: a believed recording after a lost answer, with another start winning, is never stopped."""
    hook = FakeHook(posts=[api_error(503)], active=[rec("rec-believed"), rec("rec-winner", invoked=ago(1))])
    outcome = starter(hook).start()
    assert outcome.knowledge is Knowledge.BELIEVED
    assert hook.stopped == []


def test_if_active_parses_any_case_and_refuses_others():
    assert IfActive.parse(" Stop_And_Start ") is IfActive.STOP_AND_START
    with pytest.raises(ValueError):
        IfActive.parse("sometimes")
