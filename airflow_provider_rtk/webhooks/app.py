"""The receiver's FastAPI app: ``POST /webhooks/{conn_id}`` (mounted at ``/realtimekit``).

Airflow applies no authorisation to plugin apps: the signature is the only door. Each delivery, in
this order, nothing recorded before the last step:

1. the connection id must look like one (else 404), the ``rtk-signature`` header must be base64
   (else 401), the body at most :data:`MAX_BODY_BYTES`, counted while it is read (else 413);
2. the key page is the connection's ``extra.webhook_keys_url`` (Cloudflare's by default; a bad value
   is a 500 naming the extra; no such connection is a 401, as a forgery, so the path tells no one
   which connection ids exist), and the signature must verify over the raw bytes (else 401; a key
   that cannot be fetched is a 503, so the service retries);
3. the ``rtk-uuid`` header and the body must be readable (else 400);
4. the delivery is recorded in one database transaction (:mod:`.recorder`); 200 once it committed,
   503 when it failed (the service retries 5xx and network errors, never other non-2xx).

Answers are short and never echo the body; logs name the connection, event and ``rtk-uuid`` only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_provider_rtk.exceptions import _BodyTooLarge
from airflow_provider_rtk.webhooks.deliveries import Delivery, DeliveryError, delivery_uuid, parse_delivery
from airflow_provider_rtk.webhooks.signature import (
    KeyCache,
    KeyUnavailableError,
    SignatureError,
    decode_signature,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

#: The largest body read (RealtimeKit's deliveries are a few KiB; a transcript event carries links).
MAX_BODY_BYTES = 1024 * 1024
_NOT_VERIFIED = "the signature does not verify"
#: What a connection id in the path may be (Airflow's own ids are letters, digits, ``_ . -``).
_CONN_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,250}")

#: ``conn_id -> keys URL`` (raises ``LookupError`` for an unknown connection, ``ValueError`` for a
#: bad extra) and ``(conn_id, delivery) -> asset events created``; both are called in a thread.
KeysUrlOf = Callable[[str], str]
Recorder = Callable[[str, Delivery], int]


def _answer(status: int, detail: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **fields}, status_code=status)


async def _read_body(chunks: AsyncIterator[bytes], declared: str | None) -> bytes:
    """The body, refused as soon as it passes :data:`MAX_BODY_BYTES` (declared or counted)."""
    if declared is not None:
        try:
            if int(declared) > MAX_BODY_BYTES:
                raise _BodyTooLarge
        except ValueError:
            pass
    body = bytearray()
    async for chunk in chunks:
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise _BodyTooLarge
    return bytes(body)


def connection_keys_url(conn_id: str) -> str:
    """The connection's checked ``extra.webhook_keys_url`` (Airflow's secrets backends, then the
    database). Only the extra is read; the token is never used by the receiver."""
    from airflow.models.connection import Connection
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    from airflow_provider_rtk.connection import webhook_keys_url

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        raise LookupError(conn_id) from None
    return webhook_keys_url(conn_id, conn.extra_dejson)


def _record(conn_id: str, delivery: Delivery) -> int:
    from airflow_provider_rtk.webhooks.recorder import record

    return record(conn_id, delivery)


def create_app(
    *,
    keys: KeyCache | None = None,
    keys_url_of: KeysUrlOf = connection_keys_url,
    recorder: Recorder = _record,
    to_thread: Callable[..., Awaitable[Any]] = asyncio.to_thread,
) -> FastAPI:
    """The app Airflow's api-server mounts at ``/realtimekit``; the arguments are for tests."""
    app = FastAPI(title="RealtimeKit webhooks", openapi_url=None, docs_url=None, redoc_url=None)
    cache = keys or KeyCache()
    app.state.keys = cache

    @app.post("/webhooks/{conn_id}")
    @app.post("/webhooks/{conn_id}/", include_in_schema=False)  # served: a 307 is a non-2xx
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        """Verify a RealtimeKit delivery and record it as asset events (see the module docstring)."""
        if not _CONN_ID_RE.fullmatch(conn_id):
            return _answer(404, "unknown connection")
        try:
            signature = decode_signature(request.headers.get("rtk-signature"))
        except SignatureError as error:
            log.warning("Refused a delivery for %s: %s", conn_id, error)
            return _answer(401, str(error))
        try:
            body = await _read_body(request.stream(), request.headers.get("content-length"))
        except _BodyTooLarge:
            log.warning("Refused a delivery for %s: body over %d bytes", conn_id, MAX_BODY_BYTES)
            return _answer(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            keys_url = await to_thread(keys_url_of, conn_id)
        except LookupError:  # answered as a forgery: the path must not tell which connections exist
            log.warning("Refused a delivery for %s: no such connection", conn_id)
            return _answer(401, _NOT_VERIFIED)
        except ValueError as error:  # the extra is wrong: the admin fixes it, the service retries
            log.error("Cannot verify deliveries for %s: %s", conn_id, error)
            return _answer(500, "the receiver's connection is misconfigured")
        except Exception as error:
            log.error("Could not read connection %s (%s)", conn_id, type(error).__name__)
            return _answer(503, "the connection could not be read; retry")
        try:
            await cache.verify(keys_url, body, signature)
        except SignatureError as error:
            log.warning("Refused a delivery for %s: %s", conn_id, error)
            return _answer(401, _NOT_VERIFIED)
        except KeyUnavailableError as error:
            log.error("Could not get the webhook key for %s: %s", conn_id, error)
            return _answer(503, "the signing key is unavailable; retry")
        try:
            delivery = parse_delivery(body, delivery_uuid(request.headers.get("rtk-uuid")))
        except DeliveryError as error:
            log.warning("Refused a signed delivery for %s: %s", conn_id, error)
            return _answer(400, str(error))
        try:
            created = await to_thread(recorder, conn_id, delivery)
        except Exception as error:
            log.error(
                "Could not record delivery %s (%s) for %s: %s; the service retries it",
                delivery.uuid,
                delivery.event,
                conn_id,
                type(error).__name__,
            )
            return _answer(503, "the delivery could not be recorded; retry")
        log.info(
            "Delivery %s (%s) for %s: %d asset event(s) recorded",
            delivery.uuid,
            delivery.event,
            conn_id,
            created,
        )
        return _answer(200, "recorded", asset_events=created)

    return app
