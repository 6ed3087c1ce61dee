"""Hooks holding a RealtimeKit connection: :class:`RealtimeKitHook` (sync) and its async twin for triggers."""

from __future__ import annotations

import math
from functools import cached_property
from typing import TYPE_CHECKING, Any, overload

import httpx
from airflow.providers.common.compat.sdk import BaseHook
from tenacity import AsyncRetrying, RetryCallState, Retrying

from airflow_provider_rtk import redaction
from airflow_provider_rtk.connection import (  # noqa: F401  re-exported: the hook module was their home
    SECOND_START_CHOICES,
    _base_url,
    _blank,
    _check_token,
    _choice_extra,
    _connection_problem,
    _path_segment,
    _positive_extra,
)
from airflow_provider_rtk.connection import ConnectionSettings as ConnectionSettings
from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitNotFoundError,
)
from airflow_provider_rtk.get_provider_info import (
    CONN_FIELDS,
    CONNECTION_TYPE,
    DEFAULT_CONN_ID,
    UI_FIELD_BEHAVIOUR,
)
from airflow_provider_rtk.hooks import connection_cache
from airflow_provider_rtk.hooks._api import (
    DEFAULT_MAX_RESPONSE_BYTES,
    USER_AGENT,
    ApiCall,
    HttpRetryPolicy,
    Limits,
    T,
    answer_shape,
    hold_to_deadlines,
    read_data,
    send_bounded,
    send_bounded_async,
)
from airflow_provider_rtk.hooks._calls import (
    _MEETING,
    _PAGE,
    _RECORDING,
    _SESSION,
    _SESSION_PAGE,
    _SUMMARY,
    _TRANSCRIPT,
    _WEBHOOK,
    _WEBHOOKS,
    _Calls,
    _holds_recording,
    _list_params,
    _recording_from,
    _session_call,
    _sessions_call,
    _summary_call,
    _transcript_call,
    meeting_body,
)
from airflow_provider_rtk.hooks.pool import (
    acquire_async_client,
    acquire_sync_client,
    release_async_client,
    release_sync_client,
)
from airflow_provider_rtk.models import (
    ActiveSession,
    Meeting,
    Recording,
    RecordingAction,
    RecordingPage,
    RecordingStatus,
    SessionSummary,
    SessionTranscript,
    TrackRecordingRequest,
    Webhook,
    WebhookRequest,
    parse_track_request,
)
from airflow_provider_rtk.models import SessionPage as SessionPage  # re-exported: its old home

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

    from airflow.sdk import Connection

    from airflow_provider_rtk.hooks._api import Reader
    from airflow_provider_rtk.ownership import StartOutcome

DEFAULT_TIMEOUT = 30.0


def _action_already_done(recording: Recording, action: RecordingAction) -> bool:
    """Whether a recording is already where ``action`` would take it (so repeating it is a no-op)."""
    if action is RecordingAction.STOP:  # a status it does not know proves nothing: the refusal stands
        return recording.status.is_known and not recording.status.is_capturing
    wanted = RecordingStatus.PAUSED if action is RecordingAction.PAUSE else RecordingStatus.RECORDING
    return recording.status is wanted


def _is_refusal(error: RealtimeKitAPIError) -> bool:
    """A 4xx that may just mean "already done" (not 404: the recording is unknown; not 429)."""
    status = error.status_code
    return status is not None and 400 <= status < 500 and status not in (404, 429)


class _HookBase(BaseHook):
    """Connection handling shared by both hooks."""

    conn_name_attr = "realtimekit_conn_id"
    default_conn_name = DEFAULT_CONN_ID
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

    #: The secrets blanked out of every error of this hook (the token), set when the settings are read.
    _secrets: tuple[str, ...] = ()

    def _adopt(self, settings: ConnectionSettings) -> ConnectionSettings:
        """The settings this hook was given, read for the first time: the token is masked (logs, errors)
        before anything can show it, and kept as this hook's secret."""
        redaction.remember(settings.api_token)
        self._secrets = (settings.api_token,)
        return settings

    def _client_options(self, settings: ConnectionSettings) -> dict[str, Any]:
        """``httpx`` client arguments: the app's URL, bearer auth, per-operation timeouts, and no
        redirects followed (the token must not go where a redirect points). No side effects."""
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
        return self._adopt(
            connection_cache.settings_for(
                conn_id, lambda: ConnectionSettings.from_connection(self.get_connection(conn_id))
            )
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

    @overload
    def _call(self, call: ApiCall) -> Any: ...
    @overload
    def _call(self, call: ApiCall, reader: Reader[T]) -> T: ...
    def _call(self, call: ApiCall, reader: Reader[Any] = read_data) -> Any:
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
        redaction.remember_request_secrets(request)  # a no-op after the operator's own pass
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
        return self._call(_Calls.get_recording(recording_id), _RECORDING)

    def list_recordings(self, **filters: Any) -> RecordingPage:
        """One page of recordings. Filters: ``meeting_id``, ``status`` (list or comma text), ``page_no``,
        ``per_page``, ``sort_by``, ``sort_order``, ``start_time``, ``end_time``, ``expired``, ``search``."""
        return self._call(_Calls.list_recordings(_list_params(**filters)), _PAGE)

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
            return self._call(_Calls.get_active_recording(meeting_id), _RECORDING)
        except RealtimeKitNotFoundError:
            return None

    def recording_action(self, recording_id: str, action: RecordingAction | str) -> Recording:
        """Stop, pause or resume a recording. Repeating an action that already took effect is a no-op."""
        action = RecordingAction(action)
        try:
            return self._call(_Calls.recording_action(recording_id, action), _RECORDING)
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
        return self._call(_Calls.get_meeting(meeting_id), _MEETING)

    def create_meeting(
        self,
        title: str | None = None,
        *,
        transcribe_on_end: bool | None = None,
        summarize_on_end: bool | None = None,
        **fields: Any,
    ) -> Meeting:
        """Create a meeting (not retried: a lost answer could mean two meetings).

        ``transcribe_on_end=True`` has the service transcribe the meeting after each session ends,
        ``summarize_on_end=True`` also summarise that transcript; ``None`` sends neither field (the
        service's default: no transcript, no summary)."""
        body = meeting_body(title, transcribe_on_end=transcribe_on_end, summarize_on_end=summarize_on_end)
        return self._call(_Calls.create_meeting({**body, **fields}), _MEETING)

    def get_active_session(self, meeting_id: str) -> ActiveSession | None:
        """The meeting's live session, or ``None`` when nobody is in it."""
        try:
            return self._call(_Calls.get_active_session(meeting_id), _SESSION)
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
        return self._call(_sessions_call(filters), _SESSION_PAGE)

    def get_session(self, session_id: str) -> ActiveSession:
        """One session of the app, live or ended (``GET /sessions/{session_id}``); 404 when unknown."""
        return self._call(_session_call(session_id), _SESSION)

    def get_session_transcript(self, session_id: str, file_format: str | None = None) -> SessionTranscript:
        """The session's post-meeting transcript: a fresh download link and its expiry
        (``GET /sessions/{session_id}/transcript``), in ``file_format`` (``CSV``, ``JSON``, ``SRT``,
        ``VTT``; ``None`` sends none: the documented CSV). ``download_url`` is ``None`` while the answer
        holds none; a 404 (no transcript, or no such session) is :class:`RealtimeKitNotFoundError`."""
        return self._call(_transcript_call(session_id, file_format), _TRANSCRIPT)

    def get_session_summary(self, session_id: str) -> SessionSummary:
        """The session's post-meeting summary: a fresh download link (plain text) and its expiry
        (``GET /sessions/{session_id}/summary``); as :meth:`get_session_transcript`."""
        return self._call(_summary_call(session_id), _SUMMARY)

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

    # ---------------------------------------------------------------------------------- webhooks

    def list_webhooks(self) -> list[Webhook]:
        """The app's webhooks (``GET /webhooks``)."""
        return self._call(_Calls.list_webhooks(), _WEBHOOKS)

    def get_webhook(self, webhook_id: str) -> Webhook:
        """One webhook of the app; 404 when unknown."""
        return self._call(_Calls.get_webhook(webhook_id), _WEBHOOK)

    def create_webhook(self, name: str, url: str, events: Sequence[str], enabled: bool = True) -> Webhook:
        """Add a webhook (``POST /webhooks``; not retried: a lost answer could mean two). The
        arguments are checked before any request (``url`` https, ``events`` known ones)."""
        request = WebhookRequest.of(name=name, url=url, events=events, enabled=enabled)
        return self._call(_Calls.create_webhook(request), _WEBHOOK)

    def update_webhook(
        self, webhook_id: str, name: str, url: str, events: Sequence[str], enabled: bool = True
    ) -> Webhook:
        """Replace a webhook's name, URL, events and state (``PUT /webhooks/{id}``)."""
        request = WebhookRequest.of(name=name, url=url, events=events, enabled=enabled)
        return self._call(_Calls.replace_webhook(webhook_id, request), _WEBHOOK)

    def delete_webhook(self, webhook_id: str) -> None:
        """Remove a webhook (``DELETE /webhooks/{id}``)."""
        self._call(_Calls.delete_webhook(webhook_id))


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

            self._settings = self._adopt(await connection_cache.asettings_for(conn_id, lookup))
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

    @overload
    async def _call(self, call: ApiCall) -> Any: ...
    @overload
    async def _call(self, call: ApiCall, reader: Reader[T]) -> T: ...
    async def _call(self, call: ApiCall, reader: Reader[Any] = read_data) -> Any:
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
        return await self._call(_Calls.get_recording(recording_id), _RECORDING)

    async def get_active_session(self, meeting_id: str) -> ActiveSession | None:
        try:
            return await self._call(_Calls.get_active_session(meeting_id), _SESSION)
        except RealtimeKitNotFoundError:
            return None

    async def stop_recording(self, recording_id: str) -> Recording:
        """Stop a recording; stopping one that has already stopped is a no-op."""
        try:
            stop = _Calls.recording_action(recording_id, RecordingAction.STOP)
            return await self._call(stop, _RECORDING)
        except RealtimeKitAPIError as error:
            if not _is_refusal(error):
                raise
            current = await self.get_recording(recording_id)
            if _action_already_done(current, RecordingAction.STOP):
                return current
            raise

    async def list_recordings(self, **filters: Any) -> RecordingPage:
        """One page of recordings; the filters of :meth:`RealtimeKitHook.list_recordings`."""
        return await self._call(_Calls.list_recordings(_list_params(**filters)), _PAGE)

    async def list_sessions(self, **filters: Any) -> SessionPage:
        """One page of the app's sessions; the filters of :meth:`RealtimeKitHook.list_sessions`."""
        return await self._call(_sessions_call(filters), _SESSION_PAGE)

    async def get_session(self, session_id: str) -> ActiveSession:
        """One session of the app, live or ended; :meth:`RealtimeKitHook.get_session`."""
        return await self._call(_session_call(session_id), _SESSION)

    async def get_session_transcript(
        self, session_id: str, file_format: str | None = None
    ) -> SessionTranscript:
        """:meth:`RealtimeKitHook.get_session_transcript`, the async way."""
        return await self._call(_transcript_call(session_id, file_format), _TRANSCRIPT)

    async def get_session_summary(self, session_id: str) -> SessionSummary:
        """:meth:`RealtimeKitHook.get_session_summary`, the async way."""
        return await self._call(_summary_call(session_id), _SUMMARY)

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
