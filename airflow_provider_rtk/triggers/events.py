"""The events the RealtimeKit triggers fire, typed, and the decisions both triggers and sensors share.

A trigger's event payload is a plain JSON dict (it travels through Airflow's metadata database). These
models describe it: triggers build a model and send ``model.to_payload()``; whoever receives the dict
(``execute_complete`` of an operator or sensor) turns it back with ``RecordingEvent.parse(event)``.

Target statuses of a recording follow its life cycle ``INVOKED -> RECORDING (<-> PAUSED) -> UPLOADING
-> UPLOADED``. A target is *reached or passed*: waiting for ``RECORDING`` is satisfied by ``RECORDING``,
``PAUSED``, ``UPLOADING`` or ``UPLOADED`` (the recording has started); ``UPLOADED`` only by ``UPLOADED``.
``PAUSED`` is a side state, satisfied only by ``PAUSED`` and unreachable once uploading has begun.
``ERRORED`` always ends the wait with an error, and cannot itself be a target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_rtk.arguments import target_status_argument
from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.storable import storable

if TYPE_CHECKING:
    from typing import Self

    from airflow_provider_rtk.models import ActiveSession, Recording, SessionDocument

EventStatus = Literal["success", "error", "timeout"]

#: Rank of each status along the life cycle (``PAUSED`` sits beside ``RECORDING``).
_LIFECYCLE_RANK: dict[RecordingStatus, int] = {
    RecordingStatus.INVOKED: 0,
    RecordingStatus.RECORDING: 1,
    RecordingStatus.PAUSED: 1,
    RecordingStatus.UPLOADING: 2,
    RecordingStatus.UPLOADED: 3,
}


class RealtimeKitEvent(BaseModel):
    """What every event of this provider carries: an outcome and a sentence for the task log."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: EventStatus
    message: str = ""

    @classmethod
    def parse(cls, event: Any) -> Self:
        """The event a trigger fired (its payload dict), or :class:`RealtimeKitError` if it is not one."""
        try:
            return cls.model_validate(event)
        except ValidationError as error:
            raise RealtimeKitError(f"Unexpected trigger event for {cls.__name__}: {error}") from None

    def to_payload(self) -> dict[str, Any]:
        """The JSON-ready dict a trigger fires (every field, so the receiver sees the same model)."""
        return self.model_dump(mode="json")

    @property
    def is_success(self) -> bool:
        return self.status == "success"

    @property
    def is_timeout(self) -> bool:
        return self.status == "timeout"

    @property
    def is_error(self) -> bool:
        return self.status == "error"


class RecordingEvent(RealtimeKitEvent):
    """Outcome of waiting for a recording.

    ``recording`` is :meth:`Recording.to_xcom` of the last recording read (no secrets). On an ``error``
    event it is set when the *recording* failed (``ERRORED``, or finished without reaching the target)
    and ``None`` when the *API* kept failing: the first will not change on a retry, the second may.
    ``knowledge`` carries what the waiting task knows of the recording across the deferral
    (``started``, ``believed`` or ``foreign``); ``stopped`` says the trigger stopped it at its
    deadline, and ``end_reason`` what set that deadline.
    """

    recording_id: str
    recording_status: str | None = None
    recording: dict[str, Any] | None = None
    knowledge: Literal["started", "believed", "foreign"] = "foreign"
    stopped: bool = False
    end_reason: str = "timeout"

    @property
    def recording_failed(self) -> bool:
        """An error event about the recording itself (not about reaching the API)."""
        return self.is_error and self.recording is not None


class ActiveSessionEvent(RealtimeKitEvent):
    """Outcome of waiting for a meeting to have a live session (``session_id`` set on success)."""

    meeting_id: str
    session_id: str | None = None


# --------------------------------------------------------------------------------------------------
# Decisions shared by the triggers (async, in the triggerer) and the sensors (sync, on a worker).


class LiveSessionEvent(RealtimeKitEvent):
    """A watched meeting has a new live session: the live-session trigger's event, which Airflow puts in
    the asset event's ``extra["payload"]`` (read back by
    :func:`~airflow_provider_rtk.assets.sessions_from_asset_events`)."""

    meeting_id: str
    session_id: str
    title: str | None = None
    started_at: str | None = None

    @classmethod
    def from_session(cls, session: ActiveSession) -> LiveSessionEvent:
        return cls.of(
            session.associated_id or "",
            session.id,
            title=session.meeting_display_name,
            started_at=session.started_at,
        )

    @classmethod
    def of(
        cls, meeting_id: str, session_id: str, *, title: str | None, started_at: str | None
    ) -> LiveSessionEvent:
        """The event of a new live session, polled (:meth:`from_session`) or pushed (a webhook's
        ``meeting.started``): the same fields, so a run cannot tell which delivered it."""
        return cls(
            status="success",
            meeting_id=meeting_id,
            session_id=session_id,
            title=storable(title) or None,
            started_at=storable(started_at),
            message=f"Meeting {meeting_id} has a new live session {session_id}.",
        )


def parse_target_status(value: str | RecordingStatus) -> RecordingStatus:
    """A status one can wait for (:data:`~airflow_provider_rtk.arguments.WAITABLE_STATUSES`: any but
    ``ERRORED``); the error lists the valid ones."""
    return RecordingStatus(
        target_status_argument(value.value if isinstance(value, RecordingStatus) else value)
    )


def target_reached(status: RecordingStatus, target: RecordingStatus) -> bool:
    """Whether a recording in ``status`` has reached or passed ``target`` (see the module docstring).
    A status this provider does not know has reached nothing (and :func:`target_unreachable` says it
    may still): the wait goes on."""
    if status is RecordingStatus.ERRORED or not status.is_known:
        return False
    if target is RecordingStatus.PAUSED:
        return status is RecordingStatus.PAUSED
    return _LIFECYCLE_RANK[status] >= _LIFECYCLE_RANK[target]


def target_unreachable(status: RecordingStatus, target: RecordingStatus) -> bool:
    """Whether a recording in ``status`` can never reach ``target`` any more."""
    if target_reached(status, target) or not status.is_known:
        return False
    if status.is_terminal:
        return True
    return target is RecordingStatus.PAUSED and not status.is_capturing


def _stop_reason(recording: Recording) -> str:
    reason = recording.stop_reason.reason if recording.stop_reason else None
    return reason or "unknown"


def recording_event(recording: Recording, target: RecordingStatus) -> RecordingEvent | None:
    """The event a recording in its current state settles, or ``None`` while it is worth waiting."""
    status = recording.status
    common: dict[str, Any] = {
        "recording_id": recording.id,
        "recording_status": status.value,
        "recording": recording.to_xcom(),
    }
    if target_reached(status, target):
        return RecordingEvent(
            status="success",
            message=f"Recording {recording.id} is {status.value} (waited for {target.value}).",
            **common,
        )
    if status is RecordingStatus.ERRORED:
        return RecordingEvent(
            status="error",
            message=f"Recording {recording.id} ended in ERRORED (stop reason: {_stop_reason(recording)}).",
            **common,
        )
    if target_unreachable(status, target):
        return RecordingEvent(
            status="error",
            message=(
                f"Recording {recording.id} is {status.value} and can no longer reach {target.value} "
                f"(stop reason: {_stop_reason(recording)})."
            ),
            **common,
        )
    return None


def active_session_event(meeting_id: str, session: ActiveSession | None) -> ActiveSessionEvent | None:
    """A success event when the meeting has a LIVE session; ``None`` while it has none (or it ENDED)."""
    if session is None or not session.is_live:
        return None
    return ActiveSessionEvent(
        status="success",
        meeting_id=meeting_id,
        session_id=session.id,
        message=f"Meeting {meeting_id} has the live session {session.id}.",
    )


# --------------------------------------------------------------------------------------------------
# Post-meeting transcripts and summaries


class SessionDocumentsEvent(RealtimeKitEvent):
    """Outcome of waiting for sessions' post-meeting files (transcript, summary): ``success`` once
    every one asked for has a download link; ``timeout`` with the ``missing`` ones (``<session
    id>/<document>``) when the deadline passed first; ``error`` when the API kept failing. The event
    holds no link: the operator reads fresh ones when it copies."""

    session_ids: list[str]
    include: list[str]
    missing: list[str] = []


def missing_document(session_id: str, document: str, found: SessionDocument | None) -> str | None:
    """``<session id>/<document>`` while the service has no link for it (a 404 is ``found=None``),
    else ``None``."""
    return None if found is not None and found.is_ready else f"{session_id}/{document}"
