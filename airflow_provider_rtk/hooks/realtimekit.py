"""Hooks holding a RealtimeKit connection: :class:`RealtimeKitHook` (sync) and its async twin for triggers."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
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
    RealtimeKitMeetingBusyError,
    RealtimeKitNotFoundError,
    RealtimeKitStartOutcomeUnknownError,
    RealtimeKitTransportError,
)
from airflow_provider_rtk.get_provider_info import CONN_FIELDS, CONNECTION_TYPE, UI_FIELD_BEHAVIOUR
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
    _Calls,
    _holds_recording,
    _list_params,
    _recording_from,
    _session_call,
    _sessions_call,
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
    TrackRecordingRequest,
    parse_track_request,
)
from airflow_provider_rtk.models import SessionPage as SessionPage  # re-exported: its old home
from airflow_provider_rtk.ownership import CLOCK_SKEW, Knowledge, StartOutcome

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

    from airflow.sdk import Connection

    from airflow_provider_rtk.hooks._api import Reader

DEFAULT_TIMEOUT = 30.0


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

    #: The secrets blanked out of every error of this hook (the token), set when the settings are read.
    _secrets: tuple[str, ...] = ()

    def _adopt(self, settings: ConnectionSettings) -> ConnectionSettings:
        """The settings this hook was given, read for the first time: the token is masked (logs, errors)
        before anything can show it, and kept as this hook's secret."""
        _mask(settings.api_token)
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

    def create_meeting(self, title: str | None = None, **fields: Any) -> Meeting:
        """Create a meeting (not retried: a lost answer could mean two meetings)."""
        body = {"title": title, **fields} if title is not None else dict(fields)
        return self._call(_Calls.create_meeting(body), _MEETING)

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
