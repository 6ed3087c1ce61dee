"""The emulator's default HTTP/1.1 server: one asyncio event loop in a background thread.

Thousands of idle keep-alive connections cost a few kilobytes each (no thread per connection), and
the listen backlog takes bursts of new connections. The app's work per request is short and runs in
the loop; a ``delay`` fault is waited for with ``asyncio.sleep``, so it stalls its own call, never the
loop. A ``drop_*`` fault closes the TCP connection having written nothing, as the threaded server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from airflow_provider_rtk.emulator.messages import Drop, Reply, Request, realtimekit_error
from airflow_provider_rtk.emulator.server import Delayed

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.server import EmulatorApp

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
MAX_HEAD_BYTES = 64 * 1024
IDLE_TIMEOUT_SECONDS = 120.0
#: Pending connections the kernel keeps for us (capped by ``net.core.somaxconn``).
LISTEN_BACKLOG = 4096
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _head_of(reply: Reply, *, close: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {reply.status} {_phrase(reply.status)}",
        "Server: RealtimeKitEmulator",
        f"Date: {formatdate(usegmt=True)}",
    ]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    if reply.content_type:
        lines.append(f"Content-Type: {reply.content_type}")
    lines.append(f"Content-Length: {len(reply.content)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class AsyncioEmulatorServer:
    """Binds at construction (``OSError`` if the port is taken); :meth:`start` serves from a thread."""

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._socket = socket.create_server(address, family=family, backlog=LISTEN_BACKLOG)
        self.server_address: tuple[str, int] = self._socket.getsockname()[:2]
        self._bound = f"{self.server_address[0]}:{self.server_address[1]}"
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._socket, limit=MAX_HEAD_BYTES)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def stop(self) -> None:
        """Stop listening, close every connection, and end the thread (idempotent)."""
        if self._thread is None:
            self._socket.close()
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._thread = None

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- one connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        connection = writer.get_extra_info("socket")
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping: end quietly (streams would log a cancelled handler)
        except Exception:
            log.debug("emulator connection failed", exc_info=True)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read, answer; ``False`` when the connection is to be closed."""
        try:
            async with asyncio.timeout(IDLE_TIMEOUT_SECONDS):  # no extra task per request, unlike wait_for
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            await self._write(writer, realtimekit_error(431, "Request header fields too large"), close=True)
            return False
        except asyncio.IncompleteReadError as error:
            if error.partial.strip():
                log.debug("incomplete request head")
            return False
        try:
            method, target, version, headers = self._parse_head(head)
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await self._read_body(reader, headers)
        except _BadRequest as error:
            await self._write(writer, realtimekit_error(error.status, str(error)), close=True)
            return False
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        split = urlsplit(target)
        request = Request(
            method=method,
            path=split.path.rstrip("/") or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            origin=f"http://{headers.get('host') or self._bound}",
        )
        started = time.perf_counter()
        outcome = self.app.begin(request)  # short work under the state's lock, right in the loop
        if isinstance(outcome, Delayed):
            await asyncio.sleep(outcome.seconds)
            outcome = outcome.finish()
        self.app.log_outcome(request, outcome, started)
        if isinstance(outcome, Drop):
            writer.close()  # FIN with nothing written: the client sees no answer at all
            return False
        await self._write(writer, outcome, close=not keep_alive)
        return keep_alive

    @staticmethod
    def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _BadRequest(400, "Bad request line")
        method, target, version = parts
        if method not in METHODS:
            raise _BadRequest(501, f"Unsupported method {method!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise _BadRequest(400, "Bad header line")
            headers[name.strip().lower()] = value.strip()
        return method, target, version, headers

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                try:
                    size = int((await reader.readline()).split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadRequest(400, "Invalid chunked body") from None
                if size == 0:
                    while (await reader.readline()).strip():  # trailers, then the blank line
                        pass
                    return body
                body += await reader.readexactly(size)
                await reader.readline()
                if len(body) > MAX_BODY_BYTES:
                    raise _BadRequest(413, f"Request body too large (limit {MAX_BODY_BYTES} bytes)")
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise _BadRequest(400, "Invalid Content-Length header") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BadRequest(413, f"Request body too large (limit {MAX_BODY_BYTES} bytes)")
        return await reader.readexactly(length) if length else b""

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, reply: Reply, *, close: bool) -> None:
        writer.write(_head_of(reply, close=close) + reply.content)
        await writer.drain()
