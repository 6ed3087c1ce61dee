"""The project's own JSON Schema of the RealtimeKit API's answers, written from Cloudflare's published
description (field names, types, which are required, which may be null), for checking the emulator.

Only what the description declares nullable may be null; every other field is left out when it has no
value. The one documented divergence: a track recording's ``download_url`` is the per-layer list that
the track-recording guide shows (the description types it as a string).
"""

from __future__ import annotations

import re
from typing import Any

Schema = dict[str, Any]

TIMESTAMP: Schema = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
}
URL: Schema = {"type": "string", "pattern": r"^https?://[^\s/]+/\S*$"}
STRING: Schema = {"type": "string"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def envelope(data: Schema | None = None, *, paging: bool = False, data_required: bool = True) -> Schema:
    """``{"success": true, "data": ...}`` (and ``paging`` for lists)."""
    properties: Schema = {"success": {"const": True}}
    required = ["success"]
    if data is not None:
        properties["data"] = data
        if data_required:
            required.append("data")
    if paging:
        properties["paging"] = {"$ref": "#/$defs/paging"}
        required.append("paging")
    return {"type": "object", "properties": properties, "required": required}


def _caller(role: str) -> Schema:
    return {
        "type": "object",
        "properties": {
            "name": STRING,
            "type": {"enum": ["ORGANIZATION", "USER"]},
            "user_Id": STRING,
        },
        "description": f"who {role} the recording",
    }


DEFS: Schema = {
    "paging": {
        "type": "object",
        "properties": {
            "total_count": {"type": "number", "minimum": 0},
            "start_offset": NUMBER,
            "end_offset": NUMBER,
        },
        "required": ["total_count", "start_offset", "end_offset"],
    },
    "storage_config": {
        "type": "object",
        "properties": {
            "type": {"enum": ["aws", "azure", "digitalocean", "gcs", "sftp"]},
            "auth_method": {"enum": ["KEY", "PASSWORD"]},
            "bucket": STRING,
            "region": STRING,
            "path": STRING,
            "host": STRING,
            "port": NUMBER,
            "username": STRING,
        },
        "required": ["type"],
        # Secrets are write-only: an answer never shows them.
        "not": {
            "anyOf": [{"required": [name]} for name in ("access_key", "secret", "password", "private_key")]
        },
    },
    "track_downloads": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "layer_name": STRING,
                "download_urls": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"download_url": URL},
                        "required": ["download_url"],
                    },
                },
            },
            "required": ["layer_name", "download_urls"],
        },
    },
    "recording": {
        "type": "object",
        "properties": {
            "id": STRING,
            "status": {"enum": ["INVOKED", "RECORDING", "UPLOADING", "UPLOADED", "ERRORED", "PAUSED"]},
            "invoked_time": TIMESTAMP,
            "started_time": nullable(TIMESTAMP),
            "stopped_time": nullable(TIMESTAMP),
            "output_file_name": STRING,
            "recording_duration": {"type": "integer", "minimum": 0},
            "file_size": nullable(NUMBER),
            "download_url": {"anyOf": [URL, {"type": "null"}, {"$ref": "#/$defs/track_downloads"}]},
            "download_url_expiry": nullable(TIMESTAMP),
            "audio_download_url": nullable(URL),
            "session_id": nullable(STRING),
            "start_reason": {
                "type": "object",
                "properties": {
                    "reason": {"enum": ["API_CALL", "RECORD_ON_START"]},
                    "caller": _caller("started"),
                },
            },
            "stop_reason": {
                "type": "object",
                "properties": {
                    "reason": {"enum": ["API_CALL", "INTERNAL_ERROR", "ALL_PEERS_LEFT"]},
                    "caller": _caller("stopped"),
                },
            },
            "storage_config": nullable({"$ref": "#/$defs/storage_config"}),
            "meeting": {"$ref": "#/$defs/meeting"},
        },
        "required": [
            "id",
            "download_url",
            "download_url_expiry",
            "audio_download_url",
            "file_size",
            "session_id",
            "output_file_name",
            "status",
            "invoked_time",
            "started_time",
            "stopped_time",
        ],
    },
    "meeting": {
        "type": "object",
        "properties": {
            "id": STRING,
            "title": STRING,
            "status": {"enum": ["ACTIVE", "INACTIVE"]},
            "record_on_start": BOOLEAN,
            "live_stream_on_start": BOOLEAN,
            "persist_chat": BOOLEAN,
            "summarize_on_end": BOOLEAN,
            "transcribe_on_end": BOOLEAN,
            "session_keep_alive_time_in_secs": {"type": "number", "minimum": 60, "maximum": 600},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        "required": ["id", "created_at", "updated_at"],
    },
    "session": {
        "type": "object",
        "properties": {
            "id": STRING,
            "associated_id": STRING,
            "meeting_display_name": STRING,
            "type": {"enum": ["meeting", "livestream", "participant"]},
            "status": {"enum": ["LIVE", "ENDED"]},
            "live_participants": NUMBER,
            "max_concurrent_participants": NUMBER,
            "minutes_consumed": NUMBER,
            "organization_id": STRING,
            "started_at": STRING,
            "created_at": STRING,
            "updated_at": STRING,
            "ended_at": STRING,
            "breakout_rooms": {"type": "array", "items": {"$ref": "#/$defs/session"}},
        },
        "required": [
            "id",
            "associated_id",
            "meeting_display_name",
            "type",
            "status",
            "live_participants",
            "max_concurrent_participants",
            "minutes_consumed",
            "organization_id",
            "started_at",
            "created_at",
            "updated_at",
        ],
    },
}

RECORDING: Schema = {"$ref": "#/$defs/recording"}
MEETING: Schema = {"$ref": "#/$defs/meeting"}
SESSION: Schema = {"$ref": "#/$defs/session"}

#: ``{"code", "message"}``, in both error envelopes.
CODE_AND_MESSAGE: Schema = {
    "type": "object",
    "properties": {"code": NUMBER, "message": STRING},
    "required": ["code", "message"],
}
#: RealtimeKit's own error envelope.
ERROR: Schema = {
    "type": "object",
    "properties": {"success": {"const": False}, "error": CODE_AND_MESSAGE},
    "required": ["success", "error"],
}
#: The Cloudflare gateway's envelope (authentication, rate limits, unknown routes).
GATEWAY_ERROR: Schema = {
    "type": "object",
    "properties": {
        "success": {"const": False},
        "errors": {"type": "array", "minItems": 1, "items": CODE_AND_MESSAGE},
        "messages": {"type": "array"},
        "result": {"type": "null"},
    },
    "required": ["success", "errors", "messages", "result"],
}

#: Successful answers by operationId.
SUCCESS: dict[str, Schema] = {
    "create_meeting": envelope(MEETING, data_required=False),
    "get_all_meetings": envelope({"type": "array", "items": MEETING}, paging=True),
    "get_meeting": envelope(MEETING, data_required=False),
    "GetActiveSession": envelope(SESSION),
    "GetSessions": envelope(
        {"type": "object", "properties": {"sessions": {"type": "array", "items": SESSION}}},
        data_required=False,
    ),
    "GetSessionDetails": envelope(SESSION, data_required=False),
    "startTrackRecordingForAMeeting": envelope(
        {"type": "object", "properties": {"recording": RECORDING}, "required": ["recording"]}
    ),
    "start_recording": envelope(RECORDING, data_required=False),
    "get_all_recordings": envelope({"type": "array", "items": RECORDING}, paging=True),
    "get_one_recording": envelope(RECORDING, data_required=False),
    "pause_resume_stop_recording": envelope(RECORDING, data_required=False),
    "get_active_recording": envelope(RECORDING),
}

#: Webhooks and post-meeting transcripts, from Cloudflare's API reference pages (developers.cloudflare.com/
#: api/resources/realtime_kit/subresources/webhooks/ and .../sessions/methods/get_session_transcripts/,
#: get_session_summary, generate_summary_of_transcripts): not in the description the project keeps.
WEBHOOK_EVENT_NAMES = [
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "meeting.chatSynced",
    "recording.statusUpdate",
    "livestreaming.statusUpdate",
    "meeting.transcript",
    "meeting.summary",
]
WEBHOOK: Schema = {
    "type": "object",
    "properties": {
        "id": STRING,
        "created_at": TIMESTAMP,
        "enabled": BOOLEAN,
        "events": {"type": "array", "items": {"enum": WEBHOOK_EVENT_NAMES}},
        "name": STRING,
        "updated_at": TIMESTAMP,
        "url": URL,
    },
    "required": ["id", "created_at", "enabled", "events", "name", "updated_at", "url"],
    "additionalProperties": False,
}
REFERENCE_SUCCESS: dict[str, Schema] = {
    "create_webhook": envelope(WEBHOOK),
    "get_webhooks": envelope({"type": "array", "items": WEBHOOK}),
    "get_webhook_by_id": envelope(WEBHOOK),
    "replace_webhook": envelope(WEBHOOK),
    "edit_webhook": envelope(WEBHOOK),
    "delete_webhook": envelope(WEBHOOK),
    "get_session_transcripts": envelope(
        {
            "type": "object",
            "properties": {
                "sessionId": STRING,
                "transcript_download_url": URL,
                "transcript_download_url_expiry": TIMESTAMP,
            },
            "required": ["sessionId", "transcript_download_url", "transcript_download_url_expiry"],
        },
        data_required=False,
    ),
    "get_session_summary": envelope(
        {
            "type": "object",
            "properties": {
                "sessionId": STRING,
                "summaryDownloadUrl": URL,
                "summaryDownloadUrlExpiry": TIMESTAMP,
            },
            "required": ["sessionId", "summaryDownloadUrl", "summaryDownloadUrlExpiry"],
        },
        data_required=False,
    ),
    "generate_summary_of_transcripts": envelope(
        {"type": "object", "properties": {"session_id": STRING, "status": STRING}}, data_required=False
    ),
}

_APP = r"/client/v4/accounts/[^/]+/realtime/kit/[^/]+"
#: (method, path pattern, operationId): the operations of the description, matched in order.
OPERATIONS: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{_APP}{path}$"), operation)
    for method, path, operation in [
        ("POST", "/meetings", "create_meeting"),
        ("GET", "/meetings", "get_all_meetings"),
        ("GET", "/meetings/[^/]+/active-session", "GetActiveSession"),
        ("GET", "/meetings/[^/]+", "get_meeting"),
        ("GET", "/sessions", "GetSessions"),
        ("GET", "/sessions/[^/]+/transcript", "get_session_transcripts"),
        ("GET", "/sessions/[^/]+/summary", "get_session_summary"),
        ("POST", "/sessions/[^/]+/summary", "generate_summary_of_transcripts"),
        ("GET", "/sessions/[^/]+", "GetSessionDetails"),
        ("POST", "/recordings/track", "startTrackRecordingForAMeeting"),
        ("POST", "/recordings", "start_recording"),
        ("GET", "/recordings", "get_all_recordings"),
        ("GET", "/recordings/active-recording/[^/]+", "get_active_recording"),
        ("GET", "/recordings/[^/]+", "get_one_recording"),
        ("PUT", "/recordings/[^/]+", "pause_resume_stop_recording"),
        ("POST", "/webhooks", "create_webhook"),
        ("GET", "/webhooks", "get_webhooks"),
        ("GET", "/webhooks/[^/]+", "get_webhook_by_id"),
        ("PUT", "/webhooks/[^/]+", "replace_webhook"),
        ("PATCH", "/webhooks/[^/]+", "edit_webhook"),
        ("DELETE", "/webhooks/[^/]+", "delete_webhook"),
    ]
]


def operation_of(method: str, path: str) -> str | None:
    """The operationId of a request, or ``None`` if the description has no such operation."""
    for wanted, pattern, operation in OPERATIONS:
        if wanted == method and pattern.match(path):
            return operation
    return None


def answer_schema(operation: str, status: int) -> Schema:
    """The schema an answer of ``operation`` with ``status`` must match (``$defs`` included)."""
    if 200 <= status < 300:
        schema = SUCCESS.get(operation) or REFERENCE_SUCCESS[operation]
    elif status in (401, 403, 429):
        schema = GATEWAY_ERROR
    else:
        schema = ERROR
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "$defs": DEFS}
