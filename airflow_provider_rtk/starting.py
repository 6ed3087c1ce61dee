"""The start decision, in one place: what a task's start leads to, and how the task knows it.

:class:`RecordingStarter` reconciles with the service and the journal, sends the start through the
hook (which only speaks HTTP), resolves an ambiguous or refused start, applies ``if_active``, and makes
two racing starts of one meeting converge. Every outcome is journalled (:class:`StartJournal`) the
instant it is known, before the starter does anything else. Plain Python: no Airflow machinery, no
HTTP of its own; the vocabulary (:class:`Knowledge`, :class:`StartOutcome`, the journal) lives in
:mod:`airflow_provider_rtk.ownership`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitMeetingBusyError,
    RealtimeKitMeetingRecordedError,
    RealtimeKitStartOutcomeUnknownError,
    RealtimeKitTransportError,
)
from airflow_provider_rtk.ownership import (
    CLOCK_SKEW,
    IfActive,
    JournalEntry,
    Knowledge,
    StartJournal,
    StartOutcome,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from contextlib import AbstractContextManager

    from airflow_provider_rtk.models import Recording, RecordingPage, TrackRecordingRequest

__all__ = ["IfActive", "RecordingStarter", "legacy_start_outcome"]

_log = logging.getLogger(__name__)


class StartLog(Protocol):
    """Where the starter says what happened (a stdlib logger, or the task's)."""

    def info(self, msg: Any, /, *args: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any) -> Any: ...

    def error(self, msg: Any, /, *args: Any) -> Any: ...


class StartHook(Protocol):
    """What the starter needs of a hook: HTTP verbs, the connection's retry schedule and settings."""

    @property
    def read_timeout(self) -> float: ...

    @property
    def second_start_refused(self) -> bool: ...

    def attempts(self) -> Iterable[AbstractContextManager[Any]]: ...

    def post_track_recording(self, request: TrackRecordingRequest) -> Recording | None: ...

    def get_active_recording(self, meeting_id: str) -> Recording | None: ...

    def list_recordings(self, **filters: Any) -> RecordingPage: ...

    def stop_recording(self, recording_id: str) -> Recording: ...


# ---------------------------------------------------------------------------------- rules


def started_since(recording: Recording, sent_at: datetime) -> bool:
    """Whether a recording was invoked by a request sent at ``sent_at`` (allowing for clock skew);
    one with no ``invoked_time`` is taken to be."""
    return recording.invoked_time is None or recording.invoked_since(sent_at - CLOCK_SKEW)


def maybe_took_effect(error: RealtimeKitAPIError) -> bool:
    """After this failure, may the service have acted anyway? (timeouts, dropped answers, 5xx)"""
    if isinstance(error, RealtimeKitTransportError):
        return error.maybe_delivered
    return error.status_code is not None and error.status_code >= 500


def is_busy_refusal(error: RealtimeKitAPIError) -> bool:
    """A refusal that may mean "the meeting is already being recorded" (undocumented: 400 or 409)."""
    return error.status_code in (400, 409, 422)


def outcome_unknown(
    meeting_id: str,
    error: RealtimeKitAPIError,
    lookup_error: RealtimeKitAPIError,
    accepted_at: datetime | None = None,
) -> RealtimeKitStartOutcomeUnknownError:
    return RealtimeKitStartOutcomeUnknownError(
        f"the start for meeting {meeting_id} {error} and whether a recording started is unknown: "
        f"reading the active recording failed too ({lookup_error}); not sending it again",
        status_code=error.status_code,
        operation="startTrackRecordingForAMeeting",
        meeting_id=meeting_id,
        accepted_at=accepted_at,
    )


def busy(meeting_id: str, active: Recording, error: RealtimeKitAPIError) -> RealtimeKitMeetingBusyError:
    return RealtimeKitMeetingBusyError(
        f"meeting {meeting_id} already has active recording {active.id} (invoked {active.invoked_time}), "
        f"which this request did not start; the start failed: {error}",
        active=active,
        status_code=409,
        operation=error.operation,
    )


def legacy_start_outcome(
    page: RecordingPage, meeting_id: str, sent_at: datetime, *, meeting_was_idle: bool
) -> StartOutcome | None:
    """What a legacy start (200, no body) sent at ``sent_at`` led to, read from a page of the meeting's
    newest recordings; ``None`` while no recording of the meeting invoked since is capturing.

    ``STARTED`` only when the evidence excludes every other client's start: the meeting had no
    active recording just before (``meeting_was_idle``) and exactly one recording of the meeting
    was invoked since this start was sent (another client's start in that window would show as a
    second one; so does a recording that ended within the skew allowance), and the list held no item
    it could not read (that one may be another's). Anything weaker is ``BELIEVED``: the newest
    capturing such recording is followed (the one least likely to be another task's, as a task that
    listed earlier saw fewer), never stopped.
    """
    since = [r for r in page.recordings if r.meeting_id in (None, meeting_id) and started_since(r, sent_at)]
    capturing = [r for r in since if r.status.is_capturing]
    if not capturing:  # this start's recording is not listed yet (or ended at once: never taken)
        return None
    newest = capturing[0]
    # an item the models could not read may be another client's recording invoked since
    if meeting_was_idle and len(since) == 1 and not page.unreadable:
        how = (
            f"legacy start (200, no body): the meeting had no recording before, and {newest.id} "
            "is the only one invoked since"
        )
        return StartOutcome(newest, Knowledge.STARTED, how)
    others = ", ".join(r.id for r in since if r is not newest)
    if others:
        doubt = f"{others} too (another client may have started one)"
    elif page.unreadable:
        doubt = f"the list held {len(page.unreadable)} recording(s) it could not read"
    else:
        doubt = "the meeting was not idle"
    how = f"legacy start (200, no body); {newest.id} is the newest recording invoked since, but {doubt}"
    return StartOutcome(newest, Knowledge.BELIEVED, how)


# ---------------------------------------------------------------------------------- the starter


def stop_started(
    stop: Callable[[str], object], recording_id: str, why: str, log: logging.Logger | Any
) -> bool:
    """Send the one stop of a recording the task STARTED (the caller records it as stopped first, so
    an interruption never sends a second); a failed stop is logged as left running, never raised.
    Returns whether the stop was accepted."""
    log.warning("Stopping recording %s, which this task started, because %s", recording_id, why)
    try:
        stop(recording_id)
    except Exception as error:
        log.error(
            "Recording %s left running: the stop failed (%s: %s); stop it by hand",
            recording_id,
            type(error).__name__,
            error,
        )
        return False
    return True


class RecordingStarter:
    """Start (or find) the recording of one task's try, and know how it is known.

    :meth:`start` returns the :class:`StartOutcome`; each outcome is journalled the instant it is
    known. Whatever it raises, :attr:`learnt` is what the try follows so far (``None``: nothing),
    :attr:`fact` the journal entry of it, and :attr:`stopped` the recordings it stopped itself.

    :param hook: speaks HTTP (see :class:`StartHook`).
    :param request: the validated request.
    :param journal: the write-ahead start record (a no-op one when there is no task state store).
    :param if_active: what to do with an active recording this task did not start.
    :param try_number: the task's try (a retry reconciles first).
    :param run_started_at: when the DAG run started (a retry without a journal trusts what looks
        like its own since then).
    :param fingerprint: the journal's digest of the request (secrets masked by the caller).
    :param log: where to say what happened (the task's log).
    """

    #: How long the legacy start (200, no body) may take to show the new recording as active.
    legacy_start_wait = 15.0
    #: How many of a meeting's newest recordings a legacy start reads to find its own.
    legacy_start_page = 20

    def __init__(
        self,
        hook: StartHook,
        request: TrackRecordingRequest,
        *,
        journal: StartJournal | None = None,
        if_active: IfActive | str = IfActive.ATTACH,
        try_number: int = 1,
        run_started_at: datetime | None = None,
        fingerprint: str = "",
        log: StartLog | None = None,
    ) -> None:
        self.hook = hook
        self.request = request
        self.journal = journal if journal is not None else StartJournal(None)
        self.policy = IfActive.parse(if_active)
        self.try_number = try_number
        self.run_started_at = run_started_at
        self.fingerprint = fingerprint
        self.log: StartLog = log or _log
        self.learnt: StartOutcome | None = None
        self.fact: JournalEntry | None = None
        self.stopped: set[str] = set()
        #: Whether the meeting had no active recording just before the start was sent.
        self.meeting_was_idle = False
        self._sent_at: datetime | None = None

    @property
    def meeting_id(self) -> str:
        return self.request.meeting_id

    def start(self) -> StartOutcome:
        """Reconcile with the service and the journal, then start (or follow) a recording.

        A first try with the current body sends the start straight away: the service's answer, or its
        refusal while another recording is active, says what there is. A retry, and the legacy body
        (whose empty answer only the state before it can explain), read the meeting's active
        recording first.
        """
        if self.try_number <= 1 and self.request.generation == "current":
            return self._start()
        earlier = self.journal.read() if self.try_number > 1 else None
        active = self.hook.get_active_recording(self.meeting_id)
        outcome = self._reconcile(active, earlier)
        if outcome is None:
            self.meeting_was_idle = active is None
            return self._start()
        self._learn(outcome, earlier.sent_at if earlier else None, earlier.fingerprint if earlier else None)
        self._log_following(outcome)
        return outcome

    # ------------------------------------------------------------------------------ knowing

    def _learn(
        self, outcome: StartOutcome, sent_at: datetime | None = None, fingerprint: str | None = None
    ) -> None:
        """Follow ``outcome`` and journal it: the id and how it is known, in ONE write, before
        anything else (``sent_at`` and ``fingerprint``: the start it came from, if any)."""
        self.learnt = outcome
        self.fact = self.journal.entry_for(outcome, sent_at, fingerprint)
        self.journal.write(self.fact)

    def _log_following(self, outcome: StartOutcome) -> None:
        self.log.warning(
            "Following recording %s of meeting %s, %s: %s",
            outcome.recording.id,
            self.meeting_id,
            outcome.knowledge.describe(),
            outcome.how,
        )

    # ------------------------------------------------------------------------------ reconciling

    def _reconcile(self, active: Recording | None, earlier: JournalEntry | None) -> StartOutcome | None:
        """What this try follows without starting anything; ``None``: start a recording."""
        if active is not None:
            if (
                earlier is not None
                and earlier.recording_id == active.id
                and earlier.knowledge is not Knowledge.FOREIGN
            ):
                return StartOutcome(
                    active, earlier.knowledge, "an earlier try recorded it in the task state store"
                )
            why = self._earlier_try_evidence(active, earlier)
            if why is not None:
                return StartOutcome(active, Knowledge.BELIEVED, why)
            return self._apply_policy(active, "it was already active")
        if self.try_number > 1:
            return self._earlier_try_stopped_recording(earlier)
        return None

    def _earlier_try_evidence(self, recording: Recording, earlier: JournalEntry | None) -> str | None:
        """Why ``recording`` may be an earlier try's (``None``: no reason to think so).

        With the task state store only a recorded start with no answer counts (the recording was
        invoked since and has this task's file prefix); without it (Airflow < 3.3, ``durable=False``)
        a retry follows what looks like its earlier try's: invoked since the DAG run started, through
        the API, with this task's prefix. Either way it is only believed, never stopped.
        """
        if not self._looks_like_ours(recording):
            return None
        if self.journal.available:
            if earlier is None or earlier.phase != "sending" or earlier.sent_at is None:
                return None
            if not recording.invoked_since(earlier.sent_at - CLOCK_SKEW):
                return None
            return f"an earlier try sent a start at {earlier.sent_at.isoformat()} and got no answer"
        since = self.run_started_at if self.try_number > 1 else None
        if since is None or not recording.invoked_since(since):
            return None
        return "it looks like an earlier try's (no task state store to know for sure)"

    def _looks_like_ours(self, recording: Recording) -> bool:
        """Started through the API with this task's file prefix."""
        reason = recording.start_reason.reason if recording.start_reason else None
        if reason not in (None, "API_CALL"):  # e.g. RECORD_ON_START: the meeting's own setting
            return False
        if not recording.output_file_name:
            return True
        prefixes = [layer.file_name_prefix or "default" for layer in (self.request.layers or {}).values()]
        return any(recording.output_file_name.startswith(f"{prefix}_") for prefix in prefixes or ["default"])

    def _earlier_try_stopped_recording(self, earlier: JournalEntry | None) -> StartOutcome | None:
        """On a retry with nothing active: an earlier try's recording that has since stopped (it
        ended, or was stopped): follow it rather than record the meeting a second time."""
        if self.journal.available and (earlier is None or earlier.phase != "sending"):
            return None  # the store says the earlier try started nothing that is not accounted for
        page = self.hook.list_recordings(
            meeting_id=self.meeting_id, sort_by="invokedTime", sort_order="DESC", per_page=20
        )
        for recording in page.recordings:
            if recording.status.value == "ERRORED":
                continue
            why = self._earlier_try_evidence(recording, earlier)
            if why is not None:
                return StartOutcome(
                    recording, Knowledge.BELIEVED, f"reattaching to a stopped recording: {why}"
                )
        return None

    def _apply_policy(self, active: Recording, why: str) -> StartOutcome | None:
        """``if_active`` for a recording this task did not start; ``None`` means: start a new one."""
        if self.policy is IfActive.ATTACH:
            return StartOutcome(active, Knowledge.FOREIGN, f"{why}; if_active='attach'")
        if self.policy is IfActive.FAIL:
            raise RealtimeKitMeetingRecordedError(
                f"Meeting {self.meeting_id} already has active recording {active.id} "
                f"(status {active.status.value}), not started by this task ({why}); if_active='fail'"
            )
        self.log.warning(
            "Stopping active recording %s of meeting %s before starting a new one (%s; if_active)",
            active.id,
            self.meeting_id,
            why,
        )
        self.hook.stop_recording(active.id)
        return None

    # ------------------------------------------------------------------------------ starting

    def _start(self) -> StartOutcome:
        """Send the start, journalled ahead; then make sure two starts of one meeting converge."""
        self._sent_at = self.journal.intent(self.fingerprint)
        try:
            outcome = self.send()
        except RealtimeKitMeetingBusyError as refused:
            self.journal.refused()
            chosen = self._apply_policy(refused.active, f"the service refused the start ({refused.message})")
            if chosen is None:
                self.meeting_was_idle = True
                return self._start()
            self._learn(chosen, self._sent_at, self.fingerprint)
            self._log_following(chosen)
            return chosen
        except RealtimeKitAPIError as error:
            if not (error.is_retryable or isinstance(error, RealtimeKitStartOutcomeUnknownError)):
                self.journal.refused()  # a definite no: nothing was started
            raise
        self.log.info(
            "Started %s-API track recording %s of meeting %s (status %s): %s",
            self.request.generation,
            outcome.recording.id,
            self.meeting_id,
            outcome.recording.status.value,
            outcome.knowledge.describe(),
        )
        return self._converge(outcome)

    def send(self) -> StartOutcome:
        """Send the start (retried as the connection says, but never while it may have worked) and
        return what it led to, journalled.

        ``STARTED`` when the answer carries the recording (or, for the legacy empty 200, when the
        meeting was idle just before and one appeared right after). After a timeout, a dropped
        connection, a 5xx or an unusable answer, the meeting's active recording is read: one invoked
        since is ``BELIEVED`` (never to be stopped), and only if there is none is the start sent
        again. A refusal while another recording is active raises
        :class:`RealtimeKitMeetingBusyError` carrying it.
        """
        sent_at = first_uncertain = datetime.now(UTC)
        uncertain = False  # may an earlier attempt have started a recording?
        started: Recording | None = None
        for attempt in self.hook.attempts():
            with attempt:
                sent_at = datetime.now(UTC)
                try:
                    started = self.hook.post_track_recording(self.request)
                except RealtimeKitAPIError as error:
                    if maybe_took_effect(error):
                        if not uncertain:
                            uncertain, first_uncertain = True, sent_at
                        believed = self._reconcile_ambiguous_start(first_uncertain, error)
                        if believed is not None:
                            return self._learnt(believed)
                    elif is_busy_refusal(error):
                        adopted = self._after_refusal(error, first_uncertain if uncertain else None)
                        if adopted is not None:
                            return self._learnt(adopted)
                    raise  # nothing was started: safe to send again (if the error is retryable)
        if started is not None:
            return self._learnt(StartOutcome(started, Knowledge.STARTED, "the id came in the start's answer"))
        return self._learnt(self._legacy_outcome(sent_at))

    def _learnt(self, outcome: StartOutcome) -> StartOutcome:
        """Journal the outcome first, then log it."""
        self._learn(outcome, self._sent_at, self.fingerprint)
        self.log.info("Recording %s is %s: %s", outcome.recording.id, outcome.knowledge.value, outcome.how)
        return outcome

    def _watch_active(self, seconds: float, error: RealtimeKitAPIError) -> Recording | None:
        """The meeting's active recording, watched for up to ``seconds`` until one shows; raises
        :class:`RealtimeKitStartOutcomeUnknownError` if it cannot even be read."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                active = self.hook.get_active_recording(self.meeting_id)
            except RealtimeKitAPIError as lookup_error:
                raise outcome_unknown(self.meeting_id, error, lookup_error) from lookup_error
            if active is not None or time.monotonic() >= deadline:
                return active
            time.sleep(0.5)

    def _reconcile_ambiguous_start(
        self, sent_at: datetime, error: RealtimeKitAPIError
    ) -> StartOutcome | None:
        """After a start that may have worked: the recording it may have started (``BELIEVED``), or
        ``None`` if none is active (then the start may be resent).

        After a timeout (ours, or a gateway's 504) the service may still be working on the request, so
        the meeting is watched for as long again as the request was given. A recording that was active
        before the request is another's: :class:`RealtimeKitMeetingBusyError`.
        """
        in_progress = error.status_code == 504 or (
            isinstance(error, RealtimeKitTransportError) and error.maybe_in_progress
        )
        active = self._watch_active(self.hook.read_timeout if in_progress else 0.0, error)
        if active is None:
            self.log.warning(
                "Start for meeting %s failed (%s); no recording is active", self.meeting_id, error
            )
            return None
        if not started_since(active, sent_at):
            raise busy(self.meeting_id, active, error)
        return StartOutcome(
            active,
            Knowledge.BELIEVED,
            f"the start's answer was lost ({error}); recording {active.id} became active since",
        )

    def _after_refusal(
        self, error: RealtimeKitAPIError, uncertain_since: datetime | None
    ) -> StartOutcome | None:
        """A refused start. After an earlier ambiguous attempt, a recording active since is that
        attempt's (``BELIEVED``); any other active recording is why the start was refused
        (:class:`RealtimeKitMeetingBusyError`); ``None`` when none is active (the refusal stands)."""
        try:
            active = self.hook.get_active_recording(self.meeting_id)
        except RealtimeKitAPIError:
            return None
        if active is None:
            return None
        if uncertain_since is not None and started_since(active, uncertain_since):
            how = f"a resent start was refused ({error}); recording {active.id} is the first attempt's"
            return StartOutcome(active, Knowledge.BELIEVED, how)
        raise busy(self.meeting_id, active, error)

    def _legacy_outcome(self, sent_at: datetime) -> StartOutcome:
        """The legacy start answers 200 with no body: find the new recording among the meeting's
        recordings. The start took effect, so whatever goes wrong here must not send it again."""
        accepted = RealtimeKitAPIError("was accepted (200, no body)", status_code=200)
        deadline = time.monotonic() + self.legacy_start_wait
        while True:
            try:
                outcome = self.find_legacy_start(sent_at)
            except RealtimeKitAPIError as lookup_error:
                raise outcome_unknown(self.meeting_id, accepted, lookup_error, sent_at) from lookup_error
            if outcome is not None:
                return outcome
            if time.monotonic() >= deadline:
                raise RealtimeKitStartOutcomeUnknownError(
                    f"the service accepted the start for meeting {self.meeting_id} (200, no body), but no "
                    f"new recording appeared within {self.legacy_start_wait:g}s; not sending it again",
                    status_code=200,
                    operation="startTrackRecordingForAMeeting",
                    meeting_id=self.meeting_id,
                    accepted_at=sent_at,
                )
            time.sleep(1.0)

    def find_legacy_start(self, sent_at: datetime, hook: StartHook | None = None) -> StartOutcome | None:
        """What a legacy start sent at ``sent_at`` led to (:func:`legacy_start_outcome`), from one
        read of the meeting's newest recordings (through ``hook``, default this starter's)."""
        page = (hook or self.hook).list_recordings(
            meeting_id=self.meeting_id,
            sort_by="invokedTime",
            sort_order="DESC",
            per_page=self.legacy_start_page,
        )
        return legacy_start_outcome(page, self.meeting_id, sent_at, meeting_was_idle=self.meeting_was_idle)

    def resolve_lost_start(self, error: BaseException, hook: StartHook | None = None) -> StartOutcome | None:
        """A legacy start the service accepted (200) whose recording could not be found: look once
        more, so that the recording it started is known (and can be stopped) rather than lost.
        Not journalled: the task is failing for good."""
        accepted_at = getattr(error, "accepted_at", None)
        if accepted_at is None:
            return None
        try:
            found = self.find_legacy_start(accepted_at, hook)
        except RealtimeKitAPIError as lookup_error:
            self.log.error(
                "The accepted start's recording is still unknown (%s); check meeting %s",
                lookup_error,
                self.meeting_id,
            )
            return None
        if found is not None:
            self.log.warning(
                "Found recording %s after the accepted start: %s (%s)",
                found.recording.id,
                found.knowledge.describe(),
                found.how,
            )
            self.learnt = found
        return found

    # ------------------------------------------------------------------------------ converging

    def _converge(self, outcome: StartOutcome) -> StartOutcome:
        """After a start the service accepted while another start of the meeting raced it: the
        meeting's active recording is the one that won. If it is not ours, ours yields (it is stopped
        only if this task started it) and the task follows the winner as ``if_active`` says.

        Skipped when the connection's extra ``second_start`` is ``"refused"``: the service then
        refuses the later of two starts, and the refusal already converges them."""
        if outcome.knowledge is not Knowledge.STARTED or self.hook.second_start_refused:
            return outcome
        ours = outcome.recording
        winner = self.hook.get_active_recording(self.meeting_id)
        if winner is None or winner.id == ours.id:
            return outcome
        if self.policy is IfActive.STOP_AND_START:
            self.log.warning(
                "Meeting %s has a second recording %s; stopping it (if_active)", ours.meeting_id, winner.id
            )
            self.hook.stop_recording(winner.id)
            return outcome
        self._stop_own(ours.id, f"recording {winner.id} of the same meeting started first")
        if self.policy is IfActive.FAIL:
            raise RealtimeKitMeetingRecordedError(
                f"Meeting {self.meeting_id} is recorded by {winner.id}, which started first; "
                f"this task stopped its own {ours.id}; if_active='fail'"
            )
        followed = StartOutcome(
            winner, Knowledge.FOREIGN, f"it won the race; this task stopped its own {ours.id}"
        )
        self._learn(followed)
        self._log_following(followed)
        return followed

    def _stop_own(self, recording_id: str, why: str) -> None:
        """Stop the recording this start STARTED (exactly one request, even if it fails)."""
        self.stopped.add(recording_id)  # before sending: exactly one stop, even if interrupted
        stop_started(self.hook.stop_recording, recording_id, why, self.log)
