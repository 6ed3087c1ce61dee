"""The key cache against a real key page on loopback that misbehaves (``tests/hostile_server.py``)."""

from __future__ import annotations

import asyncio
import base64

import pytest

from airflow_provider_rtk.webhooks.signature import MIN_REFETCH_INTERVAL, KeyCache, KeyUnavailableError
from tests.hostile_server import (
    MB,
    HostileServer,
    huge,
    in_turn,
    json_answer,
    redirect,
    trickle,
)
from tests.unit.webhooks.conftest import Clock
from tests.webhook_keys import key_pair


def test_a_key_page_that_trickles_is_given_up_for_every_waiting_delivery() -> None:
    """A byte every 0.2 s never trips a read timeout; without a deadline for the whole fetch, the URL's
    lock was held for hours and each delivery waiting on it hung with it. The bound of the outer
    ``wait_for`` is generous on purpose: it only tells a deadline from none."""

    async def deliveries(url: str) -> list[BaseException | None]:
        cache = KeyCache(fetch_timeout=1.0)
        verifying = [cache.verify(url, b"{}", b"signature") for _ in range(5)]
        return await asyncio.wait_for(asyncio.gather(*verifying, return_exceptions=True), timeout=60)

    with HostileServer() as server:
        server.routes[("GET", "/.well-known/webhooks.json")] = trickle(every=0.2)
        answers = asyncio.run(deliveries(f"http://{server.host_port}/.well-known/webhooks.json"))

        assert [type(answer) for answer in answers] == [KeyUnavailableError] * 5
        assert len(server.seen) == 1  # the others were told the page failed a moment ago


def test_a_slow_refetch_forced_by_a_forgery_does_not_hold_up_deliveries_the_held_key_verifies() -> None:
    """A forgery after the interval makes the key be fetched again, and that fetch may be slow; the
    service's own deliveries verify under the key held meanwhile, without waiting for the lock."""
    body = b'{"event": "meeting.started"}'
    signed = base64.b64decode(key_pair(0).sign(body))
    forged = base64.b64decode(key_pair(1).sign(body))
    clock = Clock()

    async def deliveries(url: str, server: HostileServer) -> None:
        cache = KeyCache(clock=clock, fetch_timeout=300)
        await cache.verify(url, body, signed)
        clock.now += MIN_REFETCH_INTERVAL + 1
        forgery = asyncio.create_task(cache.verify(url, body, forged))
        async with asyncio.timeout(60):  # generous: only tells "waits for the refetch" from "does not"
            while len(server.seen) < 2:
                await asyncio.sleep(0.01)
            await cache.verify(url, body, signed)
        assert not forgery.done()  # the refetch still trickles
        forgery.cancel()

    with HostileServer() as server:
        page = json_answer(200, key_pair(0).page)
        server.routes[("GET", "/.well-known/webhooks.json")] = in_turn(page, trickle(every=0.2))
        asyncio.run(deliveries(f"http://{server.host_port}/.well-known/webhooks.json", server))


@pytest.mark.parametrize("misbehaviour", ["redirect", "huge"])
def test_a_key_page_that_redirects_or_swells_gives_no_key(misbehaviour: str) -> None:
    """A redirect is not followed (it could lead to a key of someone else's choosing), and what is
    read of a page stays within ``MAX_KEY_PAGE_BYTES``."""
    body = b"{}"
    elsewhere = key_pair(1)

    with HostileServer() as server:
        server.routes[("GET", "/elsewhere.json")] = json_answer(200, elsewhere.page)
        server.routes[("GET", "/.well-known/webhooks.json")] = {
            "redirect": redirect(302, f"http://{server.host_port}/elsewhere.json"),
            "huge": huge(),
        }[misbehaviour]
        verifying = KeyCache().verify(
            f"http://{server.host_port}/.well-known/webhooks.json",
            body,
            base64.b64decode(elsewhere.sign(body)),
        )
        with pytest.raises(KeyUnavailableError):
            asyncio.run(verifying)

        assert [seen.path for seen in server.seen] == ["/.well-known/webhooks.json"]
        assert server.written.get("huge", 0) < 32 * MB  # the client hung up early
