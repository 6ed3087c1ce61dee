"""What a task knows about a recording, and the write-ahead journal that keeps it across tries.

Three kinds of knowledge, one rule:

* ``STARTED``: the id came back in the answer to this task's own start (or, legacy body, the meeting
  had no active recording just before this task's accepted start, and exactly one recording of the
  meeting was invoked since that start was sent).
* ``BELIEVED``: found by a search after an ambiguous answer, or by a retry's reconciliation.
* ``FOREIGN``: everything else.

Only ``STARTED`` gives the right to stop a recording. ``BELIEVED`` may prevent a second start (the
task follows that recording) but never gives the right to stop it.

The journal lives in Airflow 3.3's task state store: before a start is sent it records the intent
(when, and a fingerprint of the request); the instant the answer arrives it records the id. A retry
reads it: intent without an id is an ambiguous start to reconcile, no intent means the earlier try sent
no start. The id and how it is known are one entry, written at once. This module imports nothing of
Airflow.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from airflow_provider_rtk.models import Recording


#: How far the service's clock may be behind ours when telling "invoked since this request" apart.
CLOCK_SKEW = timedelta(seconds=60)


class Knowledge(str, Enum):
    """How the task knows a recording: only ``STARTED`` may be stopped by the task."""

    STARTED = "started"
    BELIEVED = "believed"
    FOREIGN = "foreign"

    @property
    def may_stop(self) -> bool:
        return self is Knowledge.STARTED

    def describe(self) -> str:
        """A phrase for the task log."""
        return {
            Knowledge.STARTED: "started by this task (it may stop it)",
            Knowledge.BELIEVED: "believed to be this task's own (it will follow it, never stop it)",
            Knowledge.FOREIGN: "not started by this task (it will follow it, never stop it)",
        }[self]


class IfActive(str, Enum):
    """What to do when the meeting already has an active recording this task did not start."""

    ATTACH = "attach"  #: follow that recording as if this task had started it (never stop it)
    FAIL = "fail"  #: fail the task, naming the recording
    STOP_AND_START = "stop_and_start"  #: stop it, then start a new one

    @classmethod
    def parse(cls, value: IfActive | str) -> IfActive:
        """``value`` as a policy (any case, spaces around); ``ValueError`` if it is none."""
        return value if isinstance(value, IfActive) else cls(str(value).strip().lower())


class StartOutcome(NamedTuple):
    """What a start led to: the recording, and how the task knows it (``how`` says why, for the log)."""

    recording: Recording
    knowledge: Knowledge
    how: str


def request_fingerprint(body: Any) -> str:
    """A short, stable digest of a request body (secrets never leave in it: it is a hash)."""
    text = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Store(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


class JournalEntry(NamedTuple):
    """One try's record of its start: ``phase`` is ``sending`` (intent, no answer yet), ``started``
    or ``believed`` (with ``recording_id``), ``attached`` (a foreign one, followed)."""

    phase: str
    sent_at: datetime | None = None
    fingerprint: str | None = None
    recording_id: str | None = None

    @property
    def knowledge(self) -> Knowledge:
        if self.phase == "started":
            return Knowledge.STARTED
        return Knowledge.BELIEVED if self.phase == "believed" else Knowledge.FOREIGN

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "fingerprint": self.fingerprint,
            "recording_id": self.recording_id,
        }

    @classmethod
    def from_json(cls, value: Any) -> JournalEntry | None:
        if not isinstance(value, dict) or not isinstance(value.get("phase"), str):
            return None
        sent_at = value.get("sent_at")
        return cls(
            phase=value["phase"],
            sent_at=datetime.fromisoformat(sent_at) if isinstance(sent_at, str) else None,
            fingerprint=value.get("fingerprint"),
            recording_id=value.get("recording_id"),
        )


class StartJournal:
    """The task's start record in the task state store (``store`` is ``None`` where there is none:
    Airflow < 3.3, or ``durable=False``; then every method is a no-op and ``available`` is False)."""

    KEY = "realtimekit_start"

    def __init__(self, store: _Store | None) -> None:
        self.store = store

    @property
    def available(self) -> bool:
        return self.store is not None

    def read(self) -> JournalEntry | None:
        return JournalEntry.from_json(self.store.get(self.KEY)) if self.store is not None else None

    def write(self, entry: JournalEntry) -> None:
        if self.store is not None:
            self.store.set(self.KEY, entry.to_json())

    def intent(self, fingerprint: str) -> datetime:
        """Record that a start is about to be sent; returns when."""
        sent_at = datetime.now(UTC)
        self.write(JournalEntry("sending", sent_at=sent_at, fingerprint=fingerprint))
        return sent_at

    def refused(self) -> None:
        """The service refused the start outright: nothing was started."""
        self.write(JournalEntry("refused"))

    @staticmethod
    def entry_for(outcome: StartOutcome, sent_at: datetime | None, fingerprint: str | None) -> JournalEntry:
        """The record of what a start led to: the recording's id AND how it is known, one entry
        (so one write: no try can leave the id stored without how it is known)."""
        phase = {Knowledge.STARTED: "started", Knowledge.BELIEVED: "believed"}.get(
            outcome.knowledge, "attached"
        )
        return JournalEntry(phase, sent_at, fingerprint, outcome.recording.id)

    def holds(self, recording_id: str) -> bool:
        """Whether the store, read back now, holds ``recording_id`` as what the start led to (a
        store that cannot be read holds nothing a retry could use)."""
        try:
            entry = self.read()
        except Exception:
            return False
        return entry is not None and entry.recording_id == recording_id
