"""What a verified delivery says, read into what the receiver records (no Airflow, no database).

Deliveries are camelCase JSON (``{"event": "meeting.started", "meeting": {"id", "sessionId", "title",
"startedAt", ...}}``; ``{"event": "recording.statusUpdate", "recording": {"id", "status",
"meetingId", "fileSize" (text), ...}}``). ``meeting.started`` becomes the same
:class:`~airflow_provider_rtk.triggers.events.LiveSessionEvent` the live-session watcher fires;
``recording.statusUpdate`` at ``UPLOADED`` or ``ERRORED`` becomes
:func:`~airflow_provider_rtk.assets.recording_asset_extra` (ids, status, files; never a link). Other
events are well-formed but fed to nothing. A body that is not a JSON object, lacks what its event
needs, holds an id that is not an id, or a file name a database's JSON column refuses (a lone
surrogate; a title's becomes U+FFFD, see ``LiveSessionEvent.of``) is a :class:`DeliveryError`
(answer 400).

``meeting.transcript`` and ``meeting.summary`` say that a session's document is ready: they become
``{"session_id", "meeting_id", "document"}`` (the link they carry is dropped). Two shapes are read:
the meeting nested as the other meeting events have it (``{"event", "meeting": {"id", "sessionId",
...}, "summaryDownloadUrl", ...}``, Cloudflare's summary guide and the emulator) and a flat one
(``{"event", "meetingId", "sessionId", "summaryDownloadUrl", ...}``, another version of that guide).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_rtk.arguments import ID_RE
from airflow_provider_rtk.exceptions import RealtimeKitWebhookDeliveryError

#: Events the receiver turns into asset events.
MEETING_STARTED = "meeting.started"
RECORDING_STATUS_UPDATE = "recording.statusUpdate"
#: Events saying a session's document is ready -> which document.
DOCUMENT_EVENTS = {"meeting.transcript": "transcript", "meeting.summary": "summary"}
#: Recording statuses that feed recording assets (the others say nothing a DAG waits for).
FED_RECORDING_STATUSES = ("UPLOADED", "ERRORED")
#: ``rtk-uuid``: what a delivery id may look like (it goes into the asset state store).
_UUID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_EVENT_RE = re.compile(r"[A-Za-z][A-Za-z.]{0,63}")


DeliveryError = RealtimeKitWebhookDeliveryError


@dataclass(frozen=True)
class Delivery:
    """One verified delivery: its id (``rtk-uuid``), event, and what it feeds (if anything)."""

    uuid: str
    event: str
    meeting_id: str | None = None
    #: ``meeting.started``: the watcher's event payload (``LiveSessionEvent.to_payload()``)
    live_session: dict[str, Any] | None = None
    #: ``recording.statusUpdate`` at a fed status: ``recording_asset_extra`` of the recording
    recording: dict[str, Any] | None = None
    #: ``meeting.transcript`` / ``meeting.summary``: ``{"session_id", "meeting_id", "document"}``
    document: dict[str, Any] | None = None

    @property
    def session_id(self) -> str | None:
        """The live session a ``meeting.started`` names (``None`` for the other events)."""
        return None if self.live_session is None else str(self.live_session["session_id"])

    @property
    def recording_mark(self) -> str | None:
        """``<recording id>:<status>``: one asset event per recording and status, whatever the uuid."""
        if self.recording is None:
            return None
        return f"{self.recording['recording_id']}:{self.recording['status']}"

    @property
    def document_mark(self) -> str | None:
        """``<session id>:<document>``: one asset event per session and document, whatever the uuid."""
        if self.document is None:
            return None
        return f"{self.document['session_id']}:{self.document['document']}"


def delivery_uuid(header: str | None) -> str:
    """The ``rtk-uuid`` header, checked (it is the dedupe key)."""
    value = (header or "").strip()
    if not _UUID_RE.fullmatch(value):
        raise DeliveryError("the delivery has no valid rtk-uuid header")
    return value


def parse_delivery(body: bytes, uuid: str) -> Delivery:
    """Read a verified body; :class:`DeliveryError` says what is wrong (never echoing the body)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DeliveryError("the body is not JSON") from None
    except RecursionError:  # nesting deeper than Python's stack: a 400, never a 5xx retried for ever
        raise DeliveryError("the body's JSON is nested too deeply") from None
    if not isinstance(payload, dict):
        raise DeliveryError("the body is not a JSON object")
    event = payload.get("event")
    if not isinstance(event, str) or not _EVENT_RE.fullmatch(event):
        raise DeliveryError("the body has no valid 'event'")
    if event == MEETING_STARTED:
        delivery = _meeting_started(payload, uuid)
    elif event == RECORDING_STATUS_UPDATE:
        delivery = _recording_update(payload, uuid)
    elif event in DOCUMENT_EVENTS:
        delivery = _document_ready(payload, uuid, event)
    else:
        return Delivery(uuid=uuid, event=event)
    _check_storable(delivery.live_session or delivery.recording or delivery.document)
    return delivery


def _check_storable(fed: dict[str, Any] | None) -> None:
    """What an asset event will hold must be strict JSON in UTF-8, as the database's JSON columns
    take it: a lone surrogate (a valid JSON escape, but no character) or NaN is refused here, as a
    400, not by the database at every retry of the service (a 5xx for ever)."""
    try:
        json.dumps(fed, allow_nan=False, ensure_ascii=False).encode()
    except ValueError:  # UnicodeEncodeError is one
        raise DeliveryError("the body holds text or numbers that cannot be stored") from None


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise DeliveryError(f"the body's '{name}' is not an object")
    return value


def _id(container: dict[str, Any], where: str, name: str, *, required: bool = True) -> str | None:
    value = container.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 256 or not ID_RE.fullmatch(value):
        raise DeliveryError(f"{where}.{name} is not a valid id")
    return value


def _text(container: dict[str, Any], name: str) -> str | None:
    value = container.get(name)
    return value[:1024] if isinstance(value, str) and value else None


def _meeting_started(payload: dict[str, Any], uuid: str) -> Delivery:
    from airflow_provider_rtk.triggers.events import LiveSessionEvent

    meeting = _object(payload, "meeting")
    meeting_id = _id(meeting, "meeting", "id")
    session_id = _id(meeting, "meeting", "sessionId")
    assert meeting_id is not None
    assert session_id is not None
    event = LiveSessionEvent.of(
        meeting_id, session_id, title=_text(meeting, "title"), started_at=_text(meeting, "startedAt")
    )
    return Delivery(uuid=uuid, event=MEETING_STARTED, meeting_id=meeting_id, live_session=event.to_payload())


def _document_ready(payload: dict[str, Any], uuid: str, event: str) -> Delivery:
    """``meeting.transcript`` / ``meeting.summary``, nested (``meeting: {id, sessionId}``) or flat
    (``meetingId``, ``sessionId`` at the top)."""
    if "meeting" in payload:
        meeting = _object(payload, "meeting")
        meeting_id, session_id = _id(meeting, "meeting", "id"), _id(meeting, "meeting", "sessionId")
    else:
        meeting_id, session_id = _id(payload, "body", "meetingId"), _id(payload, "body", "sessionId")
    document = {"session_id": session_id, "meeting_id": meeting_id, "document": DOCUMENT_EVENTS[event]}
    return Delivery(uuid=uuid, event=event, meeting_id=meeting_id, document=document)


#: camelCase fields of a delivered recording -> the model's names (links are left out on purpose).
_RECORDING_FIELDS = {
    "id": "id",
    "status": "status",
    "meetingId": "meeting_id",
    "sessionId": "session_id",
    "outputFileName": "output_file_name",
    "recordingDuration": "recording_duration",
    "fileSize": "file_size",
    "downloadUrlExpiry": "download_url_expiry",
    "invokedTime": "invoked_time",
    "startedTime": "started_time",
    "stoppedTime": "stopped_time",
}


def _recording_update(payload: dict[str, Any], uuid: str) -> Delivery:
    from pydantic import ValidationError

    from airflow_provider_rtk.assets import recording_asset_extra
    from airflow_provider_rtk.models import Recording

    recording = _object(payload, "recording")
    _id(recording, "recording", "id")
    meeting_id = _id(recording, "recording", "meetingId", required=False)
    _id(recording, "recording", "sessionId", required=False)
    status = recording.get("status")
    if not isinstance(status, str):
        raise DeliveryError("recording.status is not text")
    if status.upper() not in FED_RECORDING_STATUSES:
        return Delivery(uuid=uuid, event=RECORDING_STATUS_UPDATE, meeting_id=meeting_id)
    fields = {ours: recording[theirs] for theirs, ours in _RECORDING_FIELDS.items() if theirs in recording}
    fields["status"] = status.upper()
    fields["download_url"] = _layer_files(recording.get("downloadUrl"))
    try:
        model = Recording.model_validate(fields)
    except ValidationError as error:
        where = sorted({".".join(str(part) for part in item["loc"]) for item in error.errors()})
        raise DeliveryError(f"recording fields cannot be read: {', '.join(where)[:200]}") from None
    return Delivery(
        uuid=uuid,
        event=RECORDING_STATUS_UPDATE,
        meeting_id=meeting_id,
        recording=recording_asset_extra(model),
    )


def _layer_files(value: Any) -> list[dict[str, Any]] | None:
    """The file names (and sizes, durations) of a track recording's per-layer ``downloadUrl``; the
    links themselves are dropped here, before anything else sees them."""
    if not isinstance(value, list):
        return None
    layers: list[dict[str, Any]] = []
    for layer in value:
        if not isinstance(layer, dict):
            continue
        links = layer.get("downloadUrls", layer.get("download_urls"))
        files: dict[str, dict[str, Any]] = {}
        if isinstance(links, dict):
            for name, link in links.items():
                if isinstance(name, str) and isinstance(link, dict):
                    kept = {k: link[k] for k in ("fileSize", "file_size", "size", "duration") if k in link}
                    if "fileSize" in kept:
                        kept["file_size"] = kept.pop("fileSize")
                    files[name] = kept
        layers.append({"layer_name": layer.get("layerName", layer.get("layer_name")), "download_urls": files})
    return layers
