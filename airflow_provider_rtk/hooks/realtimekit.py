"""Hooks holding a RealtimeKit connection: :class:`RealtimeKitHook` (sync) and its async twin for triggers."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, Retrying

from airflow_provider_rtk._compat import BaseHook
from airflow_provider_rtk.exceptions import (
    FieldError,
    RealtimeKitAPIError,
    RealtimeKitConnectionConfigError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
    RealtimeKitStartOutcomeUnknownError,
)
from airflow_provider_rtk.get_provider_info import CONN_FIELDS, CONNECTION_TYPE, UI_FIELD_BEHAVIOUR
from airflow_provider_rtk.hooks._api import (
    DEFAULT_BASE_URL,
    USER_AGENT,
    ApiCall,
    RealtimeKitTransportError,
    RetryPolicy,
    read_data,
    read_page,
    transport_error,
)
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
    from collections.abc import Callable, Iterator, Mapping

    from airflow.sdk import Connection

#: How far the service's clock may be behind ours when telling "started by this request" apart.
CLOCK_SKEW = timedelta(seconds=60)
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

    @property
    def app_url(self) -> str:
        return f"{self.base_url}/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    @classmethod
    def from_connection(cls, conn: Connection) -> ConnectionSettings:
        """Read an Airflow connection; the error names every missing field."""
        extra = conn.extra_dejson
        missing = [f"extra.{name}" for name in CONN_FIELDS if not str(extra.get(name) or "").strip()]
        if not (conn.password or "").strip():
            missing.insert(0, "password (the API token)")
        if missing:
            raise RealtimeKitConnectionConfigError(
                f"RealtimeKit connection {conn.conn_id!r} is missing {', '.join(missing)}"
            )
        return cls(
            base_url=_base_url(conn.host, conn.port),
            account_id=str(extra["account_id"]).strip(),
            app_id=str(extra["app_id"]).strip(),
            api_token=str(conn.password).strip(),
            timeout=_positive_extra(conn, "timeout", float),
            max_attempts=_positive_extra(conn, "max_attempts", int),
        )


def _positive_extra(conn: Connection, name: str, kind: type[float] | type[int]) -> Any:
    """An optional positive number from the connection's extra; the error names ``extra.<name>``."""
    value = conn.extra_dejson.get(name)
    if value in (None, ""):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number <= 0:
        raise RealtimeKitConnectionConfigError(
            f"RealtimeKit connection {conn.conn_id!r}: extra.{name} must be a positive number, not {value!r}"
        )
    return number


def _base_url(host: str | None, port: int | None) -> str:
    """The connection's host as a base URL: any scheme, host, port and path prefix; https by default."""
    if not host or not host.strip():
        return DEFAULT_BASE_URL
    url = host.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    if port and urlsplit(url).port is None:
        parts = urlsplit(url)
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


def _page_from(data: Any, paging: dict[str, Any]) -> RecordingPage:
    return RecordingPage(
        recordings=[Recording.model_validate(item) for item in data or []], paging=Paging(**paging)
    )


def _action_already_done(recording: Recording, action: RecordingAction) -> bool:
    """Whether a recording is already where ``action`` would take it (so repeating it is a no-op)."""
    if action is RecordingAction.STOP:
        return not recording.status.is_capturing
    wanted = RecordingStatus.PAUSED if action is RecordingAction.PAUSE else RecordingStatus.RECORDING
    return recording.status is wanted


def _outcome_unknown(
    meeting_id: str, error: RealtimeKitAPIError, lookup_error: RealtimeKitAPIError
) -> RealtimeKitStartOutcomeUnknownError:
    return RealtimeKitStartOutcomeUnknownError(
        f"the start for meeting {meeting_id} {error} and whether a recording started is unknown: "
        f"reading the active recording failed too ({lookup_error}); not sending it again",
        status_code=error.status_code,
        operation="startTrackRecordingForAMeeting",
    )


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
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.realtimekit_conn_id = realtimekit_conn_id
        self.timeout = timeout
        self.retry_policy = retry_policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(realtimekit_conn_id={self.realtimekit_conn_id!r})"

    _secrets: tuple[str, ...] = ()

    def _client_options(self, settings: ConnectionSettings) -> dict[str, Any]:
        _mask(settings.api_token)
        self._secrets = (settings.api_token,)
        timeout = self.timeout or settings.timeout or DEFAULT_TIMEOUT
        return {
            "base_url": settings.app_url,
            "headers": {"Authorization": f"Bearer {settings.api_token}", "User-Agent": USER_AGENT},
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        }

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
                RetryPolicy(max_attempts=settings.max_attempts) if settings.max_attempts else RetryPolicy()
            )
        return {**policy.tenacity_kwargs(), "before_sleep": self._log_retry}


def _mask(secret: str) -> None:
    """Register a secret with Airflow's masker, so no log line can show it."""
    from airflow.sdk.log import mask_secret

    mask_secret(secret)


class RealtimeKitHook(_HookBase):
    """Talks to the RealtimeKit API with the ``realtimekit`` connection ``realtimekit_conn_id``.

    One ``httpx.Client`` per hook, reused across calls; bearer auth; repeatable calls are retried on
    429 (honouring ``Retry-After``), 5xx and transport errors. Starting a recording is never blindly
    repeated: after an ambiguous failure the hook asks the service whether it started one.

    :param realtimekit_conn_id: the Airflow connection (password: API token; extra: account_id, app_id).
    :param timeout: seconds for each HTTP request (default: extra ``timeout``, else 30).
    :param retry_policy: how often and how long to retry (see :class:`RetryPolicy`; default: extra
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
        return ConnectionSettings.from_connection(self.get_connection(self.realtimekit_conn_id))

    @cached_property
    def client(self) -> httpx.Client:
        return httpx.Client(**self._client_options(self.settings))

    def get_conn(self) -> httpx.Client:
        return self.client

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]

    def __enter__(self) -> RealtimeKitHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- transport

    def _send(self, call: ApiCall) -> httpx.Response:
        try:
            return self.client.request(call.method, call.path.lstrip("/"), params=call.params, json=call.json)
        except httpx.TransportError as error:
            raise transport_error(error, call) from None

    def _call(self, call: ApiCall, reader: Callable[..., Any] = read_data) -> Any:
        """Send a call, retrying if it is repeatable; return what ``reader`` makes of the answer."""
        if not call.repeatable:
            return reader(self._send(call), call, self._secrets)
        for attempt in Retrying(**self._retrying_kwargs(self.settings)):
            with attempt:
                return reader(self._send(call), call, self._secrets)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    # ---------------------------------------------------------------------------------- recordings

    def start_track_recording(self, request: TrackRecordingRequest | Mapping[str, Any]) -> Recording:
        """Start a track recording and return it, whichever generation of the API answers.

        Safe against lost answers: after a timeout, a dropped connection or a 5xx, the meeting's active
        recording is read; one invoked by this request is returned, and only if there is none is the
        start sent again. A 429 (rejected before it was processed) is retried after ``Retry-After``.
        """
        request = parse_track_request(request)
        for secret in request.secret_values():
            _mask(secret)
        call = _Calls.start_track_recording(request.to_api_body())
        sent_at = first_uncertain = datetime.now(timezone.utc)
        uncertain = False  # has an earlier attempt possibly started a recording?
        data: Any = None
        for attempt in Retrying(**self._retrying_kwargs(self.settings)):
            with attempt:
                sent_at = datetime.now(timezone.utc)
                try:
                    data = read_data(self._send(call), call, self._secrets)
                except RealtimeKitAPIError as error:
                    since = first_uncertain if uncertain else sent_at
                    if _maybe_took_effect(error) or (uncertain and _is_refusal(error)):
                        started = self._recording_started_by(request.meeting_id, since, error)
                        if started is not None:
                            return started
                    if _maybe_took_effect(error) and not uncertain:
                        uncertain, first_uncertain = True, sent_at
                    raise  # nothing was started: safe to send again (if the error is retryable)
        if _holds_recording(data):
            return _recording_from(data)
        return self._legacy_started_recording(request.meeting_id, sent_at)

    def _recording_started_by(
        self, meeting_id: str, sent_at: datetime, error: RealtimeKitAPIError
    ) -> Recording | None:
        """After a start that may have worked: the recording it started, or ``None`` if none is active.

        After a timeout (ours, or a gateway's 504) the service may still be working on the request, so
        the meeting is watched for
        as long again as the request was given. Raises if another recording is active, or if the
        active recording cannot even be read (the outcome is then unknown; nothing may be resent).
        """
        in_progress = error.status_code == 504 or (
            isinstance(error, RealtimeKitTransportError) and error.maybe_in_progress
        )
        deadline = time.monotonic() + (self.client.timeout.read or DEFAULT_TIMEOUT if in_progress else 0.0)
        while True:
            try:
                active = self.get_active_recording(meeting_id)
            except RealtimeKitAPIError as lookup_error:
                raise _outcome_unknown(meeting_id, error, lookup_error) from lookup_error
            if active is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if active is None:
            self.log.warning("Start for meeting %s failed (%s); no recording is active", meeting_id, error)
            return None
        if not _started_since(active, sent_at):
            raise RealtimeKitAPIError(
                f"meeting {meeting_id} already has active recording {active.id} (invoked "
                f"{active.invoked_time}), which this request did not start; the start failed: {error}",
                status_code=409,
                operation=error.operation,
            ) from error
        self.log.warning(
            "The start's answer was lost (%s), but recording %s started; using it", error, active.id
        )
        return active

    #: How long the legacy start (200, no body) may take to show the new recording as active.
    legacy_start_wait = 15.0

    def _legacy_started_recording(self, meeting_id: str, sent_at: datetime) -> Recording:
        """The legacy start answers 200 with no body: find the new recording as the meeting's active
        one. The start took effect, so whatever goes wrong here must not send it again."""
        deadline = time.monotonic() + self.legacy_start_wait
        while True:
            try:
                active = self.get_active_recording(meeting_id)
            except RealtimeKitAPIError as lookup_error:
                accepted = RealtimeKitAPIError("accepted (200, no body)", status_code=200)
                raise _outcome_unknown(meeting_id, accepted, lookup_error) from lookup_error
            if active is not None and _started_since(active, sent_at):
                self.log.info("Legacy start answered with no body; found recording %s", active.id)
                return active
            if time.monotonic() >= deadline:
                raise RealtimeKitStartOutcomeUnknownError(
                    f"the service accepted the start for meeting {meeting_id} (200, no body), but no new "
                    f"active recording appeared within {self.legacy_start_wait:g}s; not sending it again",
                    status_code=200,
                    operation="startTrackRecordingForAMeeting",
                )
            time.sleep(1.0)

    def get_recording(self, recording_id: str) -> Recording:
        return _recording_from(self._call(_Calls.get_recording(recording_id)))

    def list_recordings(self, **filters: Any) -> RecordingPage:
        """One page of recordings. Filters: ``meeting_id``, ``status`` (list or comma text), ``page_no``,
        ``per_page``, ``sort_by``, ``sort_order``, ``start_time``, ``end_time``, ``expired``, ``search``."""
        return _page_from(*self._call(_Calls.list_recordings(_list_params(**filters)), read_page))

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
            return _recording_from(self._call(_Calls.get_active_recording(meeting_id)))
        except RealtimeKitNotFoundError:
            return None

    def recording_action(self, recording_id: str, action: RecordingAction | str) -> Recording:
        """Stop, pause or resume a recording. Repeating an action that already took effect is a no-op."""
        action = RecordingAction(action)
        try:
            return _recording_from(self._call(_Calls.recording_action(recording_id, action)))
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
        return Meeting.model_validate(self._call(_Calls.get_meeting(meeting_id)))

    def create_meeting(self, title: str | None = None, **fields: Any) -> Meeting:
        """Create a meeting (not retried: a lost answer could mean two meetings)."""
        body = {"title": title, **fields} if title is not None else dict(fields)
        return Meeting.model_validate(self._call(_Calls.create_meeting(body)))

    def get_active_session(self, meeting_id: str) -> ActiveSession | None:
        """The meeting's live session, or ``None`` when nobody is in it."""
        try:
            return ActiveSession.model_validate(self._call(_Calls.get_active_session(meeting_id)))
        except RealtimeKitNotFoundError:
            return None

    def test_connection(self) -> tuple[bool, str]:
        """A real, read-only call: list one recording."""
        try:
            page = self.list_recordings(per_page=1)
        except Exception as error:
            return False, str(error)
        return (
            True,
            f"Connected to RealtimeKit app {self.settings.app_id}: {page.paging.total_count} recordings",
        )


class RealtimeKitAsyncHook(_HookBase):
    """The async path, for triggers: one ``httpx.AsyncClient`` per hook, connection read the async way.

    Close it with ``await hook.aclose()`` (or ``async with``).
    """

    _settings: ConnectionSettings | None = None
    _client: httpx.AsyncClient | None = None

    async def get_settings(self) -> ConnectionSettings:
        if self._settings is None:
            self._settings = ConnectionSettings.from_connection(
                await _aget_connection(self.realtimekit_conn_id)
            )
        return self._settings

    async def get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(**self._client_options(await self.get_settings()))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> RealtimeKitAsyncHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _call(self, call: ApiCall) -> Any:
        client = await self.get_client()
        async for attempt in AsyncRetrying(**self._retrying_kwargs(await self.get_settings())):
            with attempt:
                try:
                    response = await client.request(
                        call.method, call.path.lstrip("/"), params=call.params, json=call.json
                    )
                except httpx.TransportError as error:
                    raise transport_error(error, call) from None
                return read_data(response, call, self._secrets)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def get_recording(self, recording_id: str) -> Recording:
        return _recording_from(await self._call(_Calls.get_recording(recording_id)))

    async def get_active_session(self, meeting_id: str) -> ActiveSession | None:
        try:
            return ActiveSession.model_validate(await self._call(_Calls.get_active_session(meeting_id)))
        except RealtimeKitNotFoundError:
            return None

    async def stop_recording(self, recording_id: str) -> Recording:
        """Stop a recording; stopping one that has already stopped is a no-op."""
        try:
            return _recording_from(
                await self._call(_Calls.recording_action(recording_id, RecordingAction.STOP))
            )
        except RealtimeKitAPIError as error:
            if not _is_refusal(error):
                raise
            current = await self.get_recording(recording_id)
            if _action_already_done(current, RecordingAction.STOP):
                return current
            raise


async def _aget_connection(conn_id: str) -> Connection:
    """Read a connection without blocking the event loop (Airflow 3.1+ natively, 3.0 in a thread)."""
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)  # type: ignore[no-any-return]
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)  # type: ignore[no-any-return]
