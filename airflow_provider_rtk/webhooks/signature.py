"""The signature of a delivery, and the public key that checks it (no Airflow here).

RealtimeKit signs the raw body of each delivery: header ``rtk-signature`` is a base64 RSA-SHA256
(PKCS#1 v1.5) signature over the bytes as sent, so the body is verified before it is parsed and never
re-serialised. The key is public, one for all apps, served as
``{"success": true, "data": {"publicKey": "-----BEGIN PUBLIC KEY-----..."}}`` at
:data:`DEFAULT_KEYS_URL`.

:class:`KeyCache` keeps one key per URL. When a signature fails with a key older than
``min_refetch_interval``, the key is fetched again once (the service may have rotated it) and the
signature checked again; with a younger key the failure is final. So a flood of forged deliveries
costs at most one fetch per interval and URL. The fetch is a plain GET with TLS verified, no
redirects followed, no credentials, a bounded answer, and a deadline for the whole of it (a page
that trickles its bytes would otherwise hold the URL's lock, and every delivery waiting on it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from airflow_provider_rtk.exceptions import RealtimeKitWebhookKeyError, RealtimeKitWebhookSignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

#: Cloudflare's page of the public key that signs every RealtimeKit webhook.
DEFAULT_KEYS_URL = "https://api.realtime.cloudflare.com/.well-known/webhooks.json"
#: The shortest time between two fetches of one URL's key (forged deliveries cannot make it more).
MIN_REFETCH_INTERVAL = 60.0
#: The largest key page read, in bytes, and the seconds a whole fetch may take.
MAX_KEY_PAGE_BYTES = 64 * 1024
KEY_FETCH_TIMEOUT = 10.0
#: With no key at all, the shortest time between two fetch attempts.
NO_KEY_RETRY_INTERVAL = 5.0


SignatureError = RealtimeKitWebhookSignatureError
KeyUnavailableError = RealtimeKitWebhookKeyError


def decode_signature(header: str | None) -> bytes:
    """The signature bytes of an ``rtk-signature`` header; :class:`SignatureError` when it is missing
    or not base64."""
    if not header or not header.strip():
        raise SignatureError("the delivery has no rtk-signature header")
    try:
        signature = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the rtk-signature header is not base64") from None
    if not signature:
        raise SignatureError("the rtk-signature header is empty")
    return signature


def verifies(key: RSAPublicKey, body: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``key``'s RSA-SHA256 PKCS#1 v1.5 signature of exactly ``body``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def read_key_page(content: bytes) -> RSAPublicKey:
    """The RSA public key of a key page; :class:`KeyUnavailableError` naming what is wrong."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        page = json.loads(content)
    except ValueError:
        raise KeyUnavailableError("the key page is not JSON") from None
    data = page.get("data") if isinstance(page, dict) else None
    pem = data.get("publicKey") if isinstance(data, dict) else None
    if not isinstance(pem, str) or not pem.strip():
        raise KeyUnavailableError("the key page has no data.publicKey")
    try:
        key = load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError):
        raise KeyUnavailableError("data.publicKey of the key page is not a PEM public key") from None
    if not isinstance(key, RSAPublicKey):
        raise KeyUnavailableError("data.publicKey of the key page is not an RSA key")
    return key


@dataclass
class _Entry:
    key: RSAPublicKey | None = None
    #: monotonic time of the last fetch attempt (successful or not), and of the key held
    tried_at: float = -1e18
    fetched_at: float = -1e18


class KeyCache:
    """The public key of each key URL, fetched on first use and again (throttled) when a signature
    fails. One per process; safe for concurrent deliveries of one event loop."""

    def __init__(
        self,
        *,
        min_refetch_interval: float = MIN_REFETCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
        fetch_timeout: float = KEY_FETCH_TIMEOUT,
    ) -> None:
        self.min_refetch_interval = min_refetch_interval
        self.fetch_timeout = fetch_timeout
        self._clock = clock
        self._transport = transport
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: fetches sent, for tests and the benchmark
        self.fetches = 0

    async def verify(self, url: str, body: bytes, signature: bytes) -> None:
        """Return when ``signature`` verifies ``body`` under ``url``'s key; :class:`SignatureError`
        when it does not, :class:`KeyUnavailableError` when no key could be had."""
        entry = self._entries.setdefault(url, _Entry())
        lock = self._locks.setdefault(url, asyncio.Lock())
        if entry.key is None:
            async with lock:
                if entry.key is None:
                    await self._fetch(
                        url, entry, throttled=entry.tried_at > self._clock() - NO_KEY_RETRY_INTERVAL
                    )
        if entry.key is not None and verifies(entry.key, body, signature):
            return
        async with lock:
            held = entry.key
            if held is not None and verifies(held, body, signature):
                return  # another delivery fetched the new key meanwhile
            now = self._clock()
            if entry.fetched_at > now - self.min_refetch_interval:
                raise SignatureError("the signature does not verify under the current key")
            if entry.tried_at > now - self.min_refetch_interval:
                # the last fetch failed a moment ago: the key may be stale, say so (the service retries)
                raise KeyUnavailableError("the public key could not be refreshed recently")
            await self._fetch(url, entry, throttled=False)
            if entry.key is not held and entry.key is not None and verifies(entry.key, body, signature):
                return
        raise SignatureError("the signature does not verify under the current key")

    async def _fetch(self, url: str, entry: _Entry, *, throttled: bool) -> None:
        if throttled:
            raise KeyUnavailableError("the public key could not be fetched a moment ago")
        entry.tried_at = self._clock()
        self.fetches += 1
        try:
            async with (
                asyncio.timeout(self.fetch_timeout),
                httpx.AsyncClient(
                    timeout=self.fetch_timeout,
                    follow_redirects=False,
                    verify=True,
                    trust_env=False,
                    transport=self._transport,
                ) as client,
                client.stream("GET", url, headers={"Accept": "application/json"}) as answer,
            ):
                if answer.status_code != 200:
                    raise KeyUnavailableError(f"the key page answered HTTP {answer.status_code}")
                content = await _bounded(answer)
        except TimeoutError:
            raise KeyUnavailableError(f"the key page took over {self.fetch_timeout:g} s") from None
        except httpx.HTTPError as error:
            raise KeyUnavailableError(f"the key page could not be read ({type(error).__name__})") from None
        entry.key = read_key_page(content)
        entry.fetched_at = entry.tried_at


async def _bounded(answer: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.aiter_bytes():
        size += len(chunk)
        if size > MAX_KEY_PAGE_BYTES:
            raise KeyUnavailableError(f"the key page is larger than {MAX_KEY_PAGE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
