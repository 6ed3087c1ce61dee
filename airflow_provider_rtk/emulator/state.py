"""The emulator's in-memory world (meetings, live sessions, recordings) and the clock that moves it.

Time moves lazily: under one lock, a method brings the recordings it looks at up to "now" from their
own timestamps, so no background thread is needed and a delay of zero is exact. Lists first apply the
timed changes that fell due since the last one (kept in a queue by due time), so they see every status
as of now without looking at each recording. Methods hand out copies (stamped with the moment they
describe), never the live objects.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import math
import threading
import time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from airflow_provider_rtk.emulator.api_facts import (
    DOWNLOAD_LINK_SECONDS,
    MAX_RECORDING_SECONDS,
    SECRET_STORAGE_FIELDS,
    RecordingAction,
    RecordingStatus,
)
from airflow_provider_rtk.emulator.messages import ApiError
from airflow_provider_rtk.emulator.settings import (
    DEFAULT_SECOND_START,
    DEFAULT_SECOND_START_MESSAGE,
    DEFAULT_SECOND_START_STATUS,
    SecondStart,
    fill_refusal,
)
from airflow_provider_rtk.emulator.transcripts import (
    CONTENT_TYPES,
    TRANSCRIPT_FORMATS,
    Speaker,
    summary_bytes,
    transcript_bytes,
)
from airflow_provider_rtk.emulator.validation import TrackStart, public_storage_config

DEFAULT_LAYER = "default"
DEFAULT_FILE_NAME_PREFIX = "default"
#: Who is in a session started without a participant list.
DEFAULT_PARTICIPANTS = ("user-1", "user-2")
_BYTES_PER_SECOND = 4_000
_FILE_OVERHEAD = 4_096
_MAX_FILE_SIZE = 1 << 20
_WEBM_MAGIC = b"\x1a\x45\xdf\xa3"
_API_CALLER = {"name": "RealtimeKit API", "type": "ORGANIZATION"}
MASK = "***"

RecordingKind = Literal["track", "composite"]
Generation = Literal["current", "legacy"]
ArtifactKind = Literal["transcript", "summary"]
#: What ``meeting.ended`` gives as its ``reason`` when everyone left (the other: ``HOST_ENDED_MEETING``).
ENDED_REASON = "ALL_PARTICIPANTS_LEFT"


def iso_time(timestamp: float | None) -> str | None:
    """``2026-07-01T12:00:00.123Z``, as the API writes times."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with every storage secret (at any depth) shown as ``***``."""
    if isinstance(value, dict):
        return {
            key: MASK if key in SECRET_STORAGE_FIELDS and item is not None else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def file_size_for(duration_seconds: int) -> int:
    """Size of one fake recorded file: grows with the duration, capped to keep downloads small."""
    return min(_FILE_OVERHEAD + duration_seconds * _BYTES_PER_SECOND, _MAX_FILE_SIZE)


def fake_file_content(size: int) -> bytes:
    """Bytes that start like a WebM file."""
    return _WEBM_MAGIC + bytes(max(0, size - len(_WEBM_MAGIC)))


@dataclass(frozen=True)
class Participant:
    user_id: str
    peer_id: str


@dataclass
class Meeting:
    id: str
    title: str | None
    created_at: float
    options: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Meeting:
        """A copy that later changes do not reach (as ``copy.deepcopy``, quicker: the rest is immutable)."""
        return Meeting(self.id, self.title, self.created_at, copy.deepcopy(self.options))

    def to_api(self) -> dict[str, Any]:
        """The meeting object of the API."""
        title = {} if self.title is None else {"title": self.title}  # a string when present, never null
        return {
            "id": self.id,
            **title,
            "status": "ACTIVE",
            "record_on_start": False,
            "live_stream_on_start": False,
            "persist_chat": False,
            "summarize_on_end": False,
            "transcribe_on_end": False,
            "session_keep_alive_time_in_secs": 60,
            **self.options,
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(self.created_at),
        }


@dataclass
class Session:
    id: str
    meeting_id: str
    meeting_title: str | None
    organization_id: str
    participants: list[Participant]
    started_at: float
    ended_at: float | None = None
    as_of: float = 0.0

    @property
    def live(self) -> bool:
        return self.ended_at is None

    def to_api(self) -> dict[str, Any]:
        """The session object of the API (``ended_at`` only once it ended: it is a string, never null)."""
        end = self.as_of if self.ended_at is None else self.ended_at
        ended = {} if self.ended_at is None else {"ended_at": iso_time(self.ended_at)}
        return {
            "id": self.id,
            "associated_id": self.meeting_id,
            "meeting_display_name": self.meeting_title or "",
            "type": "meeting",
            "status": "LIVE" if self.live else "ENDED",
            "live_participants": len(self.participants) if self.live else 0,
            "max_concurrent_participants": len(self.participants),
            "minutes_consumed": round(max(0.0, end - self.started_at) / 60, 3),
            "organization_id": self.organization_id,
            "started_at": iso_time(self.started_at),
            "created_at": iso_time(self.started_at),
            "updated_at": iso_time(self.ended_at or self.started_at),
            **ended,
            "breakout_rooms": [],
        }


@dataclass
class Artifact:
    """A session's post-meeting transcript or summary, once ready: its links expire 7 days later."""

    kind: ArtifactKind
    session_id: str
    ready_at: float
    expires_at: float

    def file_name(self, file_format: str = "CSV") -> str:
        if self.kind == "summary":
            return f"{self.session_id}_summary.txt"
        return f"{self.session_id}_transcript.{file_format.lower()}"


@dataclass(frozen=True)
class StateEvent:
    """Something a webhook tells: ``name`` is the webhook event; the objects are copies as of ``at``."""

    name: str
    at: float
    meeting: Meeting | None
    session: Session | None = None
    recording: Recording | None = None
    artifact: Artifact | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RecordedFile:
    layer_name: str
    name: str


@dataclass
class Recording:
    """One recording and its clock: the statuses it went through, and when the next one is due."""

    id: str
    meeting_id: str
    session_id: str
    kind: RecordingKind
    generation: Generation | None
    request_body: Any
    invoked_at: float
    max_seconds: int
    invoke_delay: float
    upload_delay: float
    files: list[RecordedFile]
    storage_config: dict[str, Any] | None = None
    answered_empty: bool = False
    status: RecordingStatus = RecordingStatus.INVOKED
    history: list[tuple[RecordingStatus, float]] = field(default_factory=list)
    started_at: float | None = None
    stopped_at: float | None = None
    uploaded_at: float | None = None
    #: When the download links stop working (set at the upload; the control endpoint can bring it forward).
    links_expire_at: float | None = None
    #: Size of each file when the emulator serves given bytes (``recording_bytes``), else synthetic.
    content_size: int | None = None
    recorded_seconds: float = 0.0
    segment_start: float | None = None
    stop_reason: dict[str, Any] | None = None
    as_of: float = 0.0

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append((self.status, self.invoked_at))
        self.as_of = max(self.as_of, self.invoked_at)

    # ---- the clock

    def next_event(self) -> float | None:
        """When the next change that needs no request is due."""
        if self.status is RecordingStatus.INVOKED:
            return self.invoked_at + self.invoke_delay
        if self.status in (RecordingStatus.RECORDING, RecordingStatus.PAUSED) and self.started_at is not None:
            return self.started_at + self.max_seconds
        if self.status is RecordingStatus.UPLOADING and self.stopped_at is not None:
            return self.stopped_at + self.upload_delay
        return None

    def advance(self, now: float) -> None:
        """Apply every change due by ``now``, each at the moment it was due."""
        while (due := self.next_event()) is not None and due <= now:
            if self.status is RecordingStatus.INVOKED:
                self.started_at = self.segment_start = due
                self._set(RecordingStatus.RECORDING, due)
            elif self.status is RecordingStatus.UPLOADING:
                self.uploaded_at = due
                self.links_expire_at = due + DOWNLOAD_LINK_SECONDS
                self._set(RecordingStatus.UPLOADED, due)
            else:
                self.stop(
                    due, {"reason": "API_CALL", "caller": {"name": "max_seconds", "type": "ORGANIZATION"}}
                )
        self.as_of = max(self.as_of, now)

    def _set(self, status: RecordingStatus, at: float) -> None:
        self.status = status
        self.history.append((status, at))

    # ---- actions

    def stop(self, at: float, reason: dict[str, Any]) -> None:
        """Stop capturing (from INVOKED, RECORDING or PAUSED); the upload follows."""
        self._close_segment(at)
        self.stopped_at = at
        self.stop_reason = reason
        self._set(RecordingStatus.UPLOADING, at)

    def fail(self, at: float) -> None:
        """The recording breaks (``ERRORED``): it stops capturing and nothing is uploaded."""
        self._close_segment(at)
        if self.stopped_at is None:
            self.stopped_at = at
        self._set(RecordingStatus.ERRORED, at)

    def _close_segment(self, at: float) -> None:
        if self.segment_start is not None:
            self.recorded_seconds += max(0.0, at - self.segment_start)
            self.segment_start = None

    def apply(self, action: RecordingAction, at: float) -> None:
        """``stop``, ``pause`` or ``resume``; a 400 when the status does not allow it."""
        if action is RecordingAction.STOP:
            if not self.status.is_capturing:
                raise ApiError(400, f"Recording {self.id} is already stopped (status {self.status.value})")
            self.stop(at, {"reason": "API_CALL", "caller": dict(_API_CALLER)})
        elif action is RecordingAction.PAUSE:
            if self.status is not RecordingStatus.RECORDING:
                raise ApiError(
                    400, f"Recording {self.id} cannot be paused: status is {self.status.value}, not RECORDING"
                )
            self._close_segment(at)
            self._set(RecordingStatus.PAUSED, at)
        else:
            if self.status is not RecordingStatus.PAUSED:
                raise ApiError(
                    400, f"Recording {self.id} cannot be resumed: status is {self.status.value}, not PAUSED"
                )
            self.segment_start = at
            self._set(RecordingStatus.RECORDING, at)

    # ---- what it looks like

    @property
    def duration(self) -> int:
        """Seconds actually recorded (pauses left out), up to ``as_of``."""
        running = self.as_of - self.segment_start if self.segment_start is not None else 0.0
        return int(self.recorded_seconds + max(0.0, running))

    def file_size(self) -> int:
        """Bytes of each of its files."""
        return file_size_for(self.duration) if self.content_size is None else self.content_size

    def links_expired(self, now: float) -> bool:
        """Uploaded, and its download links have expired by ``now``."""
        return self.links_expire_at is not None and now >= self.links_expire_at

    def _download_url(self, files_url: str) -> str | list[dict[str, Any]]:
        def link(recorded: RecordedFile) -> str:
            return f"{files_url}/{quote(recorded.name)}"

        if self.kind == "composite":
            return link(self.files[0])
        layers = dict.fromkeys(recorded.layer_name for recorded in self.files)
        return [
            {
                "layer_name": layer,
                "download_urls": {
                    recorded.name: {"download_url": link(recorded)}
                    for recorded in self.files
                    if recorded.layer_name == layer
                },
            }
            for layer in layers
        ]

    def to_api(self, files_url: str) -> dict[str, Any]:
        """The recording object of the API; links point below ``files_url``.

        Fields the description allows to be null are null until known; ``stop_reason`` (an object) is
        left out until the recording stops.
        """
        uploaded = self.status is RecordingStatus.UPLOADED and self.links_expire_at is not None
        size = self.file_size()
        data: dict[str, Any] = {
            "id": self.id,
            "meeting_id": self.meeting_id,
            "session_id": self.session_id,
            "status": self.status.value,
            "invoked_time": iso_time(self.invoked_at),
            "started_time": iso_time(self.started_at),
            "stopped_time": iso_time(self.stopped_at),
            "output_file_name": self.files[0].name if self.files else "",
            "recording_duration": self.duration,
            "file_size": size * len(self.files) if uploaded else None,
            "download_url": self._download_url(files_url) if uploaded else None,
            "download_url_expiry": iso_time(self.links_expire_at) if uploaded else None,
            "audio_download_url": None,
            "start_reason": {"reason": "API_CALL", "caller": dict(_API_CALLER)},
        }
        if self.stop_reason is not None:
            data["stop_reason"] = copy.deepcopy(self.stop_reason)
        if self.storage_config is not None:
            data["storage_config"] = dict(self.storage_config)
        return data

    def snapshot(self, reveal_secrets: bool) -> dict[str, Any]:
        """What tests want to know: the exact body it was started with, its generation, every status."""
        body = copy.deepcopy(self.request_body)
        return {
            "id": self.id,
            "meeting_id": self.meeting_id,
            "session_id": self.session_id,
            "kind": self.kind,
            "generation": self.generation,
            "request_body": body if reveal_secrets else mask_secrets(body),
            "answered_with_empty_body": self.answered_empty,
            "status": self.status.value,
            "status_history": [{"status": status.value, "at": iso_time(at)} for status, at in self.history],
            "stop_reason": (self.stop_reason or {}).get("reason"),
            "max_seconds": self.max_seconds,
            "recording_duration": self.duration,
            "files": [recorded.name for recorded in self.files],
        }


_Stamped = TypeVar("_Stamped", Session, Recording)
#: Where a recording sorts in lists: its invocation time, then the order in which it was started.
_Key = tuple[float, int]


class _Ordered:
    """Recordings sorted by :data:`_Key` (side by side lists: keys to search, recordings to hand out)."""

    __slots__ = ("items", "keys")

    def __init__(self) -> None:
        self.keys: list[_Key] = []
        self.items: list[Recording] = []

    def add(self, key: _Key, recording: Recording) -> None:
        at = bisect_right(self.keys, key)  # the end, unless the clock went back
        self.keys.insert(at, key)
        self.items.insert(at, recording)

    def remove(self, key: _Key) -> None:
        at = bisect_left(self.keys, key)
        del self.keys[at], self.items[at]

    def window(self, start: float | None, end: float | None) -> tuple[int, int]:
        """The index range of the recordings invoked from ``start`` to ``end`` (both included)."""
        low = 0 if start is None else bisect_left(self.keys, (start,))
        high = len(self.keys) if end is None else bisect_left(self.keys, (end, math.inf))
        return low, max(low, high)


#: Part of one sorted list: (the list, first index, index past the last).
_Slice = tuple[_Ordered, int, int]


def _count_below(parts: list[_Slice], key: tuple[float, ...]) -> int:
    """How many recordings of ``parts`` sort before ``key``."""
    return sum(bisect_left(part.keys, key, low, high) - low for part, low, high in parts)


def _key_at(parts: list[_Slice], rank: int) -> _Key:
    """The key of the recording at ``rank`` (from 0) in ``parts`` merged in key order."""
    if len(parts) == 1:
        part, low, _ = parts[0]
        return part.keys[low + rank]
    for part, low, high in parts:
        # The rank of part.keys[i] in the merge grows with i: look for the one that has ``rank``.
        first, last = low, high
        while first < last:
            middle = (first + last) // 2
            found = _count_below(parts, part.keys[middle])
            if found == rank:
                return part.keys[middle]
            if found < rank:
                first = middle + 1
            else:
                last = middle
    raise IndexError(rank)


def _run(parts: list[_Slice], rank: int, count: int) -> list[Recording]:
    """``count`` recordings of ``parts`` merged in key order, from ``rank`` on."""
    if count <= 0:
        return []
    key = _key_at(parts, rank)
    runs = []
    for part, low, high in parts:
        at = bisect_left(part.keys, key, low, high)
        stop = min(high, at + count)
        runs.append(zip(part.keys[at:stop], part.items[at:stop], strict=True))
    return [recording for _, recording in itertools.islice(heapq.merge(*runs), count)]


def _invoked_at(recording: Recording) -> float:
    return recording.invoked_at


def _as_of(item: _Stamped, now: float) -> _Stamped:
    """See :meth:`EmulatorState._stamped` (events use this, so list-cost counts see API copies only)."""
    view = copy.copy(item)
    if isinstance(view, Recording):
        view.history = list(view.history)
    view.as_of = max(view.as_of, now)
    return view


@dataclass(frozen=True)
class RecordingQuery:
    """What ``GET /recordings`` asks for: filters (``None`` or empty: any), order, and the page."""

    meeting_id: str | None = None
    statuses: frozenset[RecordingStatus] = frozenset()
    start: float | None = None
    end: float | None = None
    expired: bool | None = None
    search: str = ""
    descending: bool = True
    offset: int = 0
    limit: int = 20


@dataclass
class RecordingPage:
    """One page of a list (copies as of the moment of the list), how many matched, and their meetings."""

    recordings: list[Recording]
    total_count: int
    meetings: dict[str, Meeting]


class EmulatorState:
    """Every meeting, session and recording, behind one lock. Errors are :class:`ApiError`.

    ``second_start`` decides a track start while the meeting is already being recorded: ``refuse``
    answers ``second_start_status`` with ``second_start_message``; ``accept`` records twice at once.
    ``recording_bytes``, if given, is what every download link serves (else synthetic WebM-headed bytes).

    Recordings are indexed by meeting, by file name and, in list order, by status; each is brought up
    to date only when it is looked at or when a timed change of it falls due (lists apply those first),
    so a request about one meeting or recording costs the same however many recordings exist, and a list
    page costs what it lists.
    """

    def __init__(
        self,
        *,
        organization_id: str,
        invoke_delay: float = 0.0,
        upload_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        second_start: SecondStart = DEFAULT_SECOND_START,
        second_start_status: int = DEFAULT_SECOND_START_STATUS,
        second_start_message: str = DEFAULT_SECOND_START_MESSAGE,
        recording_bytes: bytes | None = None,
        transcript_delay: float = 0.0,
        summary_delay: float = 0.0,
    ) -> None:
        self.organization_id = organization_id
        self.transcript_delay = transcript_delay
        self.summary_delay = summary_delay
        #: Told of every :class:`StateEvent`, under the state's lock (it must only queue it).
        self.listener: Callable[[StateEvent], None] | None = None
        #: Called (under the lock) when a timed change is planned, so a ticker can wake up for it.
        self.wake: Callable[[], None] | None = None
        self.invoke_delay = invoke_delay
        self.upload_delay = upload_delay
        self.second_start = second_start
        self.second_start_status = second_start_status
        self.second_start_message = second_start_message
        self.recording_bytes = recording_bytes
        self._clock = clock
        self._lock = threading.RLock()
        self._meetings: dict[str, Meeting] = {}
        self._sessions: dict[str, Session] = {}
        self._live: dict[str, str] = {}  # meeting id -> id of its live session
        self._recordings: dict[str, Recording] = {}
        self._by_meeting: dict[str, list[Recording]] = {}
        self._by_file: dict[str, Recording] = {}
        self._starts = itertools.count()
        self._keys: dict[str, _Key] = {}  # recording id -> where it sorts
        self._everything = _Ordered()
        self._by_status = {status: _Ordered() for status in RecordingStatus}
        self._indexed: dict[str, RecordingStatus] = {}  # recording id -> status it is indexed under
        self._due: list[tuple[float, int, Recording]] = []  # (when, start number, recording), a heap
        self._scheduled: dict[str, float] = {}  # recording id -> when its next timed change is due
        self._notified: dict[str, int] = {}  # recording id -> statuses of its history told to the listener
        self._ai_due: list[tuple[float, int, str, ArtifactKind]] = []  # (when, n, session id, kind), a heap
        self._ai_count = itertools.count()
        self._artifacts: dict[tuple[str, ArtifactKind], Artifact] = {}
        self._artifact_files: dict[str, tuple[Artifact, str]] = {}  # file name -> (artifact, format)
        #: For tests that check what a request costs: recordings brought up to date, and recordings a
        #: list looked at (its page, or all it filtered).
        self.advanced = 0
        self.examined = 0

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            for index in (self._meetings, self._sessions, self._live, self._recordings):
                index.clear()
            self._by_meeting.clear()
            self._by_file.clear()
            self._keys.clear()
            self._everything = _Ordered()
            self._by_status = {status: _Ordered() for status in RecordingStatus}
            self._indexed.clear()
            self._due.clear()
            self._scheduled.clear()
            self._notified.clear()
            self._ai_due.clear()
            self._artifacts.clear()
            self._artifact_files.clear()

    @contextmanager
    def _now(self) -> Iterator[float]:
        """Hold the lock; the current time."""
        with self._lock:
            yield self._clock()

    def _all_recordings(self, now: float) -> list[Recording]:
        """Every recording, oldest first, brought up to ``now`` (for snapshots only)."""
        for recording in self._recordings.values():
            self._advance(recording, now)
        return list(self._recordings.values())

    def _advance(self, recording: Recording, now: float) -> None:
        """Bring one recording up to ``now``."""
        self.advanced += 1
        recording.advance(now)
        self._reindex(recording)

    def _reindex(self, recording: Recording) -> None:
        """After any change of a recording: its status index and its next timed change."""
        key = self._keys[recording.id]
        indexed = self._indexed[recording.id]
        if recording.status is not indexed:
            self._by_status[indexed].remove(key)
            self._by_status[recording.status].add(key, recording)
            self._indexed[recording.id] = recording.status
        due = recording.next_event()
        if due is None:
            self._scheduled.pop(recording.id, None)
        elif self._scheduled.get(recording.id) != due:
            self._scheduled[recording.id] = due
            heapq.heappush(self._due, (due, key[1], recording))
            self._planned()
        told = self._notified.get(recording.id)
        if told is not None and len(recording.history) > told:
            self._notified[recording.id] = len(recording.history)
            meeting = self._meetings.get(recording.meeting_id)
            session = self._sessions.get(recording.session_id)
            for status, at in recording.history[told:]:
                view = _as_of(recording, at)
                view.status = status
                self._emit(
                    StateEvent(
                        "recording.statusUpdate",
                        at,
                        meeting.copy() if meeting else None,
                        _as_of(session, at) if session else None,
                        recording=view,
                    )
                )

    def _emit(self, event: StateEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    def _planned(self) -> None:
        if self.wake is not None:
            self.wake()

    def next_due(self) -> float | None:
        """When the next timed change (a recording's status, a transcript or summary) is due."""
        with self._lock:
            times = [self._due[0][0]] if self._due else []
            if self._ai_due:
                times.append(self._ai_due[0][0])
            return min(times) if times else None

    def tick(self) -> None:
        """Apply every timed change due by now (what a ticker calls, so that webhooks fire on time)."""
        with self._now() as now:
            self._catch_up(now)
            self._catch_up_artifacts(now)

    def _catch_up(self, now: float) -> None:
        """Apply every timed change due by ``now`` (each recording's, at the moment it was due)."""
        while self._due and self._due[0][0] <= now:
            due, _, recording = heapq.heappop(self._due)
            if self._scheduled.get(recording.id) == due:  # else an older plan, since changed
                del self._scheduled[recording.id]
                self._advance(recording, now)

    @staticmethod
    def _stamped(item: _Stamped, now: float) -> _Stamped:
        """A copy as of ``now`` that later changes do not reach (cheap: what changes is copied, what
        is set once and never changed, such as the request body and the files, is shared)."""
        return _as_of(item, now)

    # ---- meetings and sessions

    def create_meeting(
        self,
        title: str | None = None,
        *,
        meeting_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Meeting:
        with self._now() as now:
            return copy.deepcopy(self._create_meeting(now, title, meeting_id, options))

    def _create_meeting(
        self, now: float, title: str | None, meeting_id: str | None, options: dict[str, Any] | None
    ) -> Meeting:
        new_id = meeting_id or str(uuid.uuid4())
        if new_id in self._meetings:
            raise ApiError(409, f"Meeting {new_id} already exists")
        meeting = Meeting(new_id, title, now, dict(options or {}))
        self._meetings[new_id] = meeting
        return meeting

    def _meeting(self, meeting_id: str) -> Meeting:
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            raise ApiError(404, f"No meeting found for meeting_id {meeting_id}")
        return meeting

    def get_meeting(self, meeting_id: str) -> Meeting:
        with self._now():
            return copy.deepcopy(self._meeting(meeting_id))

    def meetings(self) -> list[Meeting]:
        with self._now():
            return copy.deepcopy(list(self._meetings.values()))

    def meeting_titles(self, meeting_ids: Iterable[str]) -> dict[str, Meeting]:
        """The meetings of these ids that exist (copies)."""
        with self._now():
            return {i: copy.deepcopy(self._meetings[i]) for i in set(meeting_ids) if i in self._meetings}

    def _live_session(self, meeting_id: str) -> Session | None:
        session_id = self._live.get(meeting_id)
        return self._sessions[session_id] if session_id else None

    def start_session(self, meeting_id: str, participants: Iterable[str] | None = None) -> Session:
        """Someone joined: the meeting (created if unknown) has a live session. Idempotent."""
        with self._now() as now:
            meeting = self._meetings.get(meeting_id) or self._create_meeting(now, None, meeting_id, None)
            session = self._live_session(meeting.id)
            if session is None:
                users = list(dict.fromkeys(participants or ())) or list(DEFAULT_PARTICIPANTS)
                session = Session(
                    id=str(uuid.uuid4()),
                    meeting_id=meeting.id,
                    meeting_title=meeting.title,
                    organization_id=self.organization_id,
                    participants=[Participant(user, str(uuid.uuid4())) for user in users],
                    started_at=now,
                )
                self._sessions[session.id] = session
                self._live[meeting.id] = session.id
                self._emit(StateEvent("meeting.started", now, meeting.copy(), self._stamped(session, now)))
            return self._stamped(session, now)

    def end_session(self, meeting_id: str) -> Session:
        """Everyone left: the session ends and its running recordings stop (``ALL_PEERS_LEFT``)."""
        with self._now() as now:
            session = self._live_session(meeting_id)
            if session is None:
                raise ApiError(404, f"No active session found for meeting_id {meeting_id}")
            session.ended_at = now
            del self._live[meeting_id]
            meeting = self._meeting(meeting_id)
            stamped = self._stamped(session, now)
            self._emit(StateEvent("meeting.ended", now, meeting.copy(), stamped, reason=ENDED_REASON))
            self._plan_artifacts(meeting, session, now)
            for recording in self._running(meeting_id, now):
                if recording.session_id == session.id:
                    recording.stop(now, {"reason": "ALL_PEERS_LEFT"})
                    self._reindex(recording)
            return self._stamped(session, now)

    def active_session(self, meeting_id: str) -> Session:
        with self._now() as now:
            session = self._live_session(meeting_id)
            if session is None:
                raise ApiError(404, f"No active session found for meeting_id {meeting_id}")
            return self._stamped(session, now)

    def get_session(self, session_id: str) -> Session:
        with self._now() as now:
            session = self._sessions.get(session_id)
            if session is None:
                raise ApiError(404, f"No session found for session_id {session_id}")
            return self._stamped(session, now)

    def sessions(self) -> list[Session]:
        """Every session of the app, live and ended, oldest first (copies as of now)."""
        with self._now() as now:
            return [self._stamped(session, now) for session in self._sessions.values()]

    # ---- recordings

    def _check_can_record(self, meeting_id: str, now: float, *, allow_multiple: bool) -> Session:
        """The live session to record: 404 unknown meeting, 400 nobody there, the refusal (409) when
        it is already being recorded and ``allow_multiple`` is false."""
        self._meeting(meeting_id)
        session = self._live_session(meeting_id)
        if session is None:
            raise ApiError(
                400, f"No active session found for meeting_id {meeting_id}: recording needs a live session"
            )
        running = self._running(meeting_id, now)
        if running and not allow_multiple:
            message = fill_refusal(self.second_start_message, meeting_id, running[0].id)
            raise ApiError(self.second_start_status, message)
        return session

    def _running(self, meeting_id: str, now: float) -> list[Recording]:
        """The meeting's recordings still capturing at ``now``, oldest first."""
        found = []
        for recording in self._by_meeting.get(meeting_id, ()):
            self._advance(recording, now)
            if recording.status.is_capturing:
                found.append(recording)
        return found

    def _add(self, recording: Recording, now: float) -> Recording:
        if self.recording_bytes is not None:
            recording.content_size = len(self.recording_bytes)
        self._recordings[recording.id] = recording
        self._by_meeting.setdefault(recording.meeting_id, []).append(recording)
        for recorded in recording.files:
            self._by_file[recorded.name] = recording
        key = self._keys[recording.id] = (recording.invoked_at, next(self._starts))
        self._everything.add(key, recording)
        self._by_status[recording.status].add(key, recording)
        self._indexed[recording.id] = recording.status
        self._notified[recording.id] = 0
        self._advance(recording, now)
        return self._stamped(recording, now)

    def start_track(self, request: TrackStart, body: Any, *, answered_empty: bool = False) -> Recording:
        """Start a track recording of a validated request; ``body`` is kept exactly as received."""
        with self._now() as now:
            session = self._check_can_record(
                request.meeting_id, now, allow_multiple=self.second_start == "accept"
            )
            by_user = {participant.user_id: participant for participant in session.participants}
            recorded = (
                [
                    by_user.get(user) or Participant(user, str(uuid.uuid4()))
                    for user in dict.fromkeys(request.user_ids)
                ]
                if request.user_ids
                else session.participants
            )
            layers = [(name, prefix or DEFAULT_FILE_NAME_PREFIX) for name, prefix in request.layers] or [
                (DEFAULT_LAYER, DEFAULT_FILE_NAME_PREFIX)
            ]
            stamp = int(now * 1000)
            files = [
                RecordedFile(layer, f"{prefix}_{who.user_id}_{who.peer_id}_audio_audio_{stamp}.webm")
                for layer, prefix in layers
                for who in recorded
            ]
            configs = request.storage_configs
            recording = Recording(
                id=str(uuid.uuid4()),
                meeting_id=request.meeting_id,
                session_id=session.id,
                kind="track",
                generation=request.generation,
                request_body=copy.deepcopy(body),
                invoked_at=now,
                max_seconds=request.max_seconds or MAX_RECORDING_SECONDS,
                invoke_delay=self.invoke_delay,
                upload_delay=self.upload_delay,
                files=files,
                storage_config=public_storage_config(configs[0] if configs else None),
                answered_empty=answered_empty,
            )
            return self._add(recording, now)

    def start_composite(
        self,
        meeting_id: str,
        body: Any,
        *,
        max_seconds: int | None = None,
        allow_multiple: bool = False,
        file_name_prefix: str | None = None,
        storage_config: dict[str, Any] | None = None,
    ) -> Recording:
        """Start a composite recording (one mixed file, ``download_url`` a string)."""
        with self._now() as now:
            session = self._check_can_record(meeting_id, now, allow_multiple=allow_multiple)
            name = f"{file_name_prefix or meeting_id}_{int(now * 1000)}.mp4"
            recording = Recording(
                id=str(uuid.uuid4()),
                meeting_id=meeting_id,
                session_id=session.id,
                kind="composite",
                generation=None,
                request_body=copy.deepcopy(body),
                invoked_at=now,
                max_seconds=max_seconds or MAX_RECORDING_SECONDS,
                invoke_delay=self.invoke_delay,
                upload_delay=self.upload_delay,
                files=[RecordedFile(DEFAULT_LAYER, name)],
                storage_config=public_storage_config(storage_config),
            )
            return self._add(recording, now)

    def _recording(self, recording_id: str, now: float) -> Recording:
        recording = self._recordings.get(recording_id)
        if recording is None:
            raise ApiError(404, f"No recording found for recording_id {recording_id}")
        self._advance(recording, now)
        return recording

    def get_recording(self, recording_id: str) -> Recording:
        with self._now() as now:
            return self._stamped(self._recording(recording_id, now), now)

    def recordings(self, meeting_id: str | None = None) -> list[Recording]:
        """Every recording (of one meeting, if given), oldest first."""
        with self._now() as now:
            if meeting_id is None:
                chosen = self._all_recordings(now)
            else:
                chosen = self._by_meeting.get(meeting_id, [])
                for recording in chosen:
                    self._advance(recording, now)
            return [self._stamped(recording, now) for recording in chosen]

    def list_recordings(self, query: RecordingQuery) -> RecordingPage:
        """One page of recordings sorted by invocation time (those invoked at the same moment in the
        order they were started, either way), the number that match, and the meetings of the page.

        Costs what the page holds (plus the timed changes due since the last list): with no filters
        other than statuses and the time window, the page is found in the sorted indexes by bisection;
        ``meeting_id`` looks at that meeting's recordings only; ``expired`` or ``search`` alone look at
        every recording of the window, without copying any that is not on the page.
        """
        with self._now() as now:
            self._catch_up(now)
            if query.meeting_id is not None or query.expired is not None or query.search:
                chosen, total = self._scan(query, now)
            else:
                chosen, total = self._indexed_page(query)
            return RecordingPage(
                [self._stamped(recording, now) for recording in chosen],
                total,
                {
                    recording.meeting_id: self._meetings[recording.meeting_id].copy()
                    for recording in chosen
                    if recording.meeting_id in self._meetings
                },
            )

    def _indexed_page(self, query: RecordingQuery) -> tuple[list[Recording], int]:
        sources = [self._by_status[status] for status in query.statuses] or [self._everything]
        parts: list[_Slice] = []
        for part in sources:
            low, high = part.window(query.start, query.end)
            if high > low:
                parts.append((part, low, high))
        total = sum(high - low for _, low, high in parts)
        offset, limit = query.offset, query.limit
        if offset >= total or limit <= 0:
            return [], total
        if not query.descending:
            chosen = _run(parts, offset, min(limit, total - offset))
            self.examined += len(chosen)
            return chosen, total
        # Newest first, but those invoked at the same moment oldest first: take whole groups of equal
        # invocation times around the page's ranks in ascending order, sort them, cut out the page.
        low = max(0, total - offset - limit)
        first = _count_below(parts, (_key_at(parts, low)[0],))
        past = _count_below(parts, (_key_at(parts, total - offset - 1)[0], math.inf))
        group = sorted(_run(parts, first, past - first), key=_invoked_at, reverse=True)
        self.examined += len(group)
        skip = offset - (total - past)
        return group[skip : skip + limit], total

    def _scan(self, query: RecordingQuery, now: float) -> tuple[list[Recording], int]:
        if query.meeting_id is not None:
            pool = sorted(self._by_meeting.get(query.meeting_id, []), key=_invoked_at)
        else:
            low, high = self._everything.window(query.start, query.end)
            pool = self._everything.items[low:high]
        self.examined += len(pool)
        start, end = query.start, query.end

        def keep(recording: Recording) -> bool:
            moment = recording.invoked_at
            if (start is not None and moment < start) or (end is not None and moment > end):
                return False
            if query.statuses and recording.status not in query.statuses:
                return False
            expired = query.expired
            if expired is not None and recording.links_expired(max(recording.as_of, now)) != expired:
                return False
            if query.search:
                meeting = self._meetings.get(recording.meeting_id)
                words = " ".join(
                    [recording.id, recording.meeting_id, meeting.title or "" if meeting else ""]
                    + [recorded.name for recorded in recording.files]
                ).lower()
                return query.search in words
            return True

        matching = [recording for recording in pool if keep(recording)]
        if query.descending:
            matching.sort(key=_invoked_at, reverse=True)
        return matching[query.offset : query.offset + query.limit], len(matching)

    def active_recording(self, meeting_id: str) -> Recording:
        """The meeting's earliest recording still capturing (several run at once only when allowed)."""
        with self._now() as now:
            running = self._running(meeting_id, now)
            if not running:
                raise ApiError(404, f"No active recording found for meeting_id {meeting_id}")
            return self._stamped(running[0], now)

    def apply_action(self, recording_id: str, action: RecordingAction) -> Recording:
        with self._now() as now:
            recording = self._recording(recording_id, now)
            recording.apply(action, now)
            self._reindex(recording)
            return self._stamped(recording, now)

    def fail_recording(self, recording_id: str) -> Recording:
        """Make a recording fail now (``ERRORED``); 409 once it is UPLOADED or ERRORED already."""
        with self._now() as now:
            recording = self._recording(recording_id, now)
            if recording.status in (RecordingStatus.UPLOADED, RecordingStatus.ERRORED):
                raise ApiError(409, f"Recording {recording_id} is {recording.status.value} already")
            recording.fail(now)
            self._reindex(recording)
            return self._stamped(recording, now)

    def expire_links(self, recording_id: str | None = None) -> list[str]:
        """Make the download links of one uploaded recording (or of all) expire now; their ids."""
        with self._now() as now:
            chosen = [self._recording(recording_id, now)] if recording_id else self._all_recordings(now)
            expired = []
            for recording in chosen:
                if recording.links_expire_at is not None:
                    recording.links_expire_at = min(recording.links_expire_at, now)
                    expired.append(recording.id)
            if recording_id and not expired:
                raise ApiError(409, f"Recording {recording_id} has no download links yet (not UPLOADED)")
            return expired

    def file_content(self, name: str) -> bytes:
        """The bytes behind a download link; 404 for no such uploaded file, 403 once the link expired."""
        with self._now() as now:
            recording = self._by_file.get(name)
            if recording is not None:
                self._advance(recording, now)
            if recording is None or recording.status is not RecordingStatus.UPLOADED:
                raise ApiError(404, f"No uploaded file named {name}")
            if recording.links_expired(now):
                raise ApiError(403, "Request has expired")
            if self.recording_bytes is not None:
                return self.recording_bytes
            return fake_file_content(recording.file_size())

    # ---- post-meeting transcripts and summaries

    def _plan_artifacts(self, meeting: Meeting, session: Session, now: float) -> None:
        """After a session ends: its transcript (``transcribe_on_end``) and summary (``summarize_on_end``,
        after the transcript) fall due."""
        transcript_at = now + self.transcript_delay
        if meeting.options.get("transcribe_on_end"):
            heapq.heappush(self._ai_due, (transcript_at, next(self._ai_count), session.id, "transcript"))
        if meeting.options.get("summarize_on_end"):
            summary_at = transcript_at + self.summary_delay
            heapq.heappush(self._ai_due, (summary_at, next(self._ai_count), session.id, "summary"))
        self._planned()

    def _catch_up_artifacts(self, now: float) -> None:
        while self._ai_due and self._ai_due[0][0] <= now:
            due, _, session_id, kind = heapq.heappop(self._ai_due)
            self._make_artifact(session_id, kind, due)

    def _make_artifact(self, session_id: str, kind: ArtifactKind, at: float) -> Artifact:
        artifact = Artifact(kind, session_id, at, at + DOWNLOAD_LINK_SECONDS)
        self._artifacts[(session_id, kind)] = artifact
        for file_format in TRANSCRIPT_FORMATS if kind == "transcript" else ("SUMMARY",):
            self._artifact_files[artifact.file_name(file_format)] = (artifact, file_format)
        session = self._sessions[session_id]
        meeting = self._meetings.get(session.meeting_id)
        self._emit(
            StateEvent(
                f"meeting.{kind}",
                at,
                meeting.copy() if meeting else None,
                self._stamped(session, at),
                artifact=copy.copy(artifact),
            )
        )
        return artifact

    def artifact(self, session_id: str, kind: ArtifactKind) -> Artifact:
        """The session's transcript or summary (a copy); 404 for an unknown session or one not ready."""
        with self._now() as now:
            self._catch_up_artifacts(now)
            if session_id not in self._sessions:
                raise ApiError(404, f"No session found for session_id {session_id}")
            artifact = self._artifacts.get((session_id, kind))
            if artifact is None:
                raise ApiError(404, f"No {kind} available for session_id {session_id}")
            return copy.copy(artifact)

    def generate_summary(self, session_id: str) -> None:
        """``POST .../summary``: a summary of the session's transcript (409 without one) falls due."""
        with self._now() as now:
            self._catch_up_artifacts(now)
            if session_id not in self._sessions:
                raise ApiError(404, f"No session found for session_id {session_id}")
            if (session_id, "transcript") not in self._artifacts:
                raise ApiError(409, f"No transcript available for session_id {session_id} to summarize")
            heapq.heappush(
                self._ai_due, (now + self.summary_delay, next(self._ai_count), session_id, "summary")
            )
            self._planned()

    def expire_artifact_links(self, session_id: str | None = None) -> list[str]:
        """Make the transcript and summary links of one session (default: every one) expire now."""
        with self._now() as now:
            self._catch_up_artifacts(now)
            expired = []
            for (owner, _), artifact in self._artifacts.items():
                if session_id is None or owner == session_id:
                    artifact.expires_at = min(artifact.expires_at, now)
                    expired.append(owner)
            if session_id and not expired:
                raise ApiError(409, f"Session {session_id} has no transcript or summary yet")
            return list(dict.fromkeys(expired))

    def artifact_content(self, name: str) -> tuple[bytes, str]:
        """The bytes and content type behind a transcript or summary link (404 unknown, 403 expired)."""
        with self._now() as now:
            self._catch_up_artifacts(now)
            found = self._artifact_files.get(name)
            if found is None:
                raise ApiError(404, f"No uploaded file named {name}")
            artifact, file_format = found
            if now >= artifact.expires_at:
                raise ApiError(403, "Request has expired")
            session = self._sessions[artifact.session_id]
            speakers = [Speaker(who.user_id, who.peer_id) for who in session.participants]
            if artifact.kind == "summary":
                return summary_bytes(session.meeting_title, speakers), CONTENT_TYPES["SUMMARY"]
            return transcript_bytes(speakers, file_format), CONTENT_TYPES[file_format]

    # ---- events on demand (for the control endpoint that delivers a chosen event)

    def event_for(
        self,
        name: str,
        *,
        meeting_id: str | None = None,
        session_id: str | None = None,
        recording_id: str | None = None,
    ) -> StateEvent:
        """The event ``name`` about the object named (a session, else the meeting's latest session;
        a recording for ``recording.statusUpdate``), as of now."""
        with self._now() as now:
            self._catch_up_artifacts(now)
            if name == "recording.statusUpdate":
                if recording_id is None:
                    raise ApiError(400, "recording_id: is required for recording.statusUpdate")
                recording = self._stamped(self._recording(recording_id, now), now)
                session_id, meeting_id = recording.session_id, recording.meeting_id
            else:
                recording = None
            if session_id is None:
                if meeting_id is None:
                    raise ApiError(400, "session_id or meeting_id: one is required")
                self._meeting(meeting_id)
                latest = [s for s in self._sessions.values() if s.meeting_id == meeting_id]
                if not latest:
                    raise ApiError(409, f"Meeting {meeting_id} has had no session")
                session_id = latest[-1].id
            session = self._sessions.get(session_id)
            if session is None:
                raise ApiError(404, f"No session found for session_id {session_id}")
            artifact = None
            if name in ("meeting.transcript", "meeting.summary"):
                kind: ArtifactKind = "transcript" if name == "meeting.transcript" else "summary"
                found = self._artifacts.get((session.id, kind))
                if found is None:
                    raise ApiError(409, f"No {kind} available for session_id {session.id} yet")
                artifact = copy.copy(found)
            meeting = self._meetings.get(session.meeting_id)
            return StateEvent(
                name,
                now,
                meeting.copy() if meeting else None,
                self._stamped(session, now),
                recording=recording,
                artifact=artifact,
                reason=ENDED_REASON if name == "meeting.ended" else None,
            )

    # ---- snapshots

    def recording_snapshots(self, *, reveal_secrets: bool = True) -> list[dict[str, Any]]:
        with self._now() as now:
            return [recording.snapshot(reveal_secrets) for recording in self._all_recordings(now)]

    def snapshot(self, *, reveal_secrets: bool = True) -> dict[str, Any]:
        """Meetings (with their live session id), sessions and recordings, as plain JSON data."""
        with self._now() as now:
            return {
                "meetings": [
                    {**meeting.to_api(), "live_session_id": self._live.get(meeting.id)}
                    for meeting in self._meetings.values()
                ],
                "sessions": [
                    {
                        **self._stamped(session, now).to_api(),
                        "participants": [asdict(participant) for participant in session.participants],
                    }
                    for session in self._sessions.values()
                ],
                "recordings": [recording.snapshot(reveal_secrets) for recording in self._all_recordings(now)],
            }
