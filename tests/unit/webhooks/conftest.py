"""The receiver's unit fixtures: key pairs made here, a key page served by respx, a test client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import respx
from fastapi.testclient import TestClient

from airflow_provider_rtk.webhooks.app import create_app
from airflow_provider_rtk.webhooks.signature import KeyCache
from tests.webhook_keys import KeyPair, key_pair

if TYPE_CHECKING:
    from airflow_provider_rtk.webhooks.deliveries import Delivery

KEYS_URL = "https://keys.example.test/.well-known/webhooks.json"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Receiver:
    """A receiver app with a fake recorder (the HTTP layer only) and a settable clock."""

    client: TestClient
    keys: KeyCache
    clock: Clock
    page: respx.Route
    recorded: list[Delivery] = field(default_factory=list)
    fail_recording: Exception | None = None

    def post(
        self,
        body: bytes,
        *,
        signed_by: KeyPair | None = None,
        signature: str | None = None,
        uuid: str | None = "delivery-1",
        conn_id: str = "realtimekit_default",
        **kwargs: Any,
    ) -> Any:
        headers: dict[str, str] = {}
        if signed_by is not None:
            headers["rtk-signature"] = signed_by.sign(body)
        if signature is not None:
            headers["rtk-signature"] = signature
        if uuid is not None:
            headers["rtk-uuid"] = uuid
        return self.client.post(f"/webhooks/{conn_id}", content=body, headers=headers, **kwargs)


@pytest.fixture
def signing_key() -> KeyPair:
    return key_pair(0)


@pytest.fixture
def receiver(signing_key: KeyPair) -> Iterator[Receiver]:
    clock = Clock()
    keys = KeyCache(clock=clock)
    with respx.mock(assert_all_called=False) as mock:
        page = mock.get(KEYS_URL).respond(200, json=signing_key.page)
        mock.route(host="testserver").pass_through()
        state: dict[str, Receiver] = {}

        def record(conn_id: str, delivery: Delivery) -> int:
            rec = state["receiver"]
            if rec.fail_recording is not None:
                raise rec.fail_recording
            rec.recorded.append(delivery)
            return 1

        def keys_url_of(conn_id: str) -> str:
            if conn_id == "missing":
                raise LookupError(conn_id)
            if conn_id == "misconfigured":
                raise ValueError("extra.webhook_keys_url must be an https:// URL")
            return KEYS_URL

        app = create_app(keys=keys, keys_url_of=keys_url_of, recorder=record)
        with TestClient(app) as client:
            state["receiver"] = Receiver(client=client, keys=keys, clock=clock, page=page)
            yield state["receiver"]
