"""Fixtures for the emulator's own tests: emulators on free loopback ports, and HTTP clients for them."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from airflow_provider_rtk.emulator.emulator import RealtimeKitEmulator
from airflow_provider_rtk.emulator.sink import WebhookSink

#: Upper bound of any wait for a status; the emulator's delays in these tests are far below it.
DEADLINE_SECONDS = 5.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., RealtimeKitEmulator]]:
    """Start emulators with any options (zero delays unless given); all are stopped after the test."""
    started: list[RealtimeKitEmulator] = []

    def make(**options: Any) -> RealtimeKitEmulator:
        options.setdefault("invoke_delay", 0)
        options.setdefault("upload_delay", 0)
        emulator = RealtimeKitEmulator(**options).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., RealtimeKitEmulator]) -> RealtimeKitEmulator:
    return make_emulator()


@pytest.fixture
def client_for() -> Iterator[Callable[..., httpx.Client]]:
    """An httpx client on an emulator's app URL, with its token unless another one is given.

    ``verify=False`` only spares loading CA certificates (slow): every URL here is plain HTTP.
    """
    clients: list[httpx.Client] = []

    def make(emulator: RealtimeKitEmulator, token: str | None = None, **options: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or emulator.api_token}"}
        client = httpx.Client(base_url=emulator.app_url, headers=headers, timeout=10, verify=False, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def web() -> Iterator[httpx.Client]:
    """A plain client for absolute URLs (control endpoints, file links, other ids); no token."""
    with httpx.Client(timeout=10, verify=False) as client:
        yield client


@pytest.fixture
def api(emulator: RealtimeKitEmulator, client_for: Callable[..., httpx.Client]) -> httpx.Client:
    return client_for(emulator)


@pytest.fixture
def live_meeting(emulator: RealtimeKitEmulator) -> str:
    """The id of a meeting with a live session (participants user-1 and user-2)."""
    meeting_id: str = emulator.create_meeting("standup")["id"]
    emulator.start_session(meeting_id)
    return meeting_id


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wait_for_status() -> Callable[[httpx.Client, str, str], dict[str, Any]]:
    """Poll a recording until it has ``status`` (bounded by ``DEADLINE_SECONDS``); its last answer."""

    def wait(client: httpx.Client, recording_id: str, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            response = client.get(f"/recordings/{recording_id}")
            assert response.status_code == 200, response.text
            data: dict[str, Any] = response.json()["data"]
            if data["status"] == status or time.monotonic() > deadline:
                assert data["status"] == status, f"still {data['status']} after {DEADLINE_SECONDS}s"
                return data
            time.sleep(0.02)

    return wait


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    """A loopback webhook receiver that keeps every delivery (answers 200 unless told otherwise)."""
    with WebhookSink() as receiver:
        yield receiver


def signature_verifies(public_key_pem: str, signature: str | None, body: bytes) -> bool:
    """Whether ``signature`` (base64 RSA-SHA256, PKCS#1 v1.5) is one of ``body`` by that key, checked
    with ``cryptography`` directly (no emulator or provider code)."""
    if signature is None:
        return False
    key = serialization.load_pem_public_key(public_key_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@pytest.fixture
def verifies() -> Callable[[str, str | None, bytes], bool]:
    return signature_verifies
