"""What the sync and async hooks share: the API's calls, its envelopes, and the retry rules.

The hooks differ only in how they send a request and how they sleep; every decision (what to send,
how to read the answer, whether to try again and how long to wait) is made here, once.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import (
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from airflow_provider_rtk.exceptions import RealtimeKitAPIError, RealtimeKitNotFoundError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
USER_AGENT = "airflow-provider-rtk"


@dataclass(frozen=True)
class ApiCall:
    """One request to the RealtimeKit API, relative to the app's URL."""

    operation: str  # the operationId in Cloudflare's OpenAPI description
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    #: False for a call whose repetition could do something twice (starting a recording).
    repeatable: bool = True


class RealtimeKitTransportError(RealtimeKitAPIError):
    """No answer arrived. ``maybe_delivered``: the service may have acted on the request;
    ``maybe_in_progress``: we stopped waiting (a timeout), so it may still be acting on it."""

    def __init__(
        self, message: str, *, operation: str, maybe_delivered: bool, maybe_in_progress: bool = False
    ) -> None:
        super().__init__(message, operation=operation)
        self.maybe_delivered = maybe_delivered
        self.maybe_in_progress = maybe_in_progress


def transport_error(error: httpx.TransportError, call: ApiCall) -> RealtimeKitTransportError:
    """Wrap an httpx failure; connecting failed means the request certainly never arrived."""
    never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    reason = str(error) or type(error).__name__
    return RealtimeKitTransportError(
        f"{type(error).__name__}: {reason}",
        operation=call.operation,
        maybe_delivered=not never_sent,
        maybe_in_progress=isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout),
    )


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from either of its forms (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_fields(payload: Any) -> tuple[int | str | None, str | None]:
    """Code and message from any of the API's error envelopes."""
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    if isinstance(error, dict):  # RealtimeKit: {"success": false, "error": {"code", "message"}}
        return error.get("code"), error.get("message")
    if isinstance(error, str):
        return None, error
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:  # Cloudflare gateway: {"errors": [{"code", "message"}]}
        first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
        messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
        return first.get("code"), "; ".join(messages)
    if isinstance(payload.get("message"), str):  # bare {"message": "..."}
        return None, payload["message"]
    return None, None


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ``***`` (a proxy may echo the Authorization header)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def api_error(response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()) -> RealtimeKitAPIError:
    """The error an unsuccessful answer stands for (with ``secrets`` blanked out of its message)."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    code, message = _error_fields(payload)
    if message is None:
        text = response.text.strip()
        message = text or response.reason_phrase or "no message"
    message = redact(message, secrets)  # before shortening: a cut secret would no longer match
    if len(message) > 300:
        message = message[:300] + "…"
    error_class = RealtimeKitNotFoundError if response.status_code == 404 else RealtimeKitAPIError
    return error_class(
        message,
        status_code=response.status_code,
        code=code,
        operation=call.operation,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def read_data(response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()) -> Any:
    """The ``data`` of a successful answer; ``None`` for an empty body (the legacy track start)."""
    if response.status_code >= 400:
        raise api_error(response, call, secrets)
    if not response.content.strip():
        return None
    try:
        payload = response.json()
    except ValueError:
        raise RealtimeKitAPIError(
            "the answer is not JSON", status_code=response.status_code, operation=call.operation
        ) from None
    if isinstance(payload, dict) and payload.get("success") is False:
        raise api_error(response, call, secrets)
    if isinstance(payload, dict):
        if "data" in payload:
            return payload["data"]
        if "result" in payload:
            return payload["result"]
    return payload


def read_page(
    response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()
) -> tuple[Any, dict[str, Any]]:
    """``data`` and ``paging`` of a list answer."""
    data = read_data(response, call, secrets)
    paging = response.json().get("paging") or {}
    return data, paging


# --------------------------------------------------------------------------------------------------
# Retry rules


def is_retryable(error: BaseException) -> bool:
    """Rate limits, server errors and lost connections are worth another try (for repeatable calls)."""
    return isinstance(error, RealtimeKitAPIError) and error.is_retryable


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry. ``Retry-After`` always wins over the backoff."""

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    #: Cap on a server-requested ``Retry-After`` wait; beyond it, the call fails rather than hangs.
    max_retry_after: float = 300.0
    #: Give up once this much time has gone by, whatever the attempts left.
    max_total_seconds: float = 600.0
    _backoff: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        backoff = wait_exponential_jitter(
            multiplier=self.initial_wait, max=self.max_wait, jitter=self.initial_wait
        )
        object.__setattr__(self, "_backoff", backoff)

    def should_retry(self, error: BaseException) -> bool:
        """Retryable, and not asking for a longer wait than ``max_retry_after`` allows."""
        retry_after = getattr(error, "retry_after", None)
        return is_retryable(error) and (retry_after is None or retry_after <= self.max_retry_after)

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return float(self._backoff(state))

    def tenacity_kwargs(self) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` (sync and async alike)."""
        return {
            "stop": stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_total_seconds),
            "wait": self.wait,
            "retry": retry_if_exception(self.should_retry),
            "reraise": True,
        }
