"""Hooks holding a RealtimeKit connection: :class:`RealtimeKitHook` (sync) and its async twin for triggers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
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
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
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

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence

    from airflow.sdk import Connection

    from airflow_provider_rtk.ownership import StartOutcome

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


def _is_refusal(error: RealtimeKitAPIError) -> bool:
    """A 4xx that may just mean "already done" (not 404: the recording is unknown; not 429)."""
    status = error.status_code
    return status is not None and 400 <= status < 500 and status not in (404, 429)


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

    def post_track_recording(self, request: TrackRecordingRequest | Mapping[str, Any]) -> Recording | None:
        """Send one track start, once (a start is not repeatable: deciding whether to send it again
        is the caller's, see :class:`~airflow_provider_rtk.starting.RecordingStarter`): the recording
        its answer carries, or ``None`` for the legacy API's empty 200. Errors are typed
        :class:`RealtimeKitAPIError` subclasses; an unusable answer is a ``RealtimeKitBadAnswerError``."""
        request = parse_track_request(request)
        for secret in request.secret_values():
            _mask(secret)
        call = _Calls.start_track_recording(request.to_api_body())
        data = read_data(self._send(call), call, self._secrets)
        if not _holds_recording(data):
            return None
        with answer_shape(call):  # a wrong shape is an unusable answer, not a raw ValidationError
            return _recording_from(data)

    def attempts(self) -> Retrying:
        """The connection's retry schedule, for a caller that decides between attempts itself."""
        return Retrying(**self._retrying_kwargs(self.settings))

    @property
    def read_timeout(self) -> float:
        """Seconds a request's answer is waited for."""
        return self.client.timeout.read or DEFAULT_TIMEOUT

    @property
    def second_start_refused(self) -> bool:
        """The connection declares that the service refuses a second start of a recorded meeting."""
        return self.settings.second_start_refused

    def start_track_recording(
        self, request: TrackRecordingRequest | Mapping[str, Any], *, meeting_was_idle: bool = False
    ) -> StartOutcome:
        """Start a track recording; return what it led to and how the caller knows it.

        A convenience over :class:`~airflow_provider_rtk.starting.RecordingStarter`'s ``send`` (no
        journal, no ``if_active``): ``STARTED`` when the answer carries the recording, ``BELIEVED``
        for one found after an ambiguous answer; a refusal while another recording is active raises
        :class:`RealtimeKitMeetingBusyError` carrying it.
        """
        from airflow_provider_rtk.starting import RecordingStarter

        starter = RecordingStarter(self, parse_track_request(request), log=self.log)
        starter.meeting_was_idle = meeting_was_idle
        return starter.send()

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
