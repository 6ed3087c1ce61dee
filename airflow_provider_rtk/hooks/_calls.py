"""The API calls both hooks send, and the readers that turn their answers into models.

One place for what a request looks like (:class:`_Calls`, :func:`_list_params`, :func:`_sessions_call`,
ids checked before they go into a path) and for how an answer is read (``_RECORDING``, ``_PAGE``, ...:
a wrongly shaped answer is a :class:`RealtimeKitBadAnswerError`, never a raw ``ValidationError``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_provider_rtk.arguments import optional_flag, transcript_format_argument
from airflow_provider_rtk.exceptions import FieldError, RealtimeKitBadAnswerError, RealtimeKitPayloadError
from airflow_provider_rtk.hooks._api import ApiCall, answer_shape, read_data, read_page, shaped
from airflow_provider_rtk.models import (
    ID_PATTERN,
    ActiveSession,
    Meeting,
    Recording,
    RecordingAction,
    RecordingPage,
    RecordingStatus,
    SessionPage,
    SessionSummary,
    SessionTranscript,
    Webhook,
    WebhookRequest,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import httpx

_ID_RE = re.compile(ID_PATTERN)


def _path_id(name: str, value: str) -> str:
    """An id that goes into a URL path: checked, so it cannot change the path."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise RealtimeKitPayloadError([FieldError(name, f"not a valid id: {value!r}")], what="request")
    return value


class _Calls:
    """Every API call this provider makes, once; both hooks send what these build."""

    @staticmethod
    def start_track_recording(body: dict[str, Any]) -> ApiCall:
        return ApiCall(
            "startTrackRecordingForAMeeting", "POST", "/recordings/track", json=body, repeatable=False
        )

    @staticmethod
    def get_recording(recording_id: str) -> ApiCall:
        return ApiCall("get_one_recording", "GET", f"/recordings/{_path_id('recording_id', recording_id)}")

    @staticmethod
    def list_recordings(params: dict[str, Any]) -> ApiCall:
        return ApiCall("get_all_recordings", "GET", "/recordings", params=params)

    @staticmethod
    def get_active_recording(meeting_id: str) -> ApiCall:
        path = f"/recordings/active-recording/{_path_id('meeting_id', meeting_id)}"
        return ApiCall("get_active_recording", "GET", path)

    @staticmethod
    def recording_action(recording_id: str, action: RecordingAction) -> ApiCall:
        path = f"/recordings/{_path_id('recording_id', recording_id)}"
        return ApiCall("pause_resume_stop_recording", "PUT", path, json={"action": action.value})

    @staticmethod
    def get_meeting(meeting_id: str) -> ApiCall:
        return ApiCall("get_meeting", "GET", f"/meetings/{_path_id('meeting_id', meeting_id)}")

    @staticmethod
    def create_meeting(body: dict[str, Any]) -> ApiCall:
        return ApiCall("create_meeting", "POST", "/meetings", json=body, repeatable=False)

    @staticmethod
    def get_active_session(meeting_id: str) -> ApiCall:
        path = f"/meetings/{_path_id('meeting_id', meeting_id)}/active-session"
        return ApiCall("GetActiveSession", "GET", path)

    @staticmethod
    def list_webhooks() -> ApiCall:
        return ApiCall("get_all_webhooks", "GET", "/webhooks")

    @staticmethod
    def get_webhook(webhook_id: str) -> ApiCall:
        return ApiCall("get_webhook", "GET", f"/webhooks/{_path_id('webhook_id', webhook_id)}")

    @staticmethod
    def create_webhook(request: WebhookRequest) -> ApiCall:
        return ApiCall("add_webhook", "POST", "/webhooks", json=request.model_dump(), repeatable=False)

    @staticmethod
    def replace_webhook(webhook_id: str, request: WebhookRequest) -> ApiCall:
        path = f"/webhooks/{_path_id('webhook_id', webhook_id)}"
        return ApiCall("replace_webhook", "PUT", path, json=request.model_dump())

    @staticmethod
    def delete_webhook(webhook_id: str) -> ApiCall:
        return ApiCall("delete_webhook", "DELETE", f"/webhooks/{_path_id('webhook_id', webhook_id)}")


def _list_params(
    *,
    meeting_id: str | None = None,
    status: str | list[str] | list[RecordingStatus] | None = None,
    page_no: int | None = None,
    per_page: int | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
    start_time: datetime | str | None = None,
    end_time: datetime | str | None = None,
    expired: bool | None = None,
    search: str | None = None,
) -> dict[str, Any]:
    """Query parameters of ``get_all_recordings`` (status as a comma list, times as ISO 8601)."""
    params: dict[str, Any] = {
        "meeting_id": meeting_id,
        "page_no": page_no,
        "per_page": per_page,
        "sort_by": sort_by,
        "sort_order": sort_order.upper() if sort_order else None,
        "search": search,
        "expired": None if expired is None else str(expired).lower(),
    }
    if status:
        params["status"] = ",".join(s.value for s in RecordingStatus.parse_many(status))
    for name, value in (("start_time", start_time), ("end_time", end_time)):
        params[name] = value.isoformat() if isinstance(value, datetime) else value
    return {name: value for name, value in params.items() if value is not None}


def _recording_from(data: Any) -> Recording:
    """Start answers wrap the recording (``data.recording``); the others are the recording itself."""
    if isinstance(data, dict) and isinstance(data.get("recording"), dict):
        data = data["recording"]
    return Recording.model_validate(data)


def _holds_recording(data: Any) -> bool:
    """Whether a start answer carries the recording (the legacy API answers with nothing)."""
    return isinstance(data, dict) and (isinstance(data.get("recording"), dict) or "id" in data)


def _read_recording_page(
    response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()
) -> RecordingPage:
    """A list answer, read leniently (an item the models reject is skipped, see
    :meth:`RecordingPage.from_answer`); more items than ``per_page`` asked for is a wrong answer."""
    data, paging = read_page(response, call, secrets)
    most = (call.params or {}).get("per_page")
    with answer_shape(call, response.status_code):
        try:
            return RecordingPage.from_answer(data, paging, most=most if isinstance(most, int) else None)
        except ValidationError:
            raise
        except ValueError as error:  # more items than asked for: say so
            raise RealtimeKitBadAnswerError(
                str(error), operation=call.operation, status_code=response.status_code
            ) from None


#: Readers for ``_call``: the answer as a model; a wrongly shaped answer is a RealtimeKitAPIError.
_RECORDING = shaped(_recording_from)
_PAGE = _read_recording_page
_MEETING = shaped(Meeting.model_validate)
_SESSION = shaped(ActiveSession.model_validate)
_WEBHOOK = shaped(Webhook.model_validate)


def _webhooks_from(data: Any) -> list[Webhook]:
    if not isinstance(data, list):
        raise ValueError("the webhooks answer is not a list")
    return [Webhook.model_validate(item) for item in data]


_WEBHOOKS = shaped(_webhooks_from)


# --------------------------------------------------------------------------------------------------
# Sessions (``GET /sessions``): read-only, for the live-meeting watcher.

#: Values ``GET /sessions`` accepts for its enumerated filters.
_SESSION_FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "status": ("LIVE", "ENDED"),
    "sort_by": ("createdAt", "minutesConsumed"),
    "sort_order": ("ASC", "DESC"),
}
_SESSION_FILTERS = ("status", "associated_id", "page_no", "per_page", "sort_by", "sort_order", "search")


def _sessions_call(filters: Mapping[str, Any]) -> ApiCall:
    """``GetSessions`` with checked query parameters; a bad one is a field error, nothing is sent."""
    problems: list[FieldError] = []
    params: dict[str, Any] = {}
    for name, value in filters.items():
        if name not in _SESSION_FILTERS:
            problems.append(
                FieldError(name, f"is not a filter of GET /sessions ({', '.join(_SESSION_FILTERS)})")
            )
        elif value is None:
            continue
        elif name in ("page_no", "per_page"):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                problems.append(FieldError(name, f"must be a whole number from 1 to 1000, not {value!r}"))
            params[name] = value
        elif name in _SESSION_FILTER_CHOICES:
            choices = _SESSION_FILTER_CHOICES[name]
            text = str(value).strip()
            chosen = next((choice for choice in choices if choice.lower() == text.lower()), None)
            if chosen is None:
                problems.append(FieldError(name, f"must be one of {', '.join(choices)}, not {value!r}"))
            params[name] = chosen
        elif name == "associated_id":
            if not isinstance(value, str) or not _ID_RE.fullmatch(value):
                problems.append(FieldError(name, f"must be a meeting id, not {value!r}"))
            params[name] = value
        else:
            params[name] = str(value)
    if problems:
        raise RealtimeKitPayloadError(problems, what="GET /sessions request")
    return ApiCall("GetSessions", "GET", "/sessions", params=params)


def _session_page_from(payload: tuple[Any, dict[str, Any]]) -> SessionPage:
    data, paging = payload
    return SessionPage.from_answer(data, paging)


def _session_call(session_id: str) -> ApiCall:
    """``GetSessionDetails``: one session, live or ended."""
    return ApiCall("GetSessionDetails", "GET", f"/sessions/{_path_id('session_id', session_id)}")


def _read_session_page(
    response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()
) -> tuple[Any, dict[str, Any]]:
    """``data`` (an object holding ``sessions``) and ``paging`` of a ``GetSessions`` answer."""
    data = read_data(response, call, secrets)
    payload = response.json() if response.content else {}
    paging = payload.get("paging") if isinstance(payload, dict) else None
    return data, paging if isinstance(paging, dict) else {}


_SESSION_PAGE = shaped(_session_page_from, _read_session_page)


# --------------------------------------------------------------------------------------------------
# Post-meeting files of a session: ``GetSessionTranscripts`` and ``GetSessionSummary``, each answering
# ``data`` with a download link and its expiry (developers.cloudflare.com/api/resources/realtime_kit/
# subresources/sessions/methods/get_session_transcripts and .../get_session_summary).


def meeting_body(
    title: str | None, *, transcribe_on_end: bool | None = None, summarize_on_end: bool | None = None
) -> dict[str, Any]:
    """The body of ``create_meeting``: the title and the post-meeting flags that are set (checked)."""
    flags = {
        "transcribe_on_end": optional_flag("transcribe_on_end", transcribe_on_end),
        "summarize_on_end": optional_flag("summarize_on_end", summarize_on_end),
    }
    body = {} if title is None else {"title": title}
    return body | {name: flag for name, flag in flags.items() if flag is not None}


def _transcript_call(session_id: str, file_format: str | None = None) -> ApiCall:
    """``GetSessionTranscripts``; ``format`` only when asked for (checked), else the default CSV."""
    path = f"/sessions/{_path_id('session_id', session_id)}/transcript"
    chosen = transcript_format_argument(file_format, what="request")
    return ApiCall("GetSessionTranscripts", "GET", path, params={"format": chosen} if chosen else None)


def _summary_call(session_id: str) -> ApiCall:
    return ApiCall("GetSessionSummary", "GET", f"/sessions/{_path_id('session_id', session_id)}/summary")


#: ``data`` as the model; an answer with no ``data`` at all holds no link yet.
_TRANSCRIPT = shaped(lambda data: SessionTranscript.model_validate({} if data is None else data))
_SUMMARY = shaped(lambda data: SessionSummary.model_validate({} if data is None else data))
