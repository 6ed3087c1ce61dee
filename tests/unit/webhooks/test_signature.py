"""The key cache against a real key page on loopback that misbehaves (``tests/hostile_server.py``)."""

from __future__ import annotations

import asyncio

from airflow_provider_rtk.webhooks.signature import KeyCache, KeyUnavailableError
from tests.hostile_server import HostileServer, trickle


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
