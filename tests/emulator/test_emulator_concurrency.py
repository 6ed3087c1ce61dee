"""The asyncio server under many keep-alive clients at once, and a ``delay`` fault that stalls only
its own call."""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CLIENTS = 200


def keep_alive_clients(emulator, count: int) -> list[int]:
    """``count`` connections, all open at once (a barrier), each kept alive for two requests."""
    everyone_connected = threading.Barrier(count, timeout=30)
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    app_path = emulator.app_url.removeprefix(emulator.origin)

    def two(index: int) -> list[int]:
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
        try:
            connection.connect()
            everyone_connected.wait()
            statuses = []
            for path in (
                f"/recordings/active-recording/meeting-{index}",
                f"/recordings?meeting_id=meeting-{index}",
            ):
                connection.request("GET", app_path + path, headers=headers)
                answer = connection.getresponse()
                answer.read()
                statuses.append(answer.status)
            return statuses
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return [status for pair in pool.map(two, range(count)) for status in pair]


def test_hundreds_of_concurrent_keep_alive_clients(make_emulator, client_for):
    emulator = make_emulator()
    api = client_for(emulator)
    for index in range(0, CLIENTS, 2):  # every other meeting is being recorded
        emulator.start_session(f"meeting-{index}")
        assert api.post("/recordings/track", json={"meeting_id": f"meeting-{index}"}).status_code == 200
    statuses = keep_alive_clients(emulator, CLIENTS)
    assert statuses == [200, 200, 404, 200] * (CLIENTS // 2)
    assert len(emulator.requests()) == CLIENTS // 2 + 2 * CLIENTS


def test_a_delay_fault_stalls_only_its_own_call(emulator, api, client_for):
    emulator.add_fault("get_all_meetings", "delay", seconds=1.5)
    slow_done: list[float] = []

    def slow() -> None:
        began = time.monotonic()
        assert client_for(emulator).get("/meetings").status_code == 200
        slow_done.append(time.monotonic() - began)

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.2)  # the slow call is waiting in the server now
    began = time.monotonic()
    for _ in range(5):
        assert api.get("/recordings").status_code == 200
    fast = time.monotonic() - began
    worker.join(timeout=10)
    assert fast < 1.0, f"other calls waited {fast:.2f}s behind the delayed one"
    assert len(slow_done) == 1
    assert slow_done[0] >= 1.4


def test_http_details_of_the_asyncio_server(emulator, web):
    """HTTP/1.0 closes after the answer, ``Connection: close`` is honoured, bad request lines get a 400."""
    import socket

    def raw(data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as connection:
            connection.sendall(data)
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    http10 = raw(b"GET /_emulator/state HTTP/1.0\r\n\r\n")
    assert http10.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in http10
    closing = raw(b"GET /_emulator/faults HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert closing.startswith(b"HTTP/1.1 200 OK")
    assert raw(b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request")
    assert raw(b"TRACE / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 501")
    chunked = raw(
        b"POST /_emulator/meetings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b'8\r\n{"title"\r\n8\r\n: "demo"\r\n1\r\n}\r\n0\r\n\r\n'
    )
    assert chunked.startswith(b"HTTP/1.1 201 Created")
    assert b'"title": "demo"' in chunked
    too_big = raw(b"POST /_emulator/meetings HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n")
    assert too_big.startswith(b"HTTP/1.1 413")


def test_idle_keep_alive_connections_are_closed(make_emulator, monkeypatch):
    import socket

    from airflow_provider_rtk.emulator import aioserver

    monkeypatch.setattr(aioserver, "IDLE_TIMEOUT_SECONDS", 0.3)
    emulator = make_emulator()
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as connection:
        connection.sendall(b"GET /_emulator/faults HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200 OK")
        began = time.monotonic()
        assert connection.recv(65536) == b""  # closed by the server once idle
        assert 0.2 < time.monotonic() - began < 3
