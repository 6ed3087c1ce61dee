"""The RealtimeKit API operations: read the request, call the state, answer as the real service does.

Each handler is registered under its operationId in Cloudflare's OpenAPI description (the names that
faults use). The webhook and transcript operations are not in the description the project keeps: they
follow Cloudflare's API reference pages and carry the method names used there
(developers.cloudflare.com/api/resources/realtime_kit/subresources/webhooks/methods/create_webhook/,
``get_webhooks``, ``get_webhook_by_id``, ``replace_webhook``, ``edit_webhook``, ``delete_webhook``;
.../subresources/sessions/methods/get_session_transcripts/, ``get_session_summary``,
``generate_summary_of_transcripts``); see :mod:`.webhooks` and :mod:`.transcripts`. Bodies are
checked by :mod:`.validation`, written from the API description and not from the provider's models,
so a provider mistake shows up as a 400 naming the field path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote

from airflow_provider_rtk.emulator.api_facts import SESSION_SORT_FIELDS, SESSION_STATUSES, RecordingStatus
from airflow_provider_rtk.emulator.messages import ApiError, Reply, Request, success
from airflow_provider_rtk.emulator.routing import Route, RouteTable, no_route
from airflow_provider_rtk.emulator.settings import FILES_PREFIX, EmulatorSettings
from airflow_provider_rtk.emulator.state import RecordingQuery, iso_time
from airflow_provider_rtk.emulator.transcripts import DEFAULT_TRANSCRIPT_FORMAT, TRANSCRIPT_FORMATS
from airflow_provider_rtk.emulator.validation import (
    Checker,
    parse_action,
    parse_composite_start,
    parse_meeting,
    parse_track_start,
)
from airflow_provider_rtk.emulator.webhooks import WEBHOOK_EVENTS, parse_webhook

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.state import EmulatorState, Meeting, Session
    from airflow_provider_rtk.emulator.webhooks import WebhookRegistry

DEFAULT_PER_PAGE = 20
APP_PATH = "/accounts/{account_id}/realtime/kit/{app_id}"
_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Api:
    """What the operations work on."""

    state: EmulatorState
    settings: EmulatorSettings
    webhooks: WebhookRegistry

    def check_ids(self, params: Mapping[str, str], path: str) -> None:
        """A configured account or app id must match, or the gateway cannot route the call."""
        for name, expected in (("account_id", self.settings.account_id), ("app_id", self.settings.app_id)):
            if expected is not None and params.get(name) != expected:
                raise no_route(path)


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

    def bad(self, name: str, message: str) -> ApiError:
        """A 400 naming the query parameter."""
        check = Checker("query")
        check.add(name, message)
        return check.error()

    def integer(self, name: str, default: int) -> int:
        text = self.text(name)
        if text is None:
            return default
        try:
            number = float(text)
        except ValueError:
            raise self.bad(name, "must be a number") from None
        if number < 0 or number != int(number):
            raise self.bad(name, "must be a whole number >= 0")
        return int(number) or default  # 0 means the default, as an empty value does

    def boolean(self, name: str) -> bool | None:
        text = self.text(name)
        if text is None:
            return None
        if text.lower() not in ("true", "false"):
            raise self.bad(name, "must be true or false")
        return text.lower() == "true"

    def moment(self, name: str) -> float | None:
        """An ISO-8601 time as a timestamp (naive times are UTC)."""
        text = self.text(name)
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise self.bad(name, "must be an ISO-8601 date-time") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        text = self.text(name)
        if text is None:
            return default
        for choice in choices:
            if text.upper() == choice.upper():
                return choice
        raise self.bad(name, f"must be one of {', '.join(choices)}")

    def statuses(self, name: str) -> set[RecordingStatus]:
        """Recording statuses (any case); an unknown one is a 400 listing the known ones."""
        known = {status.value: status for status in RecordingStatus}
        unknown = [value for value in self.values(name) if value.upper() not in known]
        if unknown:
            raise self.bad(name, f"unknown status {unknown[0]!r}; known: {', '.join(known)}")
        return {known[value.upper()] for value in self.values(name)}

    def window(self) -> tuple[int, int]:
        """Where the page starts (from 0) and how many it holds at most (``page_no`` counts from 1)."""
        page_no = self.integer("page_no", 1)
        per_page = self.integer("per_page", DEFAULT_PER_PAGE)
        return (page_no - 1) * per_page, per_page

    def page(self, items: list[_Item]) -> tuple[list[_Item], dict[str, int]]:
        """One page and the ``paging`` object."""
        offset, per_page = self.window()
        chosen = items[offset : offset + per_page]
        return chosen, _paging(offset, len(chosen), len(items))


def _paging(offset: int, shown: int, total: int) -> dict[str, int]:
    """The ``paging`` object of a page of ``shown`` items from ``offset`` (offsets count from 1)."""
    return {
        "total_count": total,
        "start_offset": offset + 1 if shown else offset,
        "end_offset": offset + shown,
    }


def _within(moment: float, start: float | None, end: float | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


# --------------------------------------------------------------------------------------------------
# Meetings


def create_meeting(api: Api, request: Request, params: dict[str, str]) -> Reply:
    body = parse_meeting(request.json(empty={}))
    return success(api.state.create_meeting(body.title, options=body.options).to_api(), status=201)


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


def _participant_range(query: Query) -> tuple[int, int | None]:
    """``participants``: ``N`` or ``MIN:MAX`` (either bound may be left out), e.g. ``1:10``."""
    text = query.text("participants")
    if text is None:
        return 0, None
    low, sep, high = text.partition(":")
    try:
        bounds = (
            (int(low) if low.strip() else 0, int(high) if high.strip() else None) if sep else (int(low),) * 2
        )
    except ValueError:
        raise query.bad("participants", "must be N or MIN:MAX, e.g. 1:10") from None
    return bounds[0], bounds[1]


def get_sessions(api: Api, request: Request, params: dict[str, str]) -> Reply:
    """The app's sessions (live and ended), newest first unless asked otherwise, in pages."""
    query = Query(request.query)
    status = query.choice("status", SESSION_STATUSES, "") if query.text("status") else None
    meeting_id = query.text("associated_id")
    search = (query.text("search") or "").lower()
    start, end = query.moment("start_time"), query.moment("end_time")
    sort_by = query.choice("sort_by", SESSION_SORT_FIELDS, "createdAt")
    descending = query.choice("sort_order", ("ASC", "DESC"), "DESC") == "DESC"
    fewest, most = _participant_range(query)

    def keep(session: Session) -> bool:
        shown = session.to_api()
        words = f"{session.id} {session.meeting_id} {session.meeting_title or ''}".lower()
        count = shown["max_concurrent_participants"]
        return (
            (status is None or shown["status"] == status)
            and (meeting_id is None or session.meeting_id == meeting_id)
            and search in words
            and _within(session.started_at, start, end)
            and count >= fewest
            and (most is None or count <= most)
        )

    def order(session: Session) -> float:
        return (
            float(session.to_api()["minutes_consumed"])
            if sort_by == "minutesConsumed"
            else session.started_at
        )

    sessions = sorted(filter(keep, api.state.sessions()), key=order, reverse=descending)
    page, paging = query.page(sessions)
    return success({"sessions": [session.to_api() for session in page]}, paging=paging)


def get_session_details(api: Api, request: Request, params: dict[str, str]) -> Reply:
    Query(request.query).boolean("include_breakout_rooms")  # checked; the emulator has no breakout rooms
    return success(api.state.get_session(params["session_id"]).to_api())


# --------------------------------------------------------------------------------------------------
# Recordings


def start_track_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    body = request.json()
    legacy = api.settings.legacy_track
    track = parse_track_start(body, legacy_only=legacy, unknown_fields=api.settings.unknown_fields)
    recording = api.state.start_track(track, body, answered_empty=legacy)
    if legacy:
        return Reply(200)
    return success({"recording": recording.to_api(files_url(request))})


def start_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    body = request.json()
    composite = parse_composite_start(body, unknown_fields=api.settings.unknown_fields)
    recording = api.state.start_composite(
        composite.meeting_id,
        body,
        max_seconds=composite.max_seconds,
        allow_multiple=composite.allow_multiple,
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
    offset, per_page = query.window()
    found = api.state.list_recordings(
        RecordingQuery(
            meeting_id=meeting_id,
            statuses=frozenset(statuses),
            start=start,
            end=end,
            expired=expired,
            search=search,
            descending=descending,
            offset=offset,
            limit=per_page,
        )
    )
    links = files_url(request)
    meetings = found.meetings
    data = [
        {**recording.to_api(links), "meeting": meetings[recording.meeting_id].to_api()}
        if recording.meeting_id in meetings
        else recording.to_api(links)
        for recording in found.recordings
    ]
    return success(data, paging=_paging(offset, len(found.recordings), found.total_count))


def get_one_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.state.get_recording(params["recording_id"]).to_api(files_url(request)))


def pause_resume_stop_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    action = parse_action(request.json(), unknown_fields=api.settings.unknown_fields)
    recording = api.state.apply_action(params["recording_id"], action)
    return success(recording.to_api(files_url(request)))


def get_active_recording(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.state.active_recording(params["meeting_id"]).to_api(files_url(request)))


# --------------------------------------------------------------------------------------------------
# Transcripts and summaries


def get_session_transcripts(api: Api, request: Request, params: dict[str, str]) -> Reply:
    query = Query(request.query)
    file_format = query.choice("format", TRANSCRIPT_FORMATS, DEFAULT_TRANSCRIPT_FORMAT)
    artifact = api.state.artifact(params["session_id"], "transcript")
    url = f"{files_url(request)}/{quote(artifact.file_name(file_format))}"
    return success(
        {
            "sessionId": artifact.session_id,
            "transcript_download_url": url,
            "transcript_download_url_expiry": iso_time(artifact.expires_at),
        }
    )


def get_session_summary(api: Api, request: Request, params: dict[str, str]) -> Reply:
    artifact = api.state.artifact(params["session_id"], "summary")
    return success(
        {
            "sessionId": artifact.session_id,
            "summaryDownloadUrl": f"{files_url(request)}/{quote(artifact.file_name())}",
            "summaryDownloadUrlExpiry": iso_time(artifact.expires_at),
        }
    )


def generate_summary_of_transcripts(api: Api, request: Request, params: dict[str, str]) -> Reply:
    api.state.generate_summary(params["session_id"])
    return success({"session_id": params["session_id"], "status": "IN_PROGRESS"})


# --------------------------------------------------------------------------------------------------
# Webhooks


def create_webhook(api: Api, request: Request, params: dict[str, str]) -> Reply:
    fields = parse_webhook(request.json(), partial=False, unknown_fields=api.settings.unknown_fields)
    return success(api.webhooks.create(fields).to_api(), status=201)


def get_webhooks(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success([webhook.to_api() for webhook in api.webhooks.all()])


def get_webhook_events(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(list(WEBHOOK_EVENTS))


def get_webhook_by_id(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.webhooks.get(params["webhook_id"]).to_api())


def replace_webhook(api: Api, request: Request, params: dict[str, str]) -> Reply:
    fields = parse_webhook(request.json(), partial=False, unknown_fields=api.settings.unknown_fields)
    return success(api.webhooks.update(params["webhook_id"], fields, replace=True).to_api())


def edit_webhook(api: Api, request: Request, params: dict[str, str]) -> Reply:
    fields = parse_webhook(request.json(), partial=True, unknown_fields=api.settings.unknown_fields)
    return success(api.webhooks.update(params["webhook_id"], fields, replace=False).to_api())


def delete_webhook(api: Api, request: Request, params: dict[str, str]) -> Reply:
    return success(api.webhooks.delete(params["webhook_id"]).to_api())


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
        _route("GET", "/sessions", "GetSessions", get_sessions),
        _route("GET", "/sessions/{session_id}", "GetSessionDetails", get_session_details),
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
        _route(
            "GET", "/sessions/{session_id}/transcript", "get_session_transcripts", get_session_transcripts
        ),
        _route("GET", "/sessions/{session_id}/summary", "get_session_summary", get_session_summary),
        _route(
            "POST",
            "/sessions/{session_id}/summary",
            "generate_summary_of_transcripts",
            generate_summary_of_transcripts,
        ),
        _route("POST", "/webhooks", "create_webhook", create_webhook),
        _route("GET", "/webhooks", "get_webhooks", get_webhooks),
        _route("GET", "/webhooks/all", "get_webhook_events", get_webhook_events),
        _route("GET", "/webhooks/{webhook_id}", "get_webhook_by_id", get_webhook_by_id),
        _route("PUT", "/webhooks/{webhook_id}", "replace_webhook", replace_webhook),
        _route("PATCH", "/webhooks/{webhook_id}", "edit_webhook", edit_webhook),
        _route("DELETE", "/webhooks/{webhook_id}", "delete_webhook", delete_webhook),
    ]
)
