"""A small real HTTP server on loopback that misbehaves on purpose, for the hostile-server tests.

Each route is a function of the request that writes whatever it likes to the socket: echo the request
(headers and body) in an error answer, send 200 MB, trickle a byte at a time, redirect, nest JSON
without end, or answer in the wrong shape. Every request is recorded, and so is how many body bytes a
route managed to write before the client hung up.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MB = 1024 * 1024


@dataclass
class Seen:
    """One request as the server got it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Route = Callable[["Handler", Seen], None]


@dataclass
class HostileServer:
    """``with HostileServer() as server:`` serves ``server.routes[(method, path)]`` on 127.0.0.1."""

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    #: What answers a request no route matches (default: a 404 envelope).
    fallback: Route | None = None
    #: The app whose paths :meth:`route` takes relative.
    account_id: str = "ACC"
    app_id: str = "APP"
    seen: list[Seen] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> HostileServer:
        server = self

        class Bound(Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Bound)
        self._httpd.daemon_threads = True
        # (a short poll: shutdown() waits up to one, and every hostile test ends with one)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/client/v4"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def app_path(self, path: str) -> str:
        return f"/client/v4/accounts/{self.account_id}/realtime/kit/{self.app_id}{path}"

    def route(self, method: str, path: str, behaviour: Route) -> None:
        """Serve ``behaviour`` for ``method`` on the app-relative ``path`` (``/recordings/rec-1``)."""
        self.routes[(method, self.app_path(path))] = behaviour

    def calls(self, method: str, path: str) -> int:
        return sum(1 for seen in self.seen if (seen.method, seen.path) == (method, self.app_path(path)))

    def stopping(self) -> bool:
        return self._stop.is_set()


class Handler(BaseHTTPRequestHandler):
    owner: HostileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path.split("?")[0], dict(self.headers.items()), body)
        self.owner.seen.append(seen)
        behaviour = self.owner.routes.get((seen.method, seen.path), self.owner.fallback or not_found)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            behaviour(self, seen)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def head(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Status line and headers; every answer closes its connection (no keep-alive races)."""
        self.send_response(status)
        for name, value in {"Connection": "close", **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()

    def answer(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.head(status, {"Content-Type": content_type, "Content-Length": str(len(payload))})
        self.wfile.write(payload)

    def count(self, route: str, size: int) -> None:
        self.owner.written[route] = self.owner.written.get(route, 0) + size


# --------------------------------------------------------------------------------------------------
# Behaviours


def not_found(handler: Handler, seen: Seen) -> None:
    handler.answer(404, json.dumps({"success": False, "error": {"code": 404, "message": "none"}}).encode())


def forward_to(base: str, rewrite: Callable[[bytes], bytes] | None = None) -> Route:
    """Pass the request on to ``base`` (``http://host:port``) and its answer back: a proxy in front of
    the emulator, so only the routes a test sets misbehave (``rewrite`` changes the answer's body)."""
    target = urlsplit(base)

    def behaviour(handler: Handler, seen: Seen) -> None:
        upstream = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        try:
            query = handler.path[len(seen.path) :]
            headers = {k: v for k, v in seen.headers.items() if k.lower() not in ("host", "connection")}
            upstream.request(seen.method, seen.path + query, body=seen.body or None, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        finally:
            upstream.close()
        if rewrite is not None:
            payload = rewrite(payload)
        handler.answer(answer.status, payload, answer.getheader("Content-Type") or "application/json")

    return behaviour


def json_answer(status: int, payload: Any) -> Route:
    def behaviour(handler: Handler, seen: Seen) -> None:
        handler.answer(status, json.dumps(payload).encode())

    return behaviour


def raw_answer(status: int, body: bytes, content_type: str = "application/json") -> Route:
    def behaviour(handler: Handler, seen: Seen) -> None:
        handler.answer(status, body, content_type)

    return behaviour


def echo(status: int = 400, envelope: bool = True) -> Route:
    """Answer with the request's body and headers quoted back (as a careless gateway might)."""

    def behaviour(handler: Handler, seen: Seen) -> None:
        quoted = seen.body.decode("utf-8", "replace") + "\n"
        quoted += "".join(f"{name}: {value}\n" for name, value in seen.headers.items())
        if envelope:
            payload = json.dumps({"success": False, "error": {"code": status, "message": f"bad: {quoted}"}})
            handler.answer(status, payload.encode())
        else:
            handler.answer(status, quoted.encode(), "text/plain")

    return behaviour


def huge(size: int = 200 * MB, status: int = 200, declare_length: bool = True, name: str = "huge") -> Route:
    """``size`` bytes of a JSON-looking body, streamed in 64 KiB chunks until the client hangs up."""
    chunk = b"[" + b"0," * (32 * 1024 - 1) + b"0"

    def behaviour(handler: Handler, seen: Seen) -> None:
        headers = {"Content-Type": "application/json"}
        if declare_length:
            headers["Content-Length"] = str(size)
        else:
            headers["Connection"] = "close"
        handler.head(status, headers)
        sent = 0
        while sent < size and not handler.owner.stopping():
            piece = chunk[: size - sent]
            handler.wfile.write(piece)
            sent += len(piece)
            handler.count(name, len(piece))

    return behaviour


def _gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"0" * MB
    parts = [packer.compress(block) for _ in range(size // MB)]
    return b"".join(parts) + packer.flush()


def gzip_bomb(decoded_size: int = 200 * MB) -> Route:
    """A small gzip body that decodes to ``decoded_size`` bytes."""
    body = _gzip_of_zeros(decoded_size)

    def behaviour(handler: Handler, seen: Seen) -> None:
        handler.head(
            200,
            {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "Content-Length": str(len(body)),
            },
        )
        handler.wfile.write(body)

    return behaviour


def trickle(every: float = 2.0, headers_too: bool = False, name: str = "trickle") -> Route:
    """Send one byte every ``every`` seconds, for ever (or until the client hangs up)."""

    def drip(handler: Handler, data: Iterator[bytes]) -> None:
        for byte in data:
            if handler.owner.stopping():
                return
            handler.wfile.write(byte)
            handler.wfile.flush()
            handler.count(name, 1)
            time.sleep(every)

    def endless_json() -> Iterator[bytes]:
        yield b'{"success": true, "data": "'
        while True:
            yield b"x"

    def behaviour(handler: Handler, seen: Seen) -> None:
        if headers_too:
            line = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 10_000
            drip(handler, (line[i : i + 1] for i in range(len(line))))
            return
        handler.head(200, {"Content-Type": "application/json", "Connection": "close"})
        drip(handler, endless_json())

    return behaviour


def redirect(status: int, location: str) -> Route:
    def behaviour(handler: Handler, seen: Seen) -> None:
        handler.head(status, {"Location": location, "Content-Length": "0"})

    return behaviour


def nested(depth: int) -> Route:
    """``{"success": true, "data": [[[[...]]]]}`` nested ``depth`` levels."""
    body = b'{"success": true, "data": ' + b"[" * depth + b"]" * depth + b"}"
    return raw_answer(200, body)


def serve_file(
    content: bytes,
    *,
    declare_length: bool = True,
    cut_after: int | None = None,
    piece: int = 64 * 1024,
    pause: float = 0.0,
    headers: dict[str, str] | None = None,
    name: str = "file",
    chunked: bool = False,
) -> Route:
    """A download link serving ``content`` in ``piece``-byte writes ``pause`` seconds apart. With
    ``cut_after``, the connection closes after that many bytes (a body cut short, whatever the
    ``Content-Length`` said); without ``declare_length`` there is no ``Content-Length`` (the body ends
    when the connection closes). ``chunked``: ``Transfer-Encoding: chunked`` instead of a
    ``Content-Length``, one chunk per piece announced whole (a cut inside a piece is a cut inside its
    chunk) and the closing empty chunk only when nothing was cut. ``headers`` are added to the answer
    (an ``ETag``, say)."""

    def behaviour(handler: Handler, seen: Seen) -> None:
        sent_headers = {"Content-Type": "video/webm", **(headers or {})}
        if chunked:
            sent_headers["Transfer-Encoding"] = "chunked"
        elif declare_length:
            sent_headers["Content-Length"] = str(len(content))
        handler.head(200, sent_headers)
        end = len(content) if cut_after is None else min(cut_after, len(content))
        for start in range(0, end, piece):
            if handler.owner.stopping():
                return
            part = content[start : min(start + piece, end)]
            if chunked:
                whole = min(piece, len(content) - start)
                handler.wfile.write(b"%x\r\n" % whole + part + (b"\r\n" if len(part) == whole else b""))
            else:
                handler.wfile.write(part)
            handler.wfile.flush()
            handler.count(name, len(part))
            if pause:
                time.sleep(pause)
        if chunked and end == len(content):
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()

    return behaviour


# --------------------------------------------------------------------------------------------------
# Misbehaviours over time, for the shared poller: an outage, a rate limit, a page it cannot read.


def recording_list(recordings: list[Any], status: int = 200, headers: dict[str, str] | None = None) -> Route:
    """A list answer holding ``recordings`` (dicts, or anything a hostile service may put in a page)."""
    paging = {"total_count": len(recordings), "start_offset": 0, "end_offset": len(recordings)}
    body = json.dumps({"success": True, "data": recordings, "paging": paging}).encode()

    def behaviour(handler: Handler, seen: Seen) -> None:
        handler.head(
            status, {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        )
        handler.wfile.write(body)

    return behaviour


def rate_limited(retry_after: str | None = None, headers: dict[str, str] | None = None) -> Route:
    """A Cloudflare gateway 429 (with ``Retry-After`` if given)."""
    payload = json.dumps(
        {
            "success": False,
            "errors": [{"code": 971, "message": "rate limited"}],
            "messages": [],
            "result": None,
        }
    ).encode()

    def behaviour(handler: Handler, seen: Seen) -> None:
        extra = {"Retry-After": retry_after} if retry_after is not None else {}
        handler.head(
            429,
            {
                "Content-Type": "application/json",
                "Content-Length": str(len(payload)),
                **extra,
                **(headers or {}),
            },
        )
        handler.wfile.write(payload)

    return behaviour


def drop_connection(handler: Handler, seen: Seen) -> None:
    """Close the connection without a word (a crashed upstream, a reset)."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(2)


def query_of(handler: Handler) -> dict[str, str]:
    """The request's query parameters (the last value of each)."""
    return dict(parse_qsl(urlsplit(handler.path).query))


def in_turn(*behaviours: Route) -> Route:
    """One behaviour per request, in order; the last one answers every request after."""
    lock = threading.Lock()
    served = [0]

    def behaviour(handler: Handler, seen: Seen) -> None:
        with lock:
            index = min(served[0], len(behaviours) - 1)
            served[0] += 1
        behaviours[index](handler, seen)

    return behaviour


def for_a_while(seconds: float, bad: Route, then: Route) -> Route:
    """``bad`` for ``seconds`` from the first request on (an outage), ``then`` after."""
    began: list[float] = []

    def behaviour(handler: Handler, seen: Seen) -> None:
        if not began:
            began.append(time.monotonic())
        (bad if time.monotonic() - began[0] < seconds else then)(handler, seen)

    return behaviour


def tiny_recordings_page(size: int = 4 * MB) -> Route:
    """A list answer of about ``size`` bytes holding as many minimal recordings as fit (far more than
    a page asks for)."""
    item = b'{"id":"x%07d","status":"RECORDING"},'
    count = size // len(item % 0)
    items = b"".join(item % n for n in range(count))[:-1]
    paging = b'{"total_count": %d, "start_offset": 0, "end_offset": %d}' % (count, count)
    return raw_answer(200, b'{"success": true, "data": [' + items + b'], "paging": ' + paging + b"}")
