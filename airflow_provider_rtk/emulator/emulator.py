"""The emulator in-process: a RealtimeKit API on a loopback port, served from a background thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from airflow_provider_rtk.emulator.aioserver import AsyncioEmulatorServer
from airflow_provider_rtk.emulator.faults import parse_fault
from airflow_provider_rtk.emulator.routes import API_ROUTES
from airflow_provider_rtk.emulator.server import EmulatorApp, EmulatorHTTPServer
from airflow_provider_rtk.emulator.settings import (
    API_PREFIX,
    DEFAULT_API_TOKEN,
    DEFAULT_HOST,
    DEFAULT_INVOKE_DELAY,
    DEFAULT_RATE_WINDOW,
    DEFAULT_SECOND_START,
    DEFAULT_SECOND_START_MESSAGE,
    DEFAULT_SECOND_START_STATUS,
    DEFAULT_SERVER,
    DEFAULT_SUMMARY_DELAY,
    DEFAULT_TRANSCRIPT_DELAY,
    DEFAULT_UNKNOWN_FIELDS,
    DEFAULT_UPLOAD_DELAY,
    DEFAULT_WEBHOOK_RETRY_DELAYS,
    DEFAULT_WEBHOOK_TIMEOUT,
    FILES_PREFIX,
    SERVER_KINDS,
    EmulatorSettings,
    SecondStart,
    ServerKind,
    UnknownFields,
)
from airflow_provider_rtk.emulator.signing import KEYS_PATH
from airflow_provider_rtk.emulator.webhooks import parse_webhook

CONNECTION_TYPE = "realtimekit"
#: Seconds the serving loop may take to notice a stop.
_POLL_INTERVAL = 0.05


class RealtimeKitEmulator:
    """A local Cloudflare RealtimeKit API that the provider and the ``cloudflare`` SDK cannot tell apart.

    ``port=0`` picks a free port. ``account_id``/``app_id`` of ``None`` accept any id (and report
    documented defaults); given, other ids get 404.

    A track start while the meeting is already being recorded is not documented by the API:
    ``second_start="refuse"`` (the default) answers ``second_start_status`` (409) with
    ``second_start_message`` (``{meeting_id}``/``{recording_id}`` filled in); ``"accept"`` starts a
    second recording beside the first, and ``active-recording`` then answers with the earliest one
    still active. Request fields the description does not list get a 400 naming them
    (``unknown_fields="reject"``) or are ignored (``"ignore"``). ``recording_bytes`` is what every
    download link serves (default: synthetic bytes that start like a WebM file, sized by the duration);
    links expire 7 days after the upload, or at once with :meth:`expire_links`. ``server="asyncio"``
    (the default) serves thousands of keep-alive clients from one event loop; ``"threads"`` is the
    standard library's thread-per-connection server.

    Webhooks: ``webhooks`` registers ``{"name", "url", "events", "enabled"}`` configurations at start
    (and again after :meth:`reset`); every event is POSTed, signed with the emulator's own key (served
    at :attr:`webhook_keys_url`), to each enabled webhook subscribed to it, retried after each of
    ``webhook_retry_delays`` seconds on a 5xx or network error (``webhook_timeout`` per attempt).
    Meetings created with ``transcribe_on_end``/``summarize_on_end`` get a transcript
    ``transcript_delay`` seconds after their session ends, and a summary ``summary_delay`` later.
    Use it as a context manager::

        with RealtimeKitEmulator(invoke_delay=0, upload_delay=0) as emulator:
            meeting = emulator.create_meeting("standup")
            emulator.start_session(meeting["id"])
            os.environ["AIRFLOW_CONN_REALTIMEKIT_DEFAULT"] = emulator.airflow_connection_json()
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        api_token: str = DEFAULT_API_TOKEN,
        account_id: str | None = None,
        app_id: str | None = None,
        legacy_track: bool = False,
        invoke_delay: float = DEFAULT_INVOKE_DELAY,
        upload_delay: float = DEFAULT_UPLOAD_DELAY,
        rate_limit: int | None = None,
        rate_window: float = DEFAULT_RATE_WINDOW,
        second_start: SecondStart = DEFAULT_SECOND_START,
        second_start_status: int = DEFAULT_SECOND_START_STATUS,
        second_start_message: str = DEFAULT_SECOND_START_MESSAGE,
        unknown_fields: UnknownFields = DEFAULT_UNKNOWN_FIELDS,
        recording_bytes: bytes | None = None,
        server: ServerKind = DEFAULT_SERVER,
        clock: Callable[[], float] = time.time,
        webhooks: Iterable[Mapping[str, Any]] = (),
        webhook_retry_delays: Sequence[float] = DEFAULT_WEBHOOK_RETRY_DELAYS,
        webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT,
        transcript_delay: float = DEFAULT_TRANSCRIPT_DELAY,
        summary_delay: float = DEFAULT_SUMMARY_DELAY,
    ) -> None:
        self.settings = EmulatorSettings(
            api_token=api_token,
            account_id=account_id,
            app_id=app_id,
            legacy_track=legacy_track,
            invoke_delay=invoke_delay,
            upload_delay=upload_delay,
            rate_limit=rate_limit,
            rate_window=rate_window,
            second_start=second_start,
            second_start_status=second_start_status,
            second_start_message=second_start_message,
            unknown_fields=unknown_fields,
            webhook_retry_delays=tuple(webhook_retry_delays),
            webhook_timeout=webhook_timeout,
            transcript_delay=transcript_delay,
            summary_delay=summary_delay,
        )
        #: Webhooks registered at start and after each reset (checked now: a bad one is a ValueError).
        self._initial_webhooks = [self._checked_webhook(webhook) for webhook in webhooks]
        if server not in SERVER_KINDS:
            raise ValueError(f"server must be one of {', '.join(SERVER_KINDS)}")
        self.host = host
        self.server_kind = server
        self._requested_port = port
        self.app = EmulatorApp(self.settings, clock=clock, recording_bytes=recording_bytes)
        self._register_initial_webhooks()
        self._server: EmulatorHTTPServer | AsyncioEmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle

    def start(self) -> RealtimeKitEmulator:
        """Bind the port and serve in a daemon thread (``OSError`` if the port is taken)."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        address = (self.host, self._requested_port)
        if self.server_kind == "asyncio":
            self._server = AsyncioEmulatorServer(address, self.app)
            self._server.start(f"realtimekit-emulator-{self.port}")
            self.app.dispatcher.start(f"{self.origin}{FILES_PREFIX}")
            return self
        threaded = EmulatorHTTPServer(address, self.app)
        self._server = threaded
        self.app.dispatcher.start(f"{self.origin}{FILES_PREFIX}")
        self._thread = threading.Thread(
            target=threaded.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"realtimekit-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            self.app.dispatcher.stop()
        if isinstance(server, AsyncioEmulatorServer):
            server.stop()
            return
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> RealtimeKitEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # ---- addresses and credentials

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` (a wildcard host is shown as loopback)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Where the API is, like ``https://api.cloudflare.com/client/v4``."""
        return f"{self.origin}{API_PREFIX}"

    @property
    def api_token(self) -> str:
        return self.settings.api_token

    @property
    def account_id(self) -> str:
        return self.settings.reported_account_id

    @property
    def app_id(self) -> str:
        return self.settings.reported_app_id

    @property
    def app_url(self) -> str:
        """The base of every RealtimeKit path of this app."""
        return f"{self.base_url}/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    @property
    def recording_link(self) -> str:
        """The page of a recording here, as a connection's ``recording_link`` template."""
        return f"{self.origin}/_emulator/recordings/{{recording_id}}"

    @property
    def webhook_keys_url(self) -> str:
        """Where the public key of webhook signatures is (``/.well-known/webhooks.json``)."""
        return f"{self.origin}{KEYS_PATH}"

    def airflow_connection(self) -> dict[str, Any]:
        """The Airflow connection that points the provider here (task links open the emulator's page;
        a webhook receiver verifies signatures with the key at ``webhook_keys_url``)."""
        return {
            "conn_type": CONNECTION_TYPE,
            "password": self.api_token,
            "host": self.base_url,
            "extra": {
                "account_id": self.account_id,
                "app_id": self.app_id,
                "recording_link": self.recording_link,
                "webhook_keys_url": self.webhook_keys_url,
            },
        }

    def airflow_connection_json(self) -> str:
        """JSON for ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT``."""
        return json.dumps(self.airflow_connection())

    # ---- steering

    def create_meeting(
        self,
        title: str | None = None,
        *,
        meeting_id: str | None = None,
        transcribe_on_end: bool = False,
        summarize_on_end: bool = False,
    ) -> dict[str, Any]:
        """A new meeting (as the API shows it); ``meeting_id`` defaults to a fresh UUID."""
        options = {"transcribe_on_end": transcribe_on_end, "summarize_on_end": summarize_on_end}
        return self.app.state.create_meeting(title, meeting_id=meeting_id, options=options).to_api()

    def start_session(self, meeting_id: str, participants: Iterable[str] | None = None) -> dict[str, Any]:
        """Someone joined: a live session (the meeting is created if unknown)."""
        return self.app.state.start_session(meeting_id, participants).to_api()

    def end_session(self, meeting_id: str) -> dict[str, Any]:
        """Everyone left: the session ends and its recordings stop with ``ALL_PEERS_LEFT``."""
        return self.app.state.end_session(meeting_id).to_api()

    def add_fault(
        self,
        operation: str,
        kind: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        seconds: float | None = None,
        times: int | None = 1,
        after: int = 0,
    ) -> dict[str, Any]:
        """Inject a fault into the next ``times`` calls of ``operation`` (an operationId, or ``*``).

        ``kind``: ``status`` (answer ``status``), ``delay`` (wait ``seconds``), ``drop_before`` (close the
        connection, no effect), ``drop_after`` (take effect, then close with no answer).
        ``times=None`` means every call; ``after`` lets that many matching calls through first.
        """
        spec = {
            "operation": operation,
            "kind": kind,
            "status": status,
            "retry_after": retry_after,
            "seconds": seconds,
            "times": times,
            "after": after,
        }
        return self.app.faults.add(parse_fault(spec, API_ROUTES.operations)).to_json()

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """The faults still waiting to happen."""
        return self.app.faults.snapshot()

    def set_rate_limit(self, requests: int | None, window_seconds: float = DEFAULT_RATE_WINDOW) -> None:
        """At most ``requests`` API calls per ``window_seconds`` (``None`` turns the limit off)."""
        self.app.limiter.configure(requests, window_seconds)

    def expire_links(self, recording_id: str | None = None) -> list[str]:
        """Make the download links of one uploaded recording (default: every one) expire now.

        Their files then answer 403 and the list's ``expired=true`` filter finds them; the ids returned.
        """
        return self.app.state.expire_links(recording_id)

    def fail_recording(self, recording_id: str) -> dict[str, Any]:
        """Make a recording fail now: ``ERRORED``, as a ``recording.statusUpdate`` webhook tells."""
        return self.app.state.fail_recording(recording_id).snapshot(reveal_secrets=False)

    def recordings(self) -> list[dict[str, Any]]:
        """Every recording: its exact request body, generation, status and status history."""
        return self.app.state.recording_snapshots(reveal_secrets=True)

    def requests(self, since: float | None = None) -> list[dict[str, Any]]:
        """The latest requests it received (up to 10,000; those since ``since``), oldest first: ``at``
        (clock time), ``method``, ``path``, and once answered ``status`` and ``answered_at``."""
        return self.app.requests(since)

    def state(self) -> dict[str, Any]:
        """Meetings, sessions and recordings as plain data."""
        return self.app.state.snapshot(reveal_secrets=True)

    def reset(self) -> None:
        """Back to the state at start: no meetings, no faults, the configured rate limit and webhooks."""
        self.app.reset()
        self._register_initial_webhooks()

    # ---- webhooks

    def _checked_webhook(self, webhook: Mapping[str, Any]) -> dict[str, Any]:
        from airflow_provider_rtk.emulator.messages import ApiError

        try:
            return parse_webhook(dict(webhook), partial=False)
        except ApiError as error:
            raise ValueError(error.message) from None

    def _register_initial_webhooks(self) -> None:
        for fields in self._initial_webhooks:
            self.app.webhooks.create(fields)

    def add_webhook(
        self, url: str, events: Iterable[str], *, name: str = "emulator webhook", enabled: bool = True
    ) -> dict[str, Any]:
        """Register a webhook (as ``POST /webhooks`` does); the webhook as the API shows it."""
        fields = self._checked_webhook({"name": name, "url": url, "events": list(events), "enabled": enabled})
        return self.app.webhooks.create(fields).to_api()

    def webhooks(self) -> list[dict[str, Any]]:
        return [webhook.to_api() for webhook in self.app.webhooks.all()]

    def webhook_public_key(self) -> str:
        """The PEM public key that verifies every ``rtk-signature`` of this emulator."""
        return self.app.signer.public_key_pem()

    def deliver_webhook(
        self,
        event: str,
        *,
        meeting_id: str | None = None,
        session_id: str | None = None,
        recording_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
        url: str | None = None,
        webhook_id: str | None = None,
        forge: str | None = None,
        rtk_uuid: str | None = None,
    ) -> list[dict[str, Any]]:
        """Deliver ``event`` now (see the control endpoint ``POST /_emulator/webhooks/deliveries``)."""
        dispatcher = self.app.dispatcher
        if payload is not None:
            content = {"event": event, **payload}
        else:
            state_event = self.app.state.event_for(
                event, meeting_id=meeting_id, session_id=session_id, recording_id=recording_id
            )
            content = dispatcher.payload_of(state_event)
        made = dispatcher.deliver(
            event, content, url=url, webhook_id=webhook_id, forge=forge, rtk_uuid=rtk_uuid
        )
        return [delivery.to_json() for delivery in made]

    def repeat_webhook(self, rtk_uuid: str, *, url: str | None = None) -> dict[str, Any]:
        """Send a logged delivery again: same ``rtk-uuid``, body and signature."""
        return self.app.dispatcher.repeat(rtk_uuid, url=url).to_json()

    def webhook_deliveries(self, event: str | None = None) -> list[dict[str, Any]]:
        """The delivery log, oldest first (see :mod:`.control` for the fields)."""
        return self.app.dispatcher.deliveries(event)

    def wait_for_webhook_deliveries(
        self, count: int = 1, *, event: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` deliveries (of ``event``) have finished (delivered or failed); those."""
        return self.app.dispatcher.wait(count, event=event, timeout=timeout)

    # ---- transcripts and summaries

    def transcript(self, session_id: str, file_format: str = "CSV") -> bytes:
        """The bytes a session's transcript link serves (404 ``ApiError`` until it is ready)."""
        artifact = self.app.state.artifact(session_id, "transcript")
        return self.app.state.artifact_content(artifact.file_name(file_format))[0]

    def summary(self, session_id: str) -> bytes:
        """The bytes a session's summary link serves (404 ``ApiError`` until it is ready)."""
        artifact = self.app.state.artifact(session_id, "summary")
        return self.app.state.artifact_content(artifact.file_name())[0]

    def expire_transcript_links(self, session_id: str | None = None) -> list[str]:
        """Make the transcript and summary links of one session (default: all) expire now; the ids."""
        return self.app.state.expire_artifact_links(session_id)
