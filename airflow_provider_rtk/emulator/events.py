"""Webhook payloads, camelCase as Cloudflare's webhooks guide shows them.

Source: developers.cloudflare.com/realtime/realtimekit/webhooks/ ("Event payloads"): every payload has
``event``; meeting events carry ``meeting: {id, sessionId, title, roomName, status, createdAt,
startedAt, endedAt (once ended), organizedBy: {id, name}}`` (the guide's examples show ``status``
``"LIVE"`` in every event, also ``meeting.ended``; the emulator does the same); ``meeting.ended`` adds
``reason`` (``ALL_PARTICIPANTS_LEFT`` here); ``recording.statusUpdate`` carries ``recording: {id,
recordingId, status, downloadUrl, audioDownloadUrl, downloadUrlExpiry, startedTime, stoppedTime,
fileSize (a string), outputFileName, meetingId, recordingDuration, organizationId, roomUUID (the
session id)}`` and the meeting; ``meeting.transcript`` adds ``transcriptDownloadUrl`` and
``transcriptDownloadUrlExpiry``, ``meeting.summary`` ``summaryDownloadUrl`` and
``summaryDownloadUrlExpiry``. A track recording's ``downloadUrl`` is its per-layer list, as the
recording API shows it (the guide's example is a composite recording's single link).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow_provider_rtk.emulator.state import StateEvent, iso_time

ORGANIZATION_NAME = "RealtimeKit emulator"


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def meeting_payload(event: StateEvent, organization_id: str) -> dict[str, Any]:
    """The ``meeting`` object of a payload."""
    meeting, session = event.meeting, event.session
    meeting_id = meeting.id if meeting else session.meeting_id if session else ""
    return _without_none(
        {
            "id": meeting_id,
            "sessionId": session.id if session else None,
            "title": meeting.title if meeting else None,
            "roomName": meeting_id,
            "status": "LIVE",
            "createdAt": iso_time(meeting.created_at) if meeting else None,
            "startedAt": iso_time(session.started_at) if session else None,
            "endedAt": iso_time(session.ended_at) if session else None,
            "organizedBy": {"id": organization_id, "name": ORGANIZATION_NAME},
        }
    )


def payload(event: StateEvent, files_url: str, organization_id: str) -> dict[str, Any]:
    """The JSON body of the webhook for ``event``; links point below ``files_url``."""
    body: dict[str, Any] = {"event": event.name, "meeting": meeting_payload(event, organization_id)}
    if event.reason is not None:
        body["reason"] = event.reason
    recording = event.recording
    if recording is not None:
        shown = recording.to_api(files_url)
        size = shown["file_size"]
        body = {
            "event": event.name,
            "recording": {
                "id": recording.id,
                "recordingId": recording.id,
                "status": shown["status"],
                "downloadUrl": shown["download_url"],
                "audioDownloadUrl": shown["audio_download_url"],
                "downloadUrlExpiry": shown["download_url_expiry"],
                "startedTime": shown["started_time"],
                "stoppedTime": shown["stopped_time"],
                "fileSize": None if size is None else str(size),
                "outputFileName": shown["output_file_name"],
                "meetingId": recording.meeting_id,
                "recordingDuration": shown["recording_duration"],
                "organizationId": organization_id,
                "roomUUID": recording.session_id,
            },
            "meeting": body["meeting"],
        }
    artifact = event.artifact
    if artifact is not None:
        prefix = "summary" if artifact.kind == "summary" else "transcript"
        body[f"{prefix}DownloadUrl"] = f"{files_url}/{quote(artifact.file_name())}"
        body[f"{prefix}DownloadUrlExpiry"] = iso_time(artifact.expires_at)
    return body
