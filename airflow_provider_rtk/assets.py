"""Recordings as Airflow assets: the ``extra`` of an asset event about a recording, without its links.

Download links are pre-signed: whoever has one can fetch the file until it expires (7 days), so they
never go into an asset event (asset events are kept in the metadata database and shown in the UI).
Downstream DAGs get the ids instead and ask for fresh links when they need the files (the copy
operator does).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_rtk.models import Recording, TrackFileLink
    from airflow_provider_rtk.triggers.events import LiveSessionEvent

__all__ = [
    "LiveSessionEvent",
    "fill_outlet_events",
    "meetings_from_asset_events",
    "recording_asset_extra",
    "session_document_asset_extra",
    "session_ids_from_asset_events",
    "sessions_from_asset_events",
]


def _number(value: Any) -> float | int | None:
    """A finite number within 64 bits, else ``None``: NaN, infinities and integers of hundreds of
    digits are no size or duration, and a database's JSON column may refuse them."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):  # (float() of a huge one overflows)
        return value if abs(value) < 2**63 else None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _link_field(link: TrackFileLink, *names: str) -> Any:
    extra = link.model_extra or {}
    return next((extra[name] for name in names if extra.get(name) is not None), None)


def recording_asset_extra(
    recording: Recording, *, file_sizes: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The ``extra`` of an asset event for ``recording``: its recording, meeting and session ids,
    status, and each file's ``name``, ``layer``, ``size_bytes`` and ``duration_seconds``. No URL.

    A file's size is the one given in ``file_sizes`` (e.g. measured while copying), else the one the
    service lists for that file, else the recording's ``file_size`` when it has only one file, else
    ``None``: for several files the service gives only their total (``file_size``). A file's duration
    is its own where the service lists one, else the recording's ``recording_duration``.
    """
    sizes = dict(file_sizes or {})
    total = _number(recording.file_size)
    duration = _number(recording.recording_duration)
    files: list[dict[str, Any]] = []
    if isinstance(recording.download_url, list):
        for layer in recording.download_url:
            for name, link in layer.download_urls.items():
                files.append(
                    {
                        "name": name,
                        "layer": layer.layer_name,
                        "size_bytes": sizes.get(name, _number(_link_field(link, "file_size", "size"))),
                        "duration_seconds": _number(_link_field(link, "duration", "recording_duration"))
                        or duration,
                    }
                )
    elif recording.output_file_name:
        files.append(
            {
                "name": recording.output_file_name,
                "layer": None,
                "size_bytes": sizes.get(recording.output_file_name),
                "duration_seconds": duration,
            }
        )
    if len(files) == 1 and files[0]["size_bytes"] is None:
        files[0]["size_bytes"] = total
    return {
        "recording_id": recording.id,
        "meeting_id": recording.meeting_id,
        "session_id": recording.session_id,
        "status": recording.status.value,
        "recording_duration": duration,
        "file_size": total,
        "download_url_expiry": (
            recording.download_url_expiry.isoformat() if recording.download_url_expiry else None
        ),
        "files": files,
    }


def fill_outlet_events(context: Mapping[str, Any], outlets: Any, recording: Recording) -> int:
    """Put :func:`recording_asset_extra` on the asset event of each of the task's ``outlets`` (Airflow
    emits them when the task succeeds); returns how many were filled. Aliases are left alone."""
    events = context.get("outlet_events")
    if events is None:
        return 0
    extra = recording_asset_extra(recording)
    filled = 0
    for outlet in outlets or []:
        if type(outlet).__name__ != "Asset":  # AssetAlias and others take events added by hand
            continue
        events[outlet].extra.update(extra)
        filled += 1
    return filled


# --------------------------------------------------------------------------------------------------
# Live sessions: the events of the live-meeting watcher, as a run sees them


def __getattr__(name: str) -> Any:
    """``LiveSessionEvent`` lives in :mod:`airflow_provider_rtk.triggers.events` (imported from there on
    first use, so that a DAG file importing this module loads no models); this path keeps working."""
    if name == "LiveSessionEvent":
        return _live_session_event()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _live_session_event() -> type[LiveSessionEvent]:
    from airflow_provider_rtk.triggers.events import LiveSessionEvent

    return LiveSessionEvent


def sessions_from_asset_events(
    triggering_asset_events: Mapping[Any, Iterable[Any]],
) -> list[LiveSessionEvent]:
    """The live sessions behind a run's ``triggering_asset_events`` (each session once, in order).

    Asset events that did not come from :class:`RealtimeKitLiveSessionTrigger` (no such payload in
    their ``extra``) are left out.
    """
    found: dict[str, LiveSessionEvent] = {}
    for events in triggering_asset_events.values():
        for asset_event in events:
            extra = getattr(asset_event, "extra", None)
            payload = extra.get("payload") if isinstance(extra, Mapping) else None
            if not isinstance(payload, Mapping) or "session_id" not in payload:
                continue
            event = _live_session_event().parse(dict(payload))
            found.setdefault(event.session_id, event)
    return list(found.values())


def meetings_from_asset_events(triggering_asset_events: Mapping[Any, Iterable[Any]]) -> list[str]:
    """The meeting ids of :func:`sessions_from_asset_events`, each once."""
    return list(
        dict.fromkeys(event.meeting_id for event in sessions_from_asset_events(triggering_asset_events))
    )


# --------------------------------------------------------------------------------------------------
# Post-meeting transcripts and summaries: which sessions a run is about, and the copies' asset events


def _extra_field(extra: Mapping[str, Any], name: str) -> Any:
    """``extra[name]``, else ``extra["payload"][name]`` (the live-session watcher's events)."""
    if extra.get(name) is not None:
        return extra[name]
    payload = extra.get("payload")
    return payload.get(name) if isinstance(payload, Mapping) else None


def session_ids_from_asset_events(
    triggering_asset_events: Mapping[Any, Iterable[Any]],
) -> dict[str, str | None]:
    """Session id -> meeting id (or ``None``) of every asset event of a run that names a session, in
    order, each session once: ``extra["session_id"]`` and ``extra["meeting_id"]`` (recording asset
    events, pushed ``meeting.transcript``/``meeting.summary`` events), or the same fields under
    ``extra["payload"]`` (the live-session watcher's). Events that name no session are left out; one
    whose session id is not an id is a :class:`RealtimeKitPayloadError` naming where it sits."""
    from airflow_provider_rtk.arguments import ID_RE
    from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError

    found: dict[str, str | None] = {}
    for asset, events in triggering_asset_events.items():
        for index, asset_event in enumerate(events):
            extra = getattr(asset_event, "extra", None)
            if not isinstance(extra, Mapping):
                continue
            session_id, meeting_id = _extra_field(extra, "session_id"), _extra_field(extra, "meeting_id")
            if session_id is None:
                continue
            if not isinstance(session_id, str) or not ID_RE.fullmatch(session_id):
                label = str(getattr(asset, "name", asset))[:80]
                where = f"triggering_asset_events[{label}][{index}].extra.session_id"
                raise RealtimeKitPayloadError(
                    [FieldError(where, f"not a valid id: {str(session_id)[:80]!r}")], what="asset event"
                )
            if found.get(session_id) is None:
                found[session_id] = (
                    meeting_id if isinstance(meeting_id, str) and ID_RE.fullmatch(meeting_id) else None
                )
    return found


def session_document_asset_extra(
    session_id: str,
    meeting_id: str | None,
    document: str,
    name: str,
    size_bytes: int,
    destination: str,
    *,
    copied: bool,
) -> dict[str, Any]:
    """The ``extra`` of the asset event of one copied transcript or summary: ids, which document, the
    file and where it landed. No link."""
    return {
        "session_id": session_id,
        "meeting_id": meeting_id,
        "document": document,
        "file": {"name": name, "size_bytes": size_bytes},
        "destination": destination,
        "copied": copied,
    }
