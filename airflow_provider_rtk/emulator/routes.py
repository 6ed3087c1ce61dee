"""The RealtimeKit API operations: read the request, call the state, answer as the real service does.

Each handler is registered under its operationId in Cloudflare's OpenAPI description (the names that
faults use). Start-track bodies are validated by
:func:`airflow_provider_rtk.models.parse_track_request`, so the emulator and the provider agree on every
rule, and a 400 names the field path exactly as the provider would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airflow_provider_rtk.emulator.messages import ApiError, Reply, Request, success
from airflow_provider_rtk.emulator.routing import Route, RouteTable, no_route
from airflow_provider_rtk.emulator.settings import FILES_PREFIX, EmulatorSettings
from airflow_provider_rtk.emulator.state import DOWNLOAD_LINK_SECONDS, EmulatorState, Meeting, Recording
from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError
from airflow_provider_rtk.models import (
    MAX_RECORDING_SECONDS,
    RecordingAction,
    RecordingStatus,
    StorageConfig,
    field_errors,
    parse_track_request,
)

DEFAULT_PER_PAGE = 20
TRACK_REQUEST = "track recording request"
APP_PATH = "/accounts/{account_id}/realtime/kit/{app_id}"
_Item = TypeVar("_Item")
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class Api:
    """What the operations work on."""

    state: EmulatorState
    settings: EmulatorSettings

    def check_ids(self, params: Mapping[str, str], path: str) -> None:
        """A configured account or app id must match, or the gateway cannot route the call."""
        for name, expected in (("account_id", self.settings.account_id), ("app_id", self.settings.app_id)):
            if expected is not None and params.get(name) != expected:
                raise no_route(path)


def invalid(errors: list[FieldError], what: str) -> ApiError:
    """A 400 whose message lists every bad field, as :class:`RealtimeKitPayloadError` words it."""
    return ApiError(400, str(RealtimeKitPayloadError(errors, what=what)))


def validated(model: type[_Model], body: Any, what: str) -> _Model:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise invalid(field_errors(error), what) from None


def files_url(request: Request) -> str:
    return f"{request.origin}{FILES_PREFIX}"


class Query:
    """Query parameters, read the way the service reads them; a bad value is a 400 naming it."""

    def __init__(self, raw: Mapping[str, list[str]]) -> None:
        self._raw = raw

    def text(self, name: str) -> str | None:
        values = [value for value in self._raw.get(name, []) if value.strip()]
        return values[-1].strip() if values else None

    def values(self, name: str) -> list[str]:
        """Comma lists and repeated parameters alike (``status=A,B`` or ``status=A&status=B``)."""
        return [
            item.strip() for value in self._raw.get(name, []) for item in value.split(",") if item.strip()
        ]

    def _bad(self, name: str, message: str) -> ApiError:
        return invalid([FieldError(name, message)], "query")

    def integer(self, name: str, default: int) -> int:
        text = self.text(name)
        if text is None:
            return default
        try:
            number = float(text)
        except ValueError:
            raise self._bad(name, "must be a number") from None
        if number < 0 or number != int(number):
            raise self._bad(name, "must be a whole number >= 0")
        return int(number) or default  # 0 means the default, as an empty value does

    def boolean(self, name: str) -> bool | None:
        text = self.text(name)
        if text is None:
            return None
        if text.lower() not in ("true", "false"):
            raise self._bad(name, "must be true or false")
        return text.lower() == "true"

    def moment(self, name: str) -> float | None:
        """An ISO-8601 time as a timestamp (naive times are UTC)."""
        text = self.text(name)
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise self._bad(name, "must be an ISO-8601 date-time") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        text = self.text(name)
        if text is None:
            return default
        for choice in choices:
            if text.upper() == choice.upper():
                return choice
        raise self._bad(name, f"must be one of {', '.join(choices)}")

    def statuses(self, name: str) -> set[RecordingStatus]:
        try:
            return set(RecordingStatus.parse_many(self.values(name)))
        except ValueError as error:
            raise self._bad(name, str(error)) from None

    def page(self, items: list[_Item]) -> tuple[list[_Item], dict[str, int]]:
        """One page (``page_no`` counts from 1) and the ``paging`` object (offsets count from 1)."""
        page_no = self.integer("page_no", 1)
        per_page = self.integer("per_page", DEFAULT_PER_PAGE)
        offset = (page_no - 1) * per_page
        chosen = items[offset : offset + per_page]
        return chosen, {
            "total_count": len(items),
            "start_offset": offset + 1 if chosen else offset,
            "end_offset": offset + len(chosen),
        }


def _within(moment: float, start: float | None, end: float | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


# --------------------------------------------------------------------------------------------------
# Meetings


class MeetingBody(BaseModel):
    """Body of ``POST /meetings`` (the fields the emulator keeps; others are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    title: str | None = None
    record_on_start: bool | None = None
    live_stream_on_start: bool | None = None
    persist_chat: bool | None = None
    summarize_on_end: bool | None = None
    transcribe_on_end: bool | None = None
    session_keep_alive_time_in_secs: Annotated[float, Field(ge=60, le=600)] | None = None


def create_meeting(api: Api, request: Request, params: dict[str, str]) -> Reply:
    body = validated(MeetingBody, request.json(empty={}), "meeting request")
    options = body.model_dump(exclude_none=True, exclude={"title"})
    return success(api.state.create_meeting(body.title, options=options).to_api(), status=201)


def get_all_meetings(api: Api, request: Request, params: dict[str, str]) -> Reply:
    query = Query(request.query)
    search = (query.text("search") or "").lower()
    status = query.choice("status", ("ACTIVE", "INACTIVE"), "ACTIVE")
    start, end = query.moment("start_time"), query.moment("end_time")

    def keep(meeting: Meeting) -> bool:
        words = f"{meeting.id} {meeting.title or ''}".lower()
        return status == "ACTIVE" and search in words and _within(meeting.created_at, start, end)

    meetings = sorted(filter(keep, api.state.meetings()), key=lambda m: m.created_at, reverse=True)
    page, paging = query.page(meetings)
    return success([meeting.to_api() for meeting in page], paging=paging)


def get_meeting(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.state.get_meeting(params["meeting_id"]).to_api())


def get_active_session(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.state.active_session(params["meeting_id"]).to_api())


# --------------------------------------------------------------------------------------------------
# Recordings


def start_track_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    body = request.json()
    try:
        track = parse_track_request(body)
    except RealtimeKitPayloadError as error:
        raise ApiError(400, str(error)) from None
    legacy = api.settings.legacy_track
    if legacy and not track.layers:
        raise invalid([FieldError("layers", "Field required (the legacy API needs layers)")], TRACK_REQUEST)
    recording = api.state.start_track(track, body, answered_empty=legacy)
    if legacy:
        return Reply(200)
    return success({"recording": recording.to_api(files_url(request))})


class CompositeBody(BaseModel):
    """Body of ``POST /recordings`` (composite): the fields whose rules the emulator checks."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    meeting_id: Annotated[str, Field(min_length=1)]
    max_seconds: Annotated[int, Field(ge=60, le=MAX_RECORDING_SECONDS)] | None = None
    allow_multiple_recordings: bool = False
    file_name_prefix: Annotated[str, Field(min_length=1)] | None = None
    storage_config: StorageConfig | None = None


def start_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    body = request.json()
    composite = validated(CompositeBody, body, "recording request")
    recording = api.state.start_composite(
        composite.meeting_id,
        body,
        max_seconds=composite.max_seconds,
        allow_multiple=composite.allow_multiple_recordings,
        file_name_prefix=composite.file_name_prefix,
        storage_config=composite.storage_config,
    )
    return success(recording.to_api(files_url(request)))


def get_all_recordings(api: Api, request: Request, params: dict[str, str]) -> Reply:
    query = Query(request.query)
    meeting_id = query.text("meeting_id")
    statuses = query.statuses("status")
    query.choice("sort_by", ("invokedTime",), "invokedTime")
    descending = query.choice("sort_order", ("ASC", "DESC"), "DESC") == "DESC"
    start, end = query.moment("start_time"), query.moment("end_time")
    expired = query.boolean("expired")
    search = (query.text("search") or "").lower()
    meetings = {meeting.id: meeting for meeting in api.state.meetings()}

    def keep(recording: Recording) -> bool:
        meeting = meetings.get(recording.meeting_id)
        words = " ".join(
            [recording.id, recording.meeting_id, meeting.title or "" if meeting else ""]
            + [recorded.name for recorded in recording.files]
        ).lower()
        is_expired = (
            recording.uploaded_at is not None
            and recording.uploaded_at + DOWNLOAD_LINK_SECONDS < recording.as_of
        )
        return (
            (meeting_id is None or recording.meeting_id == meeting_id)
            and (not statuses or recording.status in statuses)
            and _within(recording.invoked_at, start, end)
            and (expired is None or is_expired == expired)
            and search in words
        )

    recordings = sorted(filter(keep, api.state.recordings()), key=lambda r: r.invoked_at, reverse=descending)
    page, paging = query.page(recordings)
    links = files_url(request)
    data = [
        {**recording.to_api(links), "meeting": meetings[recording.meeting_id].to_api()}
        if recording.meeting_id in meetings
        else recording.to_api(links)
        for recording in page
    ]
    return success(data, paging=paging)


def get_one_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.state.get_recording(params["recording_id"]).to_api(files_url(request)))


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    action: RecordingAction


def pause_resume_stop_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    body = validated(ActionBody, request.json(), "recording action request")
    recording = api.state.apply_action(params["recording_id"], body.action)
    return success(recording.to_api(files_url(request)))


def get_active_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.state.active_recording(params["meeting_id"]).to_api(files_url(request)))


def _route(
    method: str, path: str, operation: str, handler: Callable[[Api, Request, dict[str, str]], Reply]
) -> Route[Api]:
    return Route(method, APP_PATH + path, handler, operation)


#: Order matters: ``/recordings/active-recording/...`` before ``/recordings/{recording_id}``.
API_ROUTES: RouteTable[Api] = RouteTable(
    [
        _route("POST", "/meetings", "create_meeting", create_meeting),
        _route("GET", "/meetings", "get_all_meetings", get_all_meetings),
        _route("GET", "/meetings/{meeting_id}", "get_meeting", get_meeting),
        _route("GET", "/meetings/{meeting_id}/active-session", "GetActiveSession", get_active_session),
        _route("POST", "/recordings/track", "startTrackRecordingForAMeeting", start_track_recording),
        _route("POST", "/recordings", "start_recording", start_recording),
        _route("GET", "/recordings", "get_all_recordings", get_all_recordings),
        _route(
            "GET", "/recordings/active-recording/{meeting_id}", "get_active_recording", get_active_recording
        ),
        _route("GET", "/recordings/{recording_id}", "get_one_recording", get_one_recording),
        _route(
            "PUT", "/recordings/{recording_id}", "pause_resume_stop_recording", pause_resume_stop_recording
        ),
    ]
)
