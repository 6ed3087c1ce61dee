"""HTTP handling: auth, rate limit and injected faults in front of the operations, on a threaded server.

Built on the standard library's ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive, ``Content-Length``), so
a fault can really close the TCP connection with no answer at all: the client sees a transport error
(``httpx.RemoteProtocolError``), never an HTTP status.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

from airflow_provider_rtk.emulator.control import CONTROL_ROUTES, Controls
from airflow_provider_rtk.emulator.delivery import WebhookDispatcher
from airflow_provider_rtk.emulator.faults import Fault, FaultPlan
from airflow_provider_rtk.emulator.messages import (
    DROP,
    GATEWAY_AUTH_CODE,
    GATEWAY_AUTH_MESSAGE,
    GATEWAY_RATE_LIMIT_CODE,
    GATEWAY_RATE_LIMIT_MESSAGE,
    ApiError,
    Drop,
    Reply,
    Request,
    gateway_error,
    json_reply,
    realtimekit_error,
)
from airflow_provider_rtk.emulator.ratelimit import RateLimiter
from airflow_provider_rtk.emulator.routes import API_ROUTES, Api
from airflow_provider_rtk.emulator.routing import Route, no_route
from airflow_provider_rtk.emulator.settings import (
    API_PREFIX,
    CONTROL_PREFIXES,
    FILES_PREFIX,
    EmulatorSettings,
)
from airflow_provider_rtk.emulator.signing import KEYS_PATH, WebhookSigner
from airflow_provider_rtk.emulator.state import EmulatorState
from airflow_provider_rtk.emulator.webhooks import WebhookRegistry

log = logging.getLogger(__name__)
#: One INFO line per request: method, path (no query), status (or ``dropped``), time in ms. Never a header,
#: so never the token.
request_log = logging.getLogger("airflow_provider_rtk.emulator.requests")

#: Bodies above this size are refused (413).
MAX_BODY_BYTES = 1 << 20
#: What an object store answers for an expired pre-signed link (S3 and R2 word it so).
EXPIRED_LINK_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
)
#: Idle keep-alive connections are closed after this many seconds.
IDLE_TIMEOUT_SECONDS = 120


@dataclass
class LoggedRequest:
    """One request in the log: when it arrived (clock time) and, once its answer is ready (about to be
    written), when and with which status (``dropped``: the connection is closed with no answer)."""

    at: float
    method: str
    path: str
    status: int | str | None = None
    answered_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "answered_at": self.answered_at,
        }


def fault_reply(fault: Fault) -> Reply:
    """The answer of a ``status`` fault, in the envelope the real service uses for that status."""
    status = fault.status or 500
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status in (401, 403):
        return gateway_error(status, GATEWAY_AUTH_CODE, GATEWAY_AUTH_MESSAGE, fault.retry_after)
    if status == 429:
        return gateway_error(status, GATEWAY_RATE_LIMIT_CODE, GATEWAY_RATE_LIMIT_MESSAGE, fault.retry_after)
    return realtimekit_error(
        status, f"{phrase} (fault injected by the RealtimeKit emulator)", fault.retry_after
    )


_Outcome = TypeVar("_Outcome")


@dataclass(frozen=True)
class Delayed:
    """An answer held back by a ``delay`` fault: wait ``seconds``, then call ``finish`` for it."""

    seconds: float
    finish: Callable[[], Reply | Drop]


class EmulatorApp:
    """Everything behind the socket: the state, the faults, the rate limit, and the routing to them."""

    def __init__(
        self,
        settings: EmulatorSettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        recording_bytes: bytes | None = None,
    ) -> None:
        self.settings = settings
        self.state = EmulatorState(
            organization_id=settings.reported_app_id,
            invoke_delay=settings.invoke_delay,
            upload_delay=settings.upload_delay,
            clock=clock,
            second_start=settings.second_start,
            second_start_status=settings.second_start_status,
            second_start_message=settings.second_start_message,
            recording_bytes=recording_bytes,
            transcript_delay=settings.transcript_delay,
            summary_delay=settings.summary_delay,
        )
        self.faults = FaultPlan()
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_window)
        self.webhooks = WebhookRegistry(clock)
        self.signer = WebhookSigner()
        self.dispatcher = WebhookDispatcher(
            self.state,
            self.webhooks,
            self.signer,
            organization_id=settings.reported_app_id,
            retry_delays=settings.webhook_retry_delays,
            timeout=settings.webhook_timeout,
            clock=clock,
        )
        self.api = Api(self.state, settings, self.webhooks)
        self.controls = Controls(
            self.state,
            self.faults,
            self.limiter,
            API_ROUTES.operations,
            self.reset,
            self.requests,
            self.webhooks,
            self.dispatcher,
        )
        self._sleep = sleep
        self._clock = clock
        #: The latest requests, for tests and the demo to see who asked what (and when it was answered).
        self.request_log: collections.deque[LoggedRequest] = collections.deque(maxlen=10_000)
        self.request_log_lock = threading.Lock()
        self._unanswered: dict[int, LoggedRequest] = {}

    def reset(self) -> None:
        """Back to the state at start: no meetings, no faults, the configured rate limit."""
        self.state.reset()
        self.webhooks.clear()
        self.dispatcher.reset()
        self.faults.clear()
        with self.request_log_lock:
            self.request_log.clear()
            self._unanswered.clear()
        self.limiter.configure(self.settings.rate_limit, self.settings.rate_window)

    def handle(self, request: Request) -> Reply | Drop:
        """The answer to one request, or :data:`DROP` to close the connection without one (logged).

        Blocks through a ``delay`` fault; an event loop uses :meth:`begin` and waits itself.
        """
        started = time.perf_counter()
        outcome = self.begin(request)
        if isinstance(outcome, Delayed):
            self._sleep(outcome.seconds)
            outcome = outcome.finish()
        self.log_outcome(request, outcome, started)
        return outcome

    def begin(self, request: Request) -> Reply | Drop | Delayed:
        """The answer, or a :class:`Delayed` one that is to be finished after its ``seconds``."""
        entry = LoggedRequest(self._clock(), request.method, request.path)
        with self.request_log_lock:
            self.request_log.append(entry)
            self._unanswered[id(request)] = entry
        return self._guarded(request, lambda: self._answer(request))

    def requests(self, since: float | None = None) -> list[dict[str, Any]]:
        """The logged requests (oldest first) that arrived at or after ``since`` (clock time)."""
        with self.request_log_lock:
            return [entry.to_json() for entry in self.request_log if since is None or entry.at >= since]

    def log_outcome(self, request: Request, outcome: Reply | Drop, started: float) -> None:
        """Note the answer in the request log; the ``-v`` line of a request that began at ``started``
        (``time.perf_counter()``)."""
        status: int | str = "dropped" if isinstance(outcome, Drop) else outcome.status
        with self.request_log_lock:
            entry = self._unanswered.pop(id(request), None)
            if entry is not None:
                entry.status, entry.answered_at = status, self._clock()
        if request_log.isEnabledFor(logging.INFO):
            elapsed = (time.perf_counter() - started) * 1000
            request_log.info("%s %s %s %.1f ms", request.method, request.path, status, elapsed)

    @staticmethod
    def _guarded(request: Request, answer: Callable[[], _Outcome]) -> _Outcome | Reply:
        try:
            return answer()
        except ApiError as error:
            return error.reply()
        except Exception:
            log.exception("RealtimeKit emulator failed on %s %s", request.method, request.path)
            return realtimekit_error(500, "Internal error in the RealtimeKit emulator")

    def _answer(self, request: Request) -> Reply | Drop | Delayed:
        for prefix in CONTROL_PREFIXES:
            if request.path.startswith(prefix + "/"):
                path = request.path[len(prefix) :]
                route, params = CONTROL_ROUTES.resolve(request.method, path, shown_path=request.path)
                return route.handler(self.controls, request, params)
        if request.path.startswith(FILES_PREFIX + "/") and request.method == "GET":
            return self._file(request)
        if request.path == KEYS_PATH and request.method == "GET":
            return json_reply(200, self.signer.keys_document())
        if request.path.startswith(API_PREFIX + "/"):
            return self._api(request, request.path[len(API_PREFIX) :])
        raise no_route(request.path)

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = (request.header("Authorization") or "").strip().partition(" ")
        expected = self.settings.api_token.encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)

    def _api(self, request: Request, path: str) -> Reply | Drop | Delayed:
        if not self._authorized(request):
            return gateway_error(401, GATEWAY_AUTH_CODE, GATEWAY_AUTH_MESSAGE)
        route, params = API_ROUTES.resolve(request.method, path, shown_path=request.path)
        self.api.check_ids(params, request.path)
        wait = self.limiter.acquire()
        if wait is not None:
            return gateway_error(429, GATEWAY_RATE_LIMIT_CODE, GATEWAY_RATE_LIMIT_MESSAGE, retry_after=wait)
        fault = self.faults.take(route.operation)
        if fault is not None:
            log.debug("fault %s on %s", fault.kind, route.operation)
            if fault.kind == "status":
                return fault_reply(fault)
            if fault.kind == "drop_before":
                return DROP
            if fault.kind == "delay":
                return Delayed(
                    fault.seconds,
                    lambda: self._guarded(request, lambda: self._run(route, request, params, fault)),
                )
        return self._run(route, request, params, fault)

    def _run(
        self, route: Route[Api], request: Request, params: dict[str, str], fault: Fault | None
    ) -> Reply | Drop:
        try:
            reply = route.handler(self.api, request, params)
        except ApiError as error:
            reply = error.reply()
        if fault is not None and fault.kind == "drop_after":
            return DROP
        return reply

    def _file(self, request: Request) -> Reply:
        """A download link (no auth, like a pre-signed URL); once expired, the storage's 403 in XML."""
        name = unquote(request.path[len(FILES_PREFIX) + 1 :])
        try:
            try:
                content = self.state.file_content(name)
            except ApiError as error:
                if error.status != 404:
                    raise
                content, kind = self.state.artifact_content(name)  # a transcript or a summary
                return Reply(200, content, kind)
        except ApiError as error:
            if error.status != 403:
                raise
            return Reply(403, EXPIRED_LINK_BODY, "application/xml")
        kind = "audio/webm" if name.endswith(".webm") else "video/mp4"
        return Reply(200, content, kind)


class _BadRequestBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    """Reads one request into a :class:`Request`, writes the app's :class:`Reply` (or drops it)."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    server_version = "RealtimeKitEmulator"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm adds ~40 ms per answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = cast("EmulatorHTTPServer", self.server)
        try:
            body = self._read_body()
        except _BadRequestBody as error:
            self.close_connection = True
            self._send(realtimekit_error(error.status, str(error)))
            return
        split = urlsplit(self.path)
        host = self.headers.get("Host") or f"{server.server_name}:{server.server_port}"
        request = Request(
            method=self.command,
            path=split.path.rstrip("/") or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            origin=f"http://{host}",
        )
        outcome = server.app.handle(request)
        if isinstance(outcome, Drop):
            self._drop()
        else:
            self._send(outcome)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequestBody(400, "Invalid Content-Length header") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BadRequestBody(413, f"Request body too large (limit {MAX_BODY_BYTES} bytes)")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadRequestBody(400, "Invalid chunked body") from None
            if size == 0:
                while self.rfile.readline().strip():  # trailers, then the blank line
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_BODY_BYTES:
                raise _BadRequestBody(413, f"Request body too large (limit {MAX_BODY_BYTES} bytes)")

    def _drop(self) -> None:
        """Close the connection having written nothing at all."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.content)))
        self.end_headers()
        if reply.content:
            self.wfile.write(reply.content)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged by the app (one line each); the handler's own lines are not needed."""


class EmulatorHTTPServer(ThreadingHTTPServer):
    """One thread per connection; open connections are tracked so that stopping really ends them."""

    daemon_threads = True
    allow_reuse_address = True
    #: The standard library's default of 5 refuses bursts of new connections.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, EmulatorRequestHandler)

    def server_bind(self) -> None:
        """Bind without ``HTTPServer``'s reverse DNS lookup of the host (slow where DNS is missing)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is not worth a traceback on stderr."""
        log.debug("connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """End every open (keep-alive) connection."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
