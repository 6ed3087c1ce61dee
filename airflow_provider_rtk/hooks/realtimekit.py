"""Hooks holding a RealtimeKit connection: :class:`RealtimeKitHook` (sync) and its async twin for triggers."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from airflow.providers.common.compat.sdk import BaseHook
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, Retrying

from airflow_provider_rtk import redaction
from airflow_provider_rtk.exceptions import (
    FieldError,
    RealtimeKitAPIError,
    RealtimeKitConnectionConfigError,
    RealtimeKitMeetingBusyError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
    RealtimeKitStartOutcomeUnknownError,
    RealtimeKitTransportError,
)
from airflow_provider_rtk.get_provider_info import CONN_FIELDS, CONNECTION_TYPE, UI_FIELD_BEHAVIOUR
from airflow_provider_rtk.hooks import connection_cache
from airflow_provider_rtk.hooks._api import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    USER_AGENT,
    ApiCall,
    HttpRetryPolicy,
    Limits,
    RealtimeKitBadAnswerError,
    answer_shape,
    hold_to_deadlines,
    read_data,
    read_page,
    send_bounded,
    send_bounded_async,
    shaped,
)
from airflow_provider_rtk.hooks.pool import (
    acquire_async_client,
    acquire_sync_client,
    release_async_client,
    release_sync_client,
)
from airflow_provider_rtk.links import RECORDING_LINK_EXTRA, check_link_template
from airflow_provider_rtk.models import (
    ID_PATTERN,
    ActiveSession,
    Meeting,
    Paging,
    Recording,
    RecordingAction,
    RecordingPage,
    RecordingStatus,
    TrackRecordingRequest,
    parse_track_request,
)
from airflow_provider_rtk.ownership import CLOCK_SKEW, Knowledge, StartOutcome

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence

    from airflow.sdk import Connection

DEFAULT_TIMEOUT = 30.0
_ID_RE = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class ConnectionSettings:
    """What a RealtimeKit connection holds, checked. The token never appears in a repr."""

    base_url: str
    account_id: str
    app_id: str
    api_token: str = field(repr=False)
    #: Optional extras: seconds per request, and attempts per call (retries + 1).
    timeout: float | None = None
    max_attempts: int | None = None
    #: Optional extra: the largest answer read, in bytes (default 4 MiB).
    max_response_bytes: int | None = None
    #: Optional extra ``recording_link``: where a recording can be looked at (see ``links``).
    recording_link: str | None = None
    #: Optional extra ``second_start``: what the service does with a track start while the meeting is
    #: being recorded. ``"unknown"`` (the default) or ``"accepted"``: after each accepted start the
    #: operator reads the meeting's active recording, so two racing starts converge (one request
    #: more). ``"refused"``: the service answers such a start with a refusal, which already
    #: converges races, so that read is skipped.
    second_start: str = "unknown"

    @property
    def app_url(self) -> str:
        return f"{self.base_url}/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    @classmethod
    def from_connection(cls, conn: Connection) -> ConnectionSettings:
        """Read and check an Airflow connection before any request; the error names every bad field
        and the connection id, and never shows the token."""
        extra = conn.extra_dejson
        problems: list[str] = []
        if not isinstance(extra, dict):
            problems.append("extra must be a JSON object")
            extra = {}
        missing = [f"extra.{name}" for name in CONN_FIELDS if _blank(extra.get(name))]
        token = conn.password.strip() if isinstance(conn.password, str) else ""
        if not token:
            missing.insert(0, "password (the API token)")
        if missing:
            problems.insert(0, f"is missing {', '.join(missing)}")
        ids = {name: _path_segment(name, extra.get(name), problems) for name in CONN_FIELDS}
        if token:
            _check_token(token, problems)
        try:
            base_url = _base_url(conn.host, conn.port)
        except ValueError as error:
            problems.append(str(error))
            base_url = DEFAULT_BASE_URL
        numbers = {
            name: _positive_extra(conn, name, kind, problems=problems)
            for name, kind in (("timeout", float), ("max_attempts", int), ("max_response_bytes", int))
        }
        try:
            recording_link = check_link_template(extra.get(RECORDING_LINK_EXTRA))
        except RealtimeKitConnectionConfigError as error:
            problems.append(str(error))
            recording_link = None
        second_start = _choice_extra(extra, "second_start", SECOND_START_CHOICES, problems)
        if problems:
            raise RealtimeKitConnectionConfigError(_connection_problem(conn.conn_id, problems))
        return cls(
            base_url=base_url,
            account_id=ids["account_id"],
            app_id=ids["app_id"],
            api_token=token,
            recording_link=recording_link,
            second_start=second_start,
            **numbers,
        )

    @property
    def second_start_refused(self) -> bool:
        """The connection says the service refuses a start while the meeting is being recorded."""
        return self.second_start == "refused"


#: Values of extra ``second_start``; the first is the default.
SECOND_START_CHOICES = ("unknown", "accepted", "refused")


def _choice_extra(extra: Mapping[str, Any], name: str, choices: Sequence[str], problems: list[str]) -> str:
    """An optional extra that is one of ``choices`` (case and surrounding blanks ignored); the first
    when it is not set. A wrong value is appended to ``problems``, naming ``extra.<name>``."""
    value = extra.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return choices[0]
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    allowed = ", ".join(repr(choice) for choice in choices)
    problems.append(f"extra.{name} must be one of {allowed}, not {str(value)[:40]!r}")
    return choices[0]


def _connection_problem(conn_id: str | None, problems: list[str]) -> str:
    if problems[0].startswith("is missing"):
        first, rest = problems[0], problems[1:]
        return redaction.redact(
            f"RealtimeKit connection {conn_id!r} {first}" + "".join(f"; {item}" for item in rest)
        )
    return redaction.redact(f"RealtimeKit connection {conn_id!r}: {'; '.join(problems)}")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: An account or app id goes into the URL path: one segment, nothing to escape, no dot segments.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}")


def _path_segment(name: str, value: Any, problems: list[str]) -> str:
    """``extra.<name>`` as one URL path segment (no ``/ ? # %``, ``..`` or whitespace), else a problem."""
    if _blank(value):
        return ""  # reported as missing
    if not isinstance(value, str):
        problems.append(f"extra.{name} must be text (a JSON string), not {type(value).__name__}")
        return ""
    text = value.strip()
    if not _SEGMENT_RE.fullmatch(text) or ".." in text:
        problems.append(
            f"extra.{name} must be one URL path segment (letters, digits, '-', '_', '.', '~'; no '/', "
            f"'?', '#', '%', '..' or whitespace), not {text[:80]!r}"
        )
        return ""
    return text


def _check_token(token: str, problems: list[str]) -> None:
    """The token goes into a header: printable ASCII only (it is never quoted back)."""
    bad = next((index for index, char in enumerate(token) if not 33 <= ord(char) <= 126), None)
    if bad is not None:
        problems.append(
            f"password (the API token) must be printable ASCII without spaces or control characters "
            f"(character {bad + 1} of {len(token)} is not; the token is not shown)"
        )


#: Allowed ranges of the numeric extras: (minimum, maximum), and whether a fraction makes sense.
_EXTRA_RANGES: dict[str, tuple[float, float]] = {
    "timeout": (0.001, 3600.0),
    "max_attempts": (1, 100),
    "max_response_bytes": (1024, 1024**3),
}


def _positive_extra(
    conn: Connection, name: str, kind: type[float] | type[int], *, problems: list[str] | None = None
) -> Any:
    """An optional positive number from the connection's extra (a number or numeric text): finite,
    in range, and whole when ``kind`` is ``int``. The error names ``extra.<name>`` and the connection;
    with ``problems`` it is appended there instead of raised."""
    extra = conn.extra_dejson if isinstance(conn.extra_dejson, dict) else {}
    value = extra.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    low, high = _EXTRA_RANGES.get(name, (0.0, math.inf))
    number: float | None = None
    if not isinstance(value, bool) and isinstance(value, int | float | str):
        try:
            number = float(value)
        except ValueError:
            number = None
    problem = None
    if number is None or not math.isfinite(number):
        problem = f"extra.{name} must be a finite number, not {str(value)[:40]!r}"
    elif kind is int and not number.is_integer():
        problem = f"extra.{name} must be a whole number, not {value!r}"
    elif not low <= number <= high:
        problem = f"extra.{name} must be between {low:g} and {high:g}, not {value!r}"
    if problem is None:
        return int(number) if kind is int else number  # type: ignore[arg-type]
    if problems is None:
        raise RealtimeKitConnectionConfigError(f"RealtimeKit connection {conn.conn_id!r}: {problem}")
    problems.append(problem)
    return None


def _base_url(host: str | None, port: int | None) -> str:
    """The connection's host as a base URL: any scheme (http, https), host, port and path prefix;
    ``https://`` when no scheme is written. ``ValueError`` names ``host`` (user info is never shown)."""
    if not host or not host.strip():
        return DEFAULT_BASE_URL
    url = host.strip().rstrip("/")
    if any(not char.isprintable() or char.isspace() for char in url):
        raise ValueError("host must not hold whitespace or control characters")
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ValueError(
            "host must not hold user info (user:password@): the API token goes in the password field"
        )
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"host must start with http:// or https://, not {parts.scheme[:20]!r}://")
    if not parts.hostname:
        raise ValueError(f"host has no host name: {url[:100]!r}")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("host must not have a query (?) or fragment (#)")
    try:
        written_port = parts.port
    except ValueError:
        raise ValueError(f"host has an invalid port: {parts.netloc[:100]!r}") from None
    if port is not None and not (isinstance(port, int) and 1 <= port <= 65_535):
        raise ValueError(f"port must be between 1 and 65535, not {port!r}")
    if port and written_port is None:
        url = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    return url


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


def _action_already_done(recording: Recording, action: RecordingAction) -> bool:
    """Whether a recording is already where ``action`` would take it (so repeating it is a no-op)."""
    if action is RecordingAction.STOP:
        return not recording.status.is_capturing
    wanted = RecordingStatus.PAUSED if action is RecordingAction.PAUSE else RecordingStatus.RECORDING
    return recording.status is wanted


def _outcome_unknown(
    meeting_id: str,
    error: RealtimeKitAPIError,
    lookup_error: RealtimeKitAPIError,
    accepted_at: datetime | None = None,
) -> RealtimeKitStartOutcomeUnknownError:
    return RealtimeKitStartOutcomeUnknownError(
        f"the start for meeting {meeting_id} {error} and whether a recording started is unknown: "
        f"reading the active recording failed too ({lookup_error}); not sending it again",
        status_code=error.status_code,
        operation="startTrackRecordingForAMeeting",
        meeting_id=meeting_id,
        accepted_at=accepted_at,
    )


def _busy(meeting_id: str, active: Recording, error: RealtimeKitAPIError) -> RealtimeKitMeetingBusyError:
    return RealtimeKitMeetingBusyError(
        f"meeting {meeting_id} already has active recording {active.id} (invoked {active.invoked_time}), "
        f"which this request did not start; the start failed: {error}",
        active=active,
        status_code=409,
        operation=error.operation,
    )


def _is_busy_refusal(error: RealtimeKitAPIError) -> bool:
    """A refusal that may mean "the meeting is already being recorded" (undocumented: 400 or 409)."""
    return error.status_code in (400, 409, 422)


def _is_refusal(error: RealtimeKitAPIError) -> bool:
    """A 4xx that may just mean "already done" (not 404: the recording is unknown; not 429)."""
    status = error.status_code
    return status is not None and 400 <= status < 500 and status not in (404, 429)


def _started_since(recording: Recording, sent_at: datetime) -> bool:
    """Whether a recording was invoked by a request sent at ``sent_at`` (allowing for clock skew);
    one with no ``invoked_time`` is taken to be."""
    return recording.invoked_time is None or recording.invoked_since(sent_at - CLOCK_SKEW)


def _maybe_took_effect(error: RealtimeKitAPIError) -> bool:
    """After this failure, may the service have acted anyway? (timeouts, dropped answers, 5xx)"""
    if isinstance(error, RealtimeKitTransportError):
        return error.maybe_delivered
    return error.status_code is not None and error.status_code >= 500


class _HookBase(BaseHook):
    """Connection handling shared by both hooks."""

    conn_name_attr = "realtimekit_conn_id"
    default_conn_name = "realtimekit_default"
    conn_type = CONNECTION_TYPE
    hook_name = "Cloudflare RealtimeKit"

    def __init__(
        self,
        realtimekit_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry_policy: HttpRetryPolicy | None = None,
    ) -> None:
        super().__init__()
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.realtimekit_conn_id = realtimekit_conn_id
        self.timeout = timeout
        self.retry_policy = retry_policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(realtimekit_conn_id={self.realtimekit_conn_id!r})"

    _secrets: tuple[str, ...] = ()

    def _client_options(self, settings: ConnectionSettings) -> dict[str, Any]:
        """``httpx`` client arguments: the app's URL, bearer auth, per-operation timeouts, and no
        redirects followed (the token must not go where a redirect points)."""
        _mask(settings.api_token)
        self._secrets = (settings.api_token,)
        timeout = self._limits(settings).timeout
        return {
            "base_url": settings.app_url,
            "headers": {"Authorization": f"Bearer {settings.api_token}", "User-Agent": USER_AGENT},
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            "follow_redirects": False,
        }

    def _limits(self, settings: ConnectionSettings) -> Limits:
        """One request's bounds: its overall deadline (the hook's ``timeout``, else extra ``timeout``,
        else 30 s) and the largest answer read (extra ``max_response_bytes``, else 4 MiB)."""
        return Limits(
            timeout=self.timeout or settings.timeout or DEFAULT_TIMEOUT,
            max_response_bytes=settings.max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES,
        )

    def _checked(self, response: httpx.Response) -> httpx.Response:
        """An answer refusing the token (401, 403) drops the kept lookups of the connection, so the
        next hook reads it again (a rotated token)."""
        if response.status_code in (401, 403):
            connection_cache.forget(self.realtimekit_conn_id)
        return response

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "RealtimeKit call failed (%s); attempt %d, retrying in %.1fs", error, state.attempt_number, wait
        )

    def _retrying_kwargs(self, settings: ConnectionSettings) -> dict[str, Any]:
        """Tenacity arguments: the hook's policy, else one with the connection's ``max_attempts``."""
        policy = self.retry_policy
        if policy is None:
            policy = (
                HttpRetryPolicy(max_attempts=settings.max_attempts)
                if settings.max_attempts
                else HttpRetryPolicy()
            )
        return {**policy.tenacity_kwargs(), "before_sleep": self._log_retry}


def _mask(secret: str) -> None:
    """Remember a secret: redacted (in every escaped form) from every error this provider raises,
    and registered with Airflow's masker, so no log line can show it."""
    redaction.remember(secret)


class RealtimeKitHook(_HookBase):
    """Talks to the RealtimeKit API with the ``realtimekit`` connection ``realtimekit_conn_id``.

    One ``httpx.Client`` per hook, reused across calls; bearer auth; repeatable calls are retried on
    429 (honouring ``Retry-After``), 5xx and transport errors. Starting a recording is never blindly
    repeated: after an ambiguous failure the hook asks the service whether it started one.

    :param realtimekit_conn_id: the Airflow connection (password: API token; extra: account_id, app_id).
    :param timeout: seconds for each HTTP request (default: extra ``timeout``, else 30).
    :param retry_policy: how often and how long to retry (see :class:`HttpRetryPolicy`; default: extra
        ``max_attempts`` attempts, else 5).
    """

    # UI form, Airflow 3.0/3.1 (3.2+ reads conn-fields / ui-field-behaviour from the provider info).
    # Defined on this class itself: the providers manager only reads a hook's own methods.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Account id and app id as labelled fields (needs the FAB UI packages; empty without them)."""
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from wtforms import StringField
            from wtforms.validators import InputRequired
        except ImportError:
            return {}
        return {
            name: StringField(spec["label"], widget=BS3TextFieldWidget(), validators=[InputRequired()])
            for name, spec in CONN_FIELDS.items()
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection, checked (kept a short while per process: see :mod:`.connection_cache`)."""
        conn_id = self.realtimekit_conn_id
        return connection_cache.settings_for(
            conn_id, lambda: ConnectionSettings.from_connection(self.get_connection(conn_id))
        )

    @cached_property
    def client(self) -> httpx.Client:
        """The process's shared client for this connection (see :mod:`~airflow_provider_rtk.hooks.pool`)."""
        return hold_to_deadlines(acquire_sync_client(self._client_options(self.settings)))

    def get_conn(self) -> httpx.Client:
        return self.client

    def close(self) -> None:
        """Let go of the shared client (it stays open for the process's next hook of the connection)."""
        if "client" in self.__dict__:
            release_sync_client(self.__dict__.pop("client"))

    def __enter__(self) -> RealtimeKitHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- transport

    def _send(self, call: ApiCall) -> httpx.Response:
        """Send one request, bounded: an overall deadline and a size cap (see :class:`Limits`).
        The answer is read whole; errors are :class:`RealtimeKitAPIError` subclasses."""
        return self._checked(send_bounded(self.client, call, self._limits(self.settings)))

    def _call(self, call: ApiCall, reader: Callable[..., Any] = read_data) -> Any:
        """Send a call, retrying if it is repeatable; return what ``reader`` makes of the answer."""
        if not call.repeatable:
            return reader(self._send(call), call, self._secrets)
        for attempt in Retrying(**self._retrying_kwargs(self.settings)):
            with attempt:
                return reader(self._send(call), call, self._secrets)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    # ---------------------------------------------------------------------------------- recordings

    def start_track_recording(
        self,
        request: TrackRecordingRequest | Mapping[str, Any],
        *,
        meeting_was_idle: bool = False,
        on_outcome: Callable[[StartOutcome], None] | None = None,
    ) -> StartOutcome:
        """Start a track recording; return what it led to and how the caller knows it.

        ``STARTED`` when the answer carries the recording (or, for the legacy empty 200, when
        ``meeting_was_idle`` says the meeting had no active recording just before and one appeared
        right after). After a timeout, a dropped connection or a 5xx, the meeting's active recording
        is read: one invoked since is returned as ``BELIEVED`` (never to be stopped by the caller),
        and only if there is none is the start sent again. A refusal while another recording is
        active raises :class:`RealtimeKitMeetingBusyError` carrying it. ``on_outcome`` is called the
        instant the outcome is known, before anything else happens (a write-ahead journal's hook).
        """
        request = parse_track_request(request)
        for secret in request.secret_values():
            _mask(secret)
        call = _Calls.start_track_recording(request.to_api_body())
        meeting_id = request.meeting_id
        sent_at = first_uncertain = datetime.now(UTC)
        uncertain = False  # may an earlier attempt have started a recording?
        data: Any = None
        for attempt in Retrying(**self._retrying_kwargs(self.settings)):
            with attempt:
                sent_at = datetime.now(UTC)
                try:
                    data = read_data(self._send(call), call, self._secrets)
                except RealtimeKitAPIError as error:
                    if _maybe_took_effect(error):
                        if not uncertain:
                            uncertain, first_uncertain = True, sent_at
                        believed = self._reconcile_ambiguous_start(meeting_id, first_uncertain, error)
                        if believed is not None:
                            return self._learnt(believed, on_outcome)
                    elif _is_busy_refusal(error):
                        adopted = self._after_refusal(
                            meeting_id, error, first_uncertain if uncertain else None
                        )
                        if adopted is not None:
                            return self._learnt(adopted, on_outcome)
                    raise  # nothing was started: safe to send again (if the error is retryable)
        if _holds_recording(data):
            with answer_shape(call):  # a wrong shape is an ambiguous answer, not a raw ValidationError
                started = _recording_from(data)
            outcome = StartOutcome(started, Knowledge.STARTED, "the id came in the start's answer")
            return self._learnt(outcome, on_outcome)
        return self._learnt(self._legacy_outcome(meeting_id, sent_at, meeting_was_idle), on_outcome)

    def _learnt(
        self, outcome: StartOutcome, on_outcome: Callable[[StartOutcome], None] | None
    ) -> StartOutcome:
        """Hand the outcome to ``on_outcome`` first (the caller's journal), then log it."""
        if on_outcome is not None:
            on_outcome(outcome)
        self.log.info("Recording %s is %s: %s", outcome.recording.id, outcome.knowledge.value, outcome.how)
        return outcome

    def _watch_active(self, meeting_id: str, seconds: float, error: RealtimeKitAPIError) -> Recording | None:
        """The meeting's active recording, watched for up to ``seconds`` until one shows; raises
        :class:`RealtimeKitStartOutcomeUnknownError` if it cannot even be read."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                active = self.get_active_recording(meeting_id)
            except RealtimeKitAPIError as lookup_error:
                raise _outcome_unknown(meeting_id, error, lookup_error) from lookup_error
            if active is not None or time.monotonic() >= deadline:
                return active
            time.sleep(0.5)

    def _reconcile_ambiguous_start(
        self, meeting_id: str, sent_at: datetime, error: RealtimeKitAPIError
    ) -> StartOutcome | None:
        """After a start that may have worked: the recording it may have started (``BELIEVED``), or
        ``None`` if none is active (then the start may be resent).

        After a timeout (ours, or a gateway's 504) the service may still be working on the request, so
        the meeting is watched for as long again as the request was given. A recording that was active
        before the request is another's: :class:`RealtimeKitMeetingBusyError`.
        """
        in_progress = error.status_code == 504 or (
            isinstance(error, RealtimeKitTransportError) and error.maybe_in_progress
        )
        watch = (self.client.timeout.read or DEFAULT_TIMEOUT) if in_progress else 0.0
        active = self._watch_active(meeting_id, watch, error)
        if active is None:
            self.log.warning("Start for meeting %s failed (%s); no recording is active", meeting_id, error)
            return None
        if not _started_since(active, sent_at):
            raise _busy(meeting_id, active, error)
        return StartOutcome(
            active,
            Knowledge.BELIEVED,
            f"the start's answer was lost ({error}); recording {active.id} became active since",
        )

    def _after_refusal(
        self, meeting_id: str, error: RealtimeKitAPIError, uncertain_since: datetime | None
    ) -> StartOutcome | None:
        """A refused start. After an earlier ambiguous attempt, a recording active since is that
        attempt's (``BELIEVED``); any other active recording is why the start was refused
        (:class:`RealtimeKitMeetingBusyError`); ``None`` when none is active (the refusal stands)."""
        try:
            active = self.get_active_recording(meeting_id)
        except RealtimeKitAPIError:
            return None
        if active is None:
            return None
        if uncertain_since is not None and _started_since(active, uncertain_since):
            how = f"a resent start was refused ({error}); recording {active.id} is the first attempt's"
            return StartOutcome(active, Knowledge.BELIEVED, how)
        raise _busy(meeting_id, active, error)

    #: How long the legacy start (200, no body) may take to show the new recording as active.
    legacy_start_wait = 15.0

    def _legacy_outcome(self, meeting_id: str, sent_at: datetime, meeting_was_idle: bool) -> StartOutcome:
        """The legacy start answers 200 with no body: find the new recording among the meeting's
        recordings (:meth:`legacy_start_outcome`). The start took effect, so whatever goes wrong here
        must not send it again."""
        accepted = RealtimeKitAPIError("was accepted (200, no body)", status_code=200)
        deadline = time.monotonic() + self.legacy_start_wait
        while True:
            try:
                outcome = self.legacy_start_outcome(meeting_id, sent_at, meeting_was_idle=meeting_was_idle)
            except RealtimeKitAPIError as lookup_error:
                raise _outcome_unknown(meeting_id, accepted, lookup_error, sent_at) from lookup_error
            if outcome is not None:
                return outcome
            if time.monotonic() >= deadline:
                raise RealtimeKitStartOutcomeUnknownError(
                    f"the service accepted the start for meeting {meeting_id} (200, no body), but no new "
                    f"recording appeared within {self.legacy_start_wait:g}s; not sending it again",
                    status_code=200,
                    operation="startTrackRecordingForAMeeting",
                    meeting_id=meeting_id,
                    accepted_at=sent_at,
                )
            time.sleep(1.0)

    #: How many of a meeting's newest recordings a legacy start reads to find its own.
    legacy_start_page = 20

    def legacy_start_outcome(
        self, meeting_id: str, sent_at: datetime, *, meeting_was_idle: bool
    ) -> StartOutcome | None:
        """What a legacy start (200, no body) sent at ``sent_at`` led to; ``None`` while no recording
        of the meeting invoked since (allowing for clock skew) is capturing.

        ``STARTED`` only when the evidence excludes every other client's start: the meeting had no
        active recording just before (``meeting_was_idle``) and exactly one recording of the meeting
        was invoked since this start was sent (another client's start in that window would show as a
        second one; so does a recording that ended within the skew allowance), and the list held no item
        it could not read (that one may be another's). Anything weaker is
        ``BELIEVED``: the newest capturing such recording is followed (the one least likely to be
        another task's, as a task that listed earlier saw fewer), never stopped.
        """
        page = self.list_recordings(
            meeting_id=meeting_id,
            sort_by="invokedTime",
            sort_order="DESC",
            per_page=self.legacy_start_page,
        )
        since = [
            r for r in page.recordings if r.meeting_id in (None, meeting_id) and _started_since(r, sent_at)
        ]
        capturing = [r for r in since if r.status.is_capturing]
        if not capturing:  # this start's recording is not listed yet (or ended at once: never taken)
            return None
        newest = capturing[0]
        # an item the models could not read may be another client's recording invoked since
        if meeting_was_idle and len(since) == 1 and not page.unreadable:
            how = (
                f"legacy start (200, no body): the meeting had no recording before, and {newest.id} "
                "is the only one invoked since"
            )
            return StartOutcome(newest, Knowledge.STARTED, how)
        others = ", ".join(r.id for r in since if r is not newest)
        if others:
            doubt = f"{others} too (another client may have started one)"
        elif page.unreadable:
            doubt = f"the list held {len(page.unreadable)} recording(s) it could not read"
        else:
            doubt = "the meeting was not idle"
        how = f"legacy start (200, no body); {newest.id} is the newest recording invoked since, but {doubt}"
        return StartOutcome(newest, Knowledge.BELIEVED, how)

    def get_recording(self, recording_id: str) -> Recording:
        return self._call(_Calls.get_recording(recording_id), _RECORDING)  # type: ignore[no-any-return]

    def list_recordings(self, **filters: Any) -> RecordingPage:
        """One page of recordings. Filters: ``meeting_id``, ``status`` (list or comma text), ``page_no``,
        ``per_page``, ``sort_by``, ``sort_order``, ``start_time``, ``end_time``, ``expired``, ``search``."""
        return self._call(_Calls.list_recordings(_list_params(**filters)), _PAGE)  # type: ignore[no-any-return]

    def iter_recordings(self, per_page: int = 100, **filters: Any) -> Iterator[Recording]:
        """Every recording matching the filters, page after page."""
        page_no = 1
        while True:
            page = self.list_recordings(page_no=page_no, per_page=per_page, **filters)
            yield from page.recordings
            if not page.recordings or page.paging.end_offset >= page.paging.total_count:
                return
            page_no += 1

    def get_active_recording(self, meeting_id: str) -> Recording | None:
        """The meeting's active recording, or ``None`` when it has none."""
        try:
            return self._call(_Calls.get_active_recording(meeting_id), _RECORDING)  # type: ignore[no-any-return]
        except RealtimeKitNotFoundError:
            return None

    def recording_action(self, recording_id: str, action: RecordingAction | str) -> Recording:
        """Stop, pause or resume a recording. Repeating an action that already took effect is a no-op."""
        action = RecordingAction(action)
        try:
            return self._call(_Calls.recording_action(recording_id, action), _RECORDING)  # type: ignore[no-any-return]
        except RealtimeKitAPIError as error:
            if not _is_refusal(error):
                raise
            current = self.get_recording(recording_id)
            if _action_already_done(current, action):
                self.log.info(
                    "Recording %s is already %s; nothing to %s",
                    recording_id,
                    current.status.value,
                    action.value,
                )
                return current
            raise

    def stop_recording(self, recording_id: str) -> Recording:
        return self.recording_action(recording_id, RecordingAction.STOP)

    def pause_recording(self, recording_id: str) -> Recording:
        return self.recording_action(recording_id, RecordingAction.PAUSE)

    def resume_recording(self, recording_id: str) -> Recording:
        return self.recording_action(recording_id, RecordingAction.RESUME)

    # ---------------------------------------------------------------------------------- meetings

    def get_meeting(self, meeting_id: str) -> Meeting:
        return self._call(_Calls.get_meeting(meeting_id), _MEETING)  # type: ignore[no-any-return]

    def create_meeting(self, title: str | None = None, **fields: Any) -> Meeting:
        """Create a meeting (not retried: a lost answer could mean two meetings)."""
        body = {"title": title, **fields} if title is not None else dict(fields)
        return self._call(_Calls.create_meeting(body), _MEETING)  # type: ignore[no-any-return]

    def get_active_session(self, meeting_id: str) -> ActiveSession | None:
        """The meeting's live session, or ``None`` when nobody is in it."""
        try:
            return self._call(_Calls.get_active_session(meeting_id), _SESSION)  # type: ignore[no-any-return]
        except RealtimeKitNotFoundError:
            return None

    def test_connection(self) -> tuple[bool, str]:
        """A real, read-only call (list one recording), sent once: on an unreachable host it answers
        within one request timeout, with no retries. The message never shows the token."""
        try:
            call = _Calls.list_recordings({"per_page": 1})
            page: RecordingPage = _PAGE(self._send(call), call, self._secrets)
        except Exception as error:
            return False, redaction.redact(str(error), self._secrets)
        return (
            True,
            f"Connected to RealtimeKit app {self.settings.app_id}: {page.paging.total_count} recordings",
        )

    # ---------------------------------------------------------------------------------- sessions

    def list_sessions(self, **filters: Any) -> SessionPage:
        """One page of the app's sessions (``GET /sessions``, read-only). Filters: ``status``
        (``LIVE``/``ENDED``), ``associated_id`` (a meeting id), ``page_no``, ``per_page``, ``sort_by``
        (``createdAt``/``minutesConsumed``), ``sort_order`` and ``search``; checked before any request."""
        return self._call(_sessions_call(filters), _SESSION_PAGE)  # type: ignore[no-any-return]

    def get_session(self, session_id: str) -> ActiveSession:
        """One session of the app, live or ended (``GET /sessions/{session_id}``); 404 when unknown."""
        return self._call(_session_call(session_id), _SESSION)  # type: ignore[no-any-return]

    def iter_sessions(self, per_page: int = 100, **filters: Any) -> Iterator[ActiveSession]:
        """Every session matching the filters, page after page (oldest first unless ``sort_order``)."""
        filters.setdefault("sort_order", "ASC")
        page_no = 1
        while True:
            page = self.list_sessions(page_no=page_no, per_page=per_page, **filters)
            yield from page.sessions
            if page.is_last:
                return
            page_no += 1


class RealtimeKitAsyncHook(_HookBase):
    """The async path, for triggers: one ``httpx.AsyncClient`` per hook, connection read the async way.

    Close it with ``await hook.aclose()`` (or ``async with``).
    """

    _settings: ConnectionSettings | None = None
    _client: httpx.AsyncClient | None = None

    async def get_settings(self) -> ConnectionSettings:
        """The connection, checked (kept a short while per loop: see :mod:`.connection_cache`)."""
        if self._settings is None:
            conn_id = self.realtimekit_conn_id

            async def lookup() -> ConnectionSettings:
                return ConnectionSettings.from_connection(await _aget_connection(conn_id))

            self._settings = await connection_cache.asettings_for(conn_id, lookup)
        return self._settings

    async def get_client(self) -> httpx.AsyncClient:
        """The running loop's shared client for this connection, shared by every trigger and async
        hook of the loop (see :mod:`~airflow_provider_rtk.hooks.pool`)."""
        if self._client is None:
            self._client = acquire_async_client(self._client_options(await self.get_settings()))
        return self._client

    async def aclose(self) -> None:
        """Let go of the shared client; the loop's last user of it closes it."""
        if self._client is not None:
            client, self._client = self._client, None
            await release_async_client(client)

    async def __aenter__(self) -> RealtimeKitAsyncHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _call(self, call: ApiCall, reader: Callable[..., Any] = read_data) -> Any:
        """Send a call (bounded like the sync hook's), retrying if it is repeatable; return what
        ``reader`` makes of the answer."""
        client = await self.get_client()
        settings = await self.get_settings()
        limits = self._limits(settings)
        async for attempt in AsyncRetrying(**self._retrying_kwargs(settings)):
            with attempt:
                response = self._checked(await send_bounded_async(client, call, limits))
                return reader(response, call, self._secrets)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def get_recording(self, recording_id: str) -> Recording:
        return await self._call(_Calls.get_recording(recording_id), _RECORDING)  # type: ignore[no-any-return]

    async def get_active_session(self, meeting_id: str) -> ActiveSession | None:
        try:
            return await self._call(_Calls.get_active_session(meeting_id), _SESSION)  # type: ignore[no-any-return]
        except RealtimeKitNotFoundError:
            return None

    async def stop_recording(self, recording_id: str) -> Recording:
        """Stop a recording; stopping one that has already stopped is a no-op."""
        try:
            stop = _Calls.recording_action(recording_id, RecordingAction.STOP)
            return await self._call(stop, _RECORDING)  # type: ignore[no-any-return]
        except RealtimeKitAPIError as error:
            if not _is_refusal(error):
                raise
            current = await self.get_recording(recording_id)
            if _action_already_done(current, RecordingAction.STOP):
                return current
            raise

    async def list_recordings(self, **filters: Any) -> RecordingPage:
        """One page of recordings; the filters of :meth:`RealtimeKitHook.list_recordings`."""
        return await self._call(_Calls.list_recordings(_list_params(**filters)), _PAGE)  # type: ignore[no-any-return]

    async def list_sessions(self, **filters: Any) -> SessionPage:
        """One page of the app's sessions; the filters of :meth:`RealtimeKitHook.list_sessions`."""
        return await self._call(_sessions_call(filters), _SESSION_PAGE)  # type: ignore[no-any-return]

    async def get_session(self, session_id: str) -> ActiveSession:
        """One session of the app, live or ended; :meth:`RealtimeKitHook.get_session`."""
        return await self._call(_session_call(session_id), _SESSION)  # type: ignore[no-any-return]

    async def iter_sessions(self, per_page: int = 100, **filters: Any) -> AsyncIterator[ActiveSession]:
        """Every session matching the filters, page after page (oldest first unless ``sort_order``)."""
        filters.setdefault("sort_order", "ASC")
        page_no = 1
        while True:
            page = await self.list_sessions(page_no=page_no, per_page=per_page, **filters)
            for session in page.sessions:
                yield session
            if page.is_last:
                return
            page_no += 1


async def _aget_connection(conn_id: str) -> Connection:
    """Read a connection without blocking the event loop (Airflow 3.1+ natively, 3.0 in a thread)."""
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)  # type: ignore[no-any-return]
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------------
# Sessions (``GET /sessions``): read-only, for the live-meeting watcher.

#: Values ``GET /sessions`` accepts for its enumerated filters.
_SESSION_FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "status": ("LIVE", "ENDED"),
    "sort_by": ("createdAt", "minutesConsumed"),
    "sort_order": ("ASC", "DESC"),
}
_SESSION_FILTERS = ("status", "associated_id", "page_no", "per_page", "sort_by", "sort_order", "search")


@dataclass(frozen=True)
class SessionPage:
    """One page of ``GET /sessions``: the sessions that could be read, the paging object, and for each
    item that could not be read, its place on the page and why (``skipped``; never its content)."""

    sessions: list[ActiveSession]
    paging: Paging
    skipped: list[str] = field(default_factory=list)

    @property
    def is_last(self) -> bool:
        empty = not self.sessions and not self.skipped
        return empty or self.paging.end_offset >= self.paging.total_count


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
    sessions = data.get("sessions") if isinstance(data, dict) else data
    if not isinstance(sessions, list):
        raise TypeError("data.sessions is not a list")
    readable, skipped = ActiveSession.read_many(sessions)
    return SessionPage(sessions=readable, paging=Paging(**paging), skipped=skipped)


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
