"""Webhook deliveries: signed POSTs in the background, retried as RealtimeKit retries them, and logged.

What the service does (developers.cloudflare.com/realtime/realtimekit/webhooks/, "Webhook headers",
"Verify webhook signatures", "Retry behavior"): it POSTs the JSON body with ``rtk-signature`` (base64
RSA-SHA256 of the raw body), ``rtk-uuid`` ("Unique ID for the webhook delivery. Store this value if you
need to avoid processing duplicate deliveries") and ``rtk-webhook-id`` (the webhook configuration);
any ``2xx`` is a success; a ``5xx`` or a network error is retried; any other non-``2xx`` is recorded as
failed and never retried; "after repeated delivery failures, RealtimeKit may temporarily reduce
delivery attempts to that webhook URL". The guide gives no retry schedule and no attempt limit: the
emulator waits ``webhook_retry_delays`` seconds between attempts (one attempt more than delays), with
the same ``rtk-uuid``, body and signature on every attempt of one delivery.

Nothing here blocks an API answer: the state's listener only queues the event; one thread turns events
into deliveries, wakes timed state changes up (so ``recording.statusUpdate`` fires when the status
changes, not when someone next looks), and hands each attempt to a small pool of sender threads, so
deliveries may arrive out of order (the guide promises no order); the log keeps the order of events.

For tests, :meth:`WebhookDispatcher.deliver` sends a chosen payload, also forged (see
:data:`FORGERIES`) or to a given URL, and :meth:`WebhookDispatcher.repeat` sends a logged delivery
again, same ``rtk-uuid``, body and signature (a replay).
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_rtk.emulator.events import payload
from airflow_provider_rtk.emulator.messages import ApiError

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.signing import WebhookSigner
    from airflow_provider_rtk.emulator.state import EmulatorState, StateEvent
    from airflow_provider_rtk.emulator.webhooks import WebhookRegistry

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "rtk-signature"
UUID_HEADER = "rtk-uuid"
WEBHOOK_ID_HEADER = "rtk-webhook-id"
USER_AGENT = "RealtimeKitEmulator-Webhooks"
#: How a test delivery may be forged: a signature of other bytes, none, one by an unpublished key, the
#: body changed after signing (a field added), or reformatted after signing (same JSON, other bytes).
FORGERIES = ("bad_signature", "no_signature", "wrong_key", "body_changed", "body_reformatted")
#: At most this much of each answer is kept in the log.
ANSWER_LOG_BYTES = 500
#: The longest the dispatcher sleeps when nothing is due (it also wakes on every event).
_IDLE_WAIT = 0.25
_SENDERS = 4


def encode(body: dict[str, Any]) -> bytes:
    """The bytes sent (and signed): compact JSON, UTF-8, as ``JSON.stringify`` writes it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Attempt:
    at: float
    status: int | None = None
    error: str | None = None
    answer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "status": self.status, "error": self.error, "answer": self.answer}


@dataclass
class Delivery:
    """One delivery (of one event to one URL) and its attempts; ``outcome`` ``pending`` (an attempt is
    due or running), ``retrying`` (waiting to try again), ``delivered`` or ``failed``."""

    uuid: str
    webhook_id: str
    url: str
    event: str
    body: bytes
    signature: str | None
    forged: str | None = None
    repeat_of: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "pending"
    number: int = 0

    @property
    def finished(self) -> bool:
        return self.outcome in ("delivered", "failed")

    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            UUID_HEADER: self.uuid,
            WEBHOOK_ID_HEADER: self.webhook_id,
        }
        if self.signature is not None:
            headers[SIGNATURE_HEADER] = self.signature
        return headers

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "rtk_uuid": self.uuid,
            "webhook_id": self.webhook_id,
            "url": self.url,
            "event": self.event,
            "headers": self.headers(),
            "body": self.body.decode("utf-8", "replace"),
            "forged": self.forged,
            "repeat_of": self.repeat_of,
            "outcome": self.outcome,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


class WebhookDispatcher:
    """Turns state events into deliveries to the subscribed webhooks, sends them, retries, logs."""

    def __init__(
        self,
        state: EmulatorState,
        registry: WebhookRegistry,
        signer: WebhookSigner,
        *,
        organization_id: str,
        retry_delays: Sequence[float],
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.registry = registry
        self.signer = signer
        self.organization_id = organization_id
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._clock = clock
        #: Where links in payloads point (``http://host:port/files``); set when the server is bound.
        self.files_url = ""
        self._lock = threading.Condition()
        self._events: deque[StateEvent] = deque()
        self._retries: list[tuple[float, int, Delivery]] = []  # (monotonic due, n, delivery), a heap
        self._log: list[Delivery] = []
        self._numbers = itertools.count(1)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: ThreadPoolExecutor | None = None
        state.listener = self._queue_event
        state.wake = self._wake.set

    # ---- life cycle

    def start(self, files_url: str) -> None:
        self.files_url = files_url
        self._stopping.clear()
        self._senders = ThreadPoolExecutor(_SENDERS, thread_name_prefix="realtimekit-webhook")
        self._thread = threading.Thread(target=self._run, name="realtimekit-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._senders is not None:
            self._senders.shutdown(wait=False, cancel_futures=True)
            self._senders = None

    def reset(self) -> None:
        """Forget queued events, planned retries and the log (attempts under way finish unlogged)."""
        with self._lock:
            self._events.clear()
            self._retries.clear()
            self._log.clear()

    # ---- the loop

    def _queue_event(self, event: StateEvent) -> None:
        """The state's listener (called under the state's lock): queue only, and only what some
        webhook may receive (nothing piles up while nothing is served or subscribed)."""
        if self._thread is None or not self.registry.any_enabled():
            return
        with self._lock:
            self._events.append(event)
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the step: a wake during the step is not lost
            try:
                self._step()
            except Exception:
                log.exception("RealtimeKit emulator: webhook dispatcher step failed")
            self._wake.wait(self._sleep_time())

    def _step(self) -> None:
        if self.registry.any_enabled():
            self.state.tick()  # timed status changes fire their webhooks when due
        with self._lock:
            events = list(self._events)
            self._events.clear()
        for event in events:
            webhooks = self.registry.subscribed(event.name)
            if webhooks:  # no payload is made for nobody
                body = self.payload_of(event)
                for webhook in webhooks:
                    self._submit(self._new(event.name, body, webhook.url, webhook.id))
        now = time.monotonic()
        due = []
        with self._lock:
            while self._retries and self._retries[0][0] <= now:
                due.append(heapq.heappop(self._retries)[2])
        for delivery in due:
            self._submit(delivery)

    def _sleep_time(self) -> float:
        wait = _IDLE_WAIT
        with self._lock:
            if self._retries:
                wait = min(wait, self._retries[0][0] - time.monotonic())
            if self._events:
                wait = 0.0
        if self.registry.any_enabled():
            state_due = self.state.next_due()
            if state_due is not None:
                wait = min(wait, state_due - self._clock())
        return max(0.0, wait)

    # ---- deliveries

    def _new(
        self,
        event: str,
        body: dict[str, Any],
        url: str,
        webhook_id: str,
        *,
        forge: str | None = None,
        rtk_uuid: str | None = None,
    ) -> Delivery:
        signed = encode(body)
        sent = signed
        signature: str | None = self.signer.sign(signed)
        if forge == "bad_signature":
            signature = self.signer.sign(signed + b" ")
        elif forge == "no_signature":
            signature = None
        elif forge == "wrong_key":
            signature = self.signer.sign_with_other_key(signed)
        elif forge == "body_changed":
            sent = encode({**body, "tampered": True})
        elif forge == "body_reformatted":
            sent = json.dumps(body, indent=2).encode()
        delivery = Delivery(rtk_uuid or str(uuid.uuid4()), webhook_id, url, event, sent, signature, forge)
        self._record(delivery)
        return delivery

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            delivery.number = next(self._numbers)
            self._log.append(delivery)

    def _submit(self, delivery: Delivery) -> None:
        senders = self._senders
        if senders is None or self._stopping.is_set():
            return
        senders.submit(self._attempt, delivery)

    def _attempt(self, delivery: Delivery) -> None:
        attempt = Attempt(self._clock())
        try:
            attempt.status, attempt.answer = self._post(delivery)
        except (OSError, http.client.HTTPException) as error:
            attempt.error = f"{type(error).__name__}: {error}"
        retryable = attempt.status is None or attempt.status >= 500
        with self._lock:
            delivery.attempts.append(attempt)
            if attempt.status is not None and 200 <= attempt.status < 300:
                delivery.outcome = "delivered"
            elif retryable and len(delivery.attempts) <= len(self.retry_delays):
                delivery.outcome = "retrying"
                delay = self.retry_delays[len(delivery.attempts) - 1]
                heapq.heappush(self._retries, (time.monotonic() + delay, delivery.number, delivery))
            else:
                delivery.outcome = "failed"
            self._lock.notify_all()
        self._wake.set()

    def _post(self, delivery: Delivery) -> tuple[int, str]:
        parts = urlsplit(delivery.url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.hostname or "", parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body=delivery.body, headers=delivery.headers())
            response = connection.getresponse()
            answer = response.read(ANSWER_LOG_BYTES).decode("utf-8", "replace")
            return response.status, answer
        finally:
            connection.close()

    # ---- for tests

    def deliver(
        self,
        event: str,
        body: dict[str, Any],
        *,
        url: str | None = None,
        webhook_id: str | None = None,
        forge: str | None = None,
        rtk_uuid: str | None = None,
    ) -> list[Delivery]:
        """Send ``body`` now: to ``url`` (as webhook ``webhook_id``, default a new id), to webhook
        ``webhook_id`` (subscribed or not), or else to every enabled webhook subscribed to ``event``."""
        if forge is not None and forge not in FORGERIES:
            raise ApiError(400, f"forge: must be one of {', '.join(FORGERIES)}")
        if url is not None:
            targets = [(url, webhook_id or str(uuid.uuid4()))]
        elif webhook_id is not None:
            webhook = self.registry.get(webhook_id)
            targets = [(webhook.url, webhook.id)]
        else:
            targets = [(webhook.url, webhook.id) for webhook in self.registry.subscribed(event)]
        made = [
            self._new(event, body, target, hook, forge=forge, rtk_uuid=rtk_uuid) for target, hook in targets
        ]
        for delivery in made:
            self._submit(delivery)
        return made

    def repeat(self, rtk_uuid: str, *, url: str | None = None) -> Delivery:
        """Send a logged delivery again: same ``rtk-uuid``, webhook id, body and signature (a replay)."""
        with self._lock:
            first = next((d for d in self._log if d.uuid == rtk_uuid), None)
        if first is None:
            raise ApiError(404, f"No delivery with rtk-uuid {rtk_uuid} in the log")
        again = Delivery(
            first.uuid,
            first.webhook_id,
            url or first.url,
            first.event,
            first.body,
            first.signature,
            first.forged,
            repeat_of=rtk_uuid,
        )
        self._record(again)
        self._submit(again)
        return again

    def payload_of(self, event: StateEvent) -> dict[str, Any]:
        """The webhook body for a state event, with this emulator's links."""
        return payload(event, self.files_url, self.organization_id)

    def deliveries(self, event: str | None = None) -> list[dict[str, Any]]:
        """The log, oldest first (of one event, if given)."""
        with self._lock:
            return [d.to_json() for d in self._log if event is None or d.event == event]

    def wait(
        self, count: int = 1, *, event: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` deliveries (of ``event``, if given) have finished; the log of those.

        ``TimeoutError`` names what was seen when they do not within ``timeout`` seconds.
        """

        def finished() -> list[Delivery]:
            return [d for d in self._log if d.finished and (event is None or d.event == event)]

        with self._lock:
            if not self._lock.wait_for(lambda: len(finished()) >= count, timeout):
                seen = [(d.event, d.outcome) for d in self._log]
                raise TimeoutError(f"{count} finished deliveries of {event or 'any event'} not seen: {seen}")
            return [d.to_json() for d in finished()]
