"""A webhook receiver for tests: a loopback HTTP server that keeps every POST it gets, answering as told.

    with WebhookSink() as sink, RealtimeKitEmulator(webhooks=[...sink.url...]) as emulator:
        ...
        received = sink.wait(3)  # the first three deliveries: headers (lower-case names) and raw body

``answers`` is what the next POSTs get, in order (an HTTP status, or ``"drop"``: close the connection
with no answer, a network error for the sender); once they are used up every POST gets 200.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

Answer = int | str


@dataclass(frozen=True)
class Received:
    """One POST: path, headers (names in lower case), the exact body, and what it was answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    answer: Answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        sink = cast("_Server", self.server).sink
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = sink._next_answer()
        sink._keep(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, answer))
        if answer == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(int(answer))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sink: WebhookSink) -> None:
        self.sink = sink
        super().__init__(("127.0.0.1", 0), _Handler)


class WebhookSink:
    """Receives webhooks on ``http://127.0.0.1:PORT/webhook`` (:attr:`url`) until stopped."""

    def __init__(self, answers: Iterable[Answer] = ()) -> None:
        self._answers = list(answers)
        self._received: list[Received] = []
        self._changed = threading.Condition()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-sink",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhook"

    def answer_next(self, *answers: Answer) -> None:
        """What the next POSTs get, in order (after those already planned)."""
        with self._changed:
            self._answers.extend(answers)

    def _next_answer(self) -> Answer:
        with self._changed:
            return self._answers.pop(0) if self._answers else 200

    def _keep(self, received: Received) -> None:
        with self._changed:
            self._received.append(received)
            self._changed.notify_all()

    @property
    def received(self) -> list[Received]:
        with self._changed:
            return list(self._received)

    def wait(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` POSTs, once they have arrived (``TimeoutError`` after ``timeout``)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(f"{count} webhook deliveries expected, {len(self._received)} received")
            return self._received[:count]

    def start(self) -> WebhookSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
