"""What the sync and async hooks share: the API's calls, its envelopes, and the retry rules.

The hooks differ only in how they send a request and how they sleep; every decision (what to send,
how to read the answer, whether to try again and how long to wait) is made here, once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpcore
import httpx
from pydantic import ValidationError
from tenacity import (
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from airflow_provider_rtk import redaction
from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitError,
    RealtimeKitNotFoundError,
    RealtimeKitTransportError,
)
from airflow_provider_rtk.exceptions import (  # re-exported: their old home
    RealtimeKitBadAnswerError as RealtimeKitBadAnswerError,
)
from airflow_provider_rtk.exceptions import (
    RealtimeKitTlsError as RealtimeKitTlsError,
)
from airflow_provider_rtk.get_provider_info import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from airflow_provider_rtk.storable import storable_json

T = TypeVar("T")

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import TypeAlias

    #: What ``_call`` hands an answer to: the answer, the call, and the secrets to blank out of errors.
    Reader: TypeAlias = Callable[[httpx.Response, "ApiCall", Sequence[str]], T]

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


def transport_error(
    error: httpx.TransportError, call: ApiCall, *, deadline: float | None = None
) -> RealtimeKitTransportError:
    """Wrap an httpx failure; connecting failed means the request certainly never arrived.

    A TLS failure is not retried (it will not heal): the usual cause is a plain-HTTP server behind a
    host written without a scheme, for which ``https://`` is assumed.
    """
    never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    reason = _printable(str(error)) or type(error).__name__
    tls = _is_tls_failure(error)
    if tls:
        reason += (
            " (TLS failed: if the server speaks plain HTTP, write the connection's host as http://...;"
            " a host without a scheme is taken as https://)"
        )
    if deadline is not None and isinstance(error, httpx.TimeoutException) and time.monotonic() >= deadline:
        reason = f"no complete answer within the request's deadline ({reason})"
    error_class = RealtimeKitTlsError if tls else RealtimeKitTransportError
    return error_class(
        redact(f"{type(error).__name__}: {reason}"),
        operation=call.operation,
        maybe_delivered=not never_sent,
        maybe_in_progress=isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout),
    )


def _is_tls_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(5):  # httpx wraps httpcore, which wraps the ssl error
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "[SSL" in str(error)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from either of its forms (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class RateLimitHint:
    """What an answer's rate-limit headers say: ``remaining`` requests (quota units) until the window
    resets in ``reset`` seconds, and the policy's ``quota`` per ``window`` seconds (each ``None`` when
    not sent)."""

    remaining: float | None = None
    reset: float | None = None
    quota: float | None = None
    window: float | None = None


def _number(text: str | None) -> float | None:
    try:
        value = float(text.strip()) if text is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _sf_items(value: str) -> Iterator[dict[str, float | None]]:
    """The parameters of each item of a structured-field list (``"a";r=5;t=30, "b";r=1;t=2``)."""
    for item in value.split(","):
        parameters = {}
        for part in item.split(";")[1:]:
            name, _, number = part.partition("=")
            parameters[name.strip().lower()] = _number(number)
        yield parameters


def _reset_seconds(value: float | None) -> float | None:
    """A reset given as seconds, or (some services) as a Unix time."""
    if value is not None and value > 1e9:
        return max(0.0, value - time.time())
    return value


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitHint | None:
    """The rate-limit headers of an answer, if it has any: the IETF draft's ``RateLimit``
    (``"default";r=50;t=30``) and ``RateLimit-Policy`` (``"burst";q=100;w=60``), or the older
    ``RateLimit-Remaining`` / ``RateLimit-Reset`` / ``RateLimit-Limit`` (also with an ``X-`` prefix).
    Of several limits the tightest counts; a value that is not a number is ignored."""
    lower = {name.lower(): value for name, value in headers.items()}
    remaining = reset = quota = window = None
    for item in _sf_items(lower.get("ratelimit", "")):
        r, t = item.get("r"), item.get("t")
        if r is not None and (remaining is None or r < remaining):
            remaining, reset = r, t
    for item in _sf_items(lower.get("ratelimit-policy", "")):
        q, w = item.get("q"), item.get("w")
        if q is not None and w and (quota is None or window is None or q / w < quota / window):
            quota, window = q, w
    for prefix in ("", "x-"):
        if remaining is None:
            remaining = _number(lower.get(f"{prefix}ratelimit-remaining"))
            reset = _reset_seconds(_number(lower.get(f"{prefix}ratelimit-reset")))
        if quota is None:
            quota = _number(lower.get(f"{prefix}ratelimit-limit"))
    if remaining is None and quota is None:
        return None
    return RateLimitHint(remaining, reset, quota, window)


#: Who wants to see each answer's headers (the shared poller sets it in its own context, so it sees
#: only its own requests): called with the status and headers of every answer, before it is read.
ANSWER_OBSERVER: ContextVar[Callable[[int, httpx.Headers], None] | None] = ContextVar(
    "realtimekit_answer_observer", default=None
)


# --------------------------------------------------------------------------------------------------
# Bounded HTTP: a size cap enforced while streaming, and one deadline for the whole request.

#: Answers larger than this are refused (connection extra ``max_response_bytes`` changes it).
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
#: JSON nested deeper than this is not an answer of this API.
MAX_JSON_DEPTH = 32
#: How much of an error answer's message is read (and redacted) for the 300 characters an error keeps.
MESSAGE_READ_CHARS = 64 * 1024
#: The monotonic time by which the current request (in this thread or task) must be complete.
_DEADLINE: ContextVar[float | None] = ContextVar("realtimekit_request_deadline", default=None)


@dataclass(frozen=True)
class Limits:
    """How long one request may take in all (connect, send, every read) and how big its answer may be."""

    timeout: float
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


def _clamp(timeout: float | None) -> float | None:
    """A socket timeout no longer than what is left of the request's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write is held to the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Opens :class:`_DeadlineStream` sockets (httpcore's sync backend underneath)."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(host, port, _clamp(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(path, _clamp(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def hold_to_deadlines(client: httpx.Client) -> httpx.Client:
    """Make every socket of ``client`` (its transport and any proxy mounts) honour :data:`_DEADLINE`.

    httpx only bounds each read, so a server trickling a byte a second could keep a request going
    for ever; the deadline bounds the whole request.
    """
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return client


def _too_large(response: httpx.Response, call: ApiCall, limit: int) -> RealtimeKitAPIError:
    text = f"the answer is larger than {limit} bytes (connection extra max_response_bytes); not read"
    if response.status_code >= 400:
        error_class = RealtimeKitNotFoundError if response.status_code == 404 else RealtimeKitAPIError
        return error_class(text, status_code=response.status_code, operation=call.operation)
    return RealtimeKitBadAnswerError(
        text, operation=call.operation, status_code=response.status_code, too_large=True
    )


def _declared_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None


def _completed(response: httpx.Response, body: bytes) -> httpx.Response:
    """The streamed answer, now holding ``body`` (already decoded) as if ``read()`` had read it."""
    response._content = body  # what httpx's own read() sets, here after a bounded read
    return response


def _build(client: httpx.Client | httpx.AsyncClient, call: ApiCall) -> httpx.Request:
    return client.build_request(call.method, call.path.lstrip("/"), params=call.params, json=call.json)


class _Body:
    """The body of a streamed answer, collected chunk by chunk up to the size cap."""

    def __init__(self, response: httpx.Response, call: ApiCall, limit: int) -> None:
        self.response, self.call, self.limit = response, call, limit
        self.chunks: list[bytes] = []
        self.size = 0
        declared = _declared_length(response)
        if declared is not None and declared > limit:
            raise _too_large(response, call, limit)

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise _too_large(self.response, self.call, self.limit)
        self.chunks.append(chunk)

    def undecodable(self, error: httpx.DecodingError) -> RealtimeKitBadAnswerError:
        """A broken gzip/brotli body."""
        return RealtimeKitBadAnswerError(
            f"the answer cannot be decoded ({type(error).__name__})",
            operation=self.call.operation,
            status_code=self.response.status_code,
        )

    def completed(self) -> httpx.Response:
        return _completed(self.response, b"".join(self.chunks))


def send_bounded(client: httpx.Client, call: ApiCall, limits: Limits) -> httpx.Response:
    """Send ``call`` and read its answer within ``limits`` (the client must be :func:`hold_to_deadlines`).

    Raises :class:`RealtimeKitTransportError` when no complete answer arrives in time, and an API
    error when the answer is larger than the cap (nothing beyond the cap is read).
    """
    deadline = time.monotonic() + limits.timeout
    token = _DEADLINE.set(deadline)
    try:
        response = client.send(_build(client, call), stream=True)
        try:
            body = _Body(response, call, limits.max_response_bytes)
            for chunk in response.iter_bytes():
                body.add(chunk)
                if time.monotonic() >= deadline:
                    raise httpx.ReadTimeout("the request's deadline has passed", request=response.request)
        except httpx.DecodingError as error:
            raise body.undecodable(error) from None
        finally:
            response.close()
    except httpx.TransportError as error:
        raise transport_error(error, call, deadline=deadline) from None
    finally:
        _DEADLINE.reset(token)
    return body.completed()


async def send_bounded_async(client: httpx.AsyncClient, call: ApiCall, limits: Limits) -> httpx.Response:
    """The async :func:`send_bounded`: the whole exchange is one ``asyncio`` timeout."""
    deadline = time.monotonic() + limits.timeout

    async def exchange() -> httpx.Response:
        response = await client.send(_build(client, call), stream=True)
        observer = ANSWER_OBSERVER.get()
        if observer is not None:
            observer(response.status_code, response.headers)
        try:
            body = _Body(response, call, limits.max_response_bytes)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
        except httpx.DecodingError as error:
            raise body.undecodable(error) from None
        finally:
            await response.aclose()
        return body.completed()

    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the answer of an exchange
        # that completes as the task is cancelled, and the cancellation is lost (a stopped trigger
        # would poll on)
        async with asyncio.timeout(limits.timeout):
            return await exchange()
    except TimeoutError:
        timeout = httpx.ReadTimeout(f"no complete answer within {limits.timeout:g}s")
        raise transport_error(timeout, call, deadline=deadline) from None
    except httpx.TransportError as error:
        raise transport_error(error, call, deadline=deadline) from None


# --------------------------------------------------------------------------------------------------
# Reading answers


def _printable(text: str) -> str:
    """``text`` on one line with control characters shown as spaces (an echo cannot forge log lines)."""
    return "".join(char if char.isprintable() else " " for char in text).strip()


def _too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _json(response: httpx.Response) -> Any:
    """The answer's JSON; ``ValueError`` when it is not JSON or is nested too deeply."""
    try:
        payload = json.loads(response.content)
    except RecursionError:
        raise ValueError(f"the answer is nested too deeply (over {MAX_JSON_DEPTH} levels)") from None
    except ValueError:
        raise ValueError("the answer is not JSON") from None
    if _too_deep(payload):
        raise ValueError(f"the answer is nested too deeply (over {MAX_JSON_DEPTH} levels)")
    # its text storable once, here: a lone surrogate (a JSON escape a client cut mid-emoji) would
    # crash whatever encodes it later (the shared poller's reading, the triggerer, an XCom); ids
    # holding one stay refused (U+FFFD is no id character either)
    return storable_json(payload)


def _error_fields(payload: Any) -> tuple[int | str | None, str | None]:
    """Code and message from any of the API's error envelopes."""
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    if isinstance(error, dict):  # RealtimeKit: {"success": false, "error": {"code", "message"}}
        return _code(error.get("code")), _text(error.get("message"))
    if isinstance(error, str):
        return None, error
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:  # Cloudflare gateway: {"errors": [{"code", "message"}]}
        first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
        messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
        return _code(first.get("code")), "; ".join(messages)
    if isinstance(payload.get("message"), str):  # bare {"message": "..."}
        return None, payload["message"]
    return None, None


def _code(value: Any) -> int | str | None:
    """An error code as the service sent it, if it is a number or short text (never a structure)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    return value[:40] if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with every known secret (and each of ``secrets``) replaced by ``***``, in every form
    (plain, JSON- and repr-escaped): a proxy may echo the Authorization header or the request body."""
    return redaction.redact(text, secrets)


def api_error(response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()) -> RealtimeKitAPIError:
    """The error an unsuccessful answer stands for (with ``secrets`` blanked out of its message)."""
    try:
        payload = _json(response)
    except ValueError:
        payload = None
    code, message = _error_fields(payload)
    if message is None:
        text = response.text.strip()
        message = text or response.reason_phrase or "no message"
    # redacted before shortening (a cut secret would not match), from a bounded part: redaction reads
    # every encoding of the text, and only the first 300 characters are kept
    message = _printable(redact(message[:MESSAGE_READ_CHARS], secrets))
    if len(message) > 300:
        message = message[:300] + "…"
    error_class = RealtimeKitNotFoundError if response.status_code == 404 else RealtimeKitAPIError
    return error_class(
        message,
        status_code=response.status_code,
        code=redact(code, secrets) if isinstance(code, str) else code,
        operation=call.operation,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def _successful_payload(response: httpx.Response, call: ApiCall, secrets: Sequence[str]) -> Any:
    """The JSON of a successful answer (``None`` for an empty body); every other answer raises."""
    status = response.status_code
    if status >= 400:
        raise api_error(response, call, secrets)
    if status >= 300 or status < 200:
        where = response.headers.get("Location")
        target = f" to {_printable(redact(where, secrets))[:200]}" if where else ""
        raise RealtimeKitBadAnswerError(
            f"the service redirected{target}; redirects are not followed (the API token would go with "
            "them): check the connection's host",
            operation=call.operation,
            status_code=status,
        )
    if not response.content.strip():
        return None
    try:
        payload = _json(response)
    except ValueError as error:
        raise RealtimeKitBadAnswerError(str(error), operation=call.operation, status_code=status) from None
    if isinstance(payload, dict) and payload.get("success") is False:
        raise api_error(response, call, secrets)
    return payload


def _unwrap(payload: Any) -> Any:
    if isinstance(payload, dict):
        if "data" in payload:
            return payload["data"]
        if "result" in payload:
            return payload["result"]
    return payload


def read_data(response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()) -> Any:
    """The ``data`` of a successful answer; ``None`` for an empty body (the legacy track start).

    Raises :class:`RealtimeKitAPIError` for an error answer, :class:`RealtimeKitBadAnswerError` for a
    redirect, a body that is not JSON, or JSON nested too deeply.
    """
    return _unwrap(_successful_payload(response, call, secrets))


def read_page(
    response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()
) -> tuple[Any, dict[str, Any]]:
    """``data`` and ``paging`` of a list answer (a list and an object, or the answer is refused)."""
    payload = _successful_payload(response, call, secrets)
    data = _unwrap(payload)
    paging = payload.get("paging") if isinstance(payload, dict) else None
    if not isinstance(data, list | None) or not isinstance(paging, dict | None):
        raise RealtimeKitBadAnswerError(
            "the answer has an unexpected shape (a list answer needs a list and a paging object)",
            operation=call.operation,
            status_code=response.status_code,
        )
    return data, paging or {}


def _shape_problem(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        items = error.errors(include_input=False, include_url=False)
        first = items[0] if items else {"loc": (), "msg": str(error)}
        where = ".".join(str(part) for part in first["loc"]) or "(answer)"
        more = f" and {len(items) - 1} more" if len(items) > 1 else ""
        return f"{where}: {first['msg']}{more}"
    return type(error).__name__


@contextmanager
def answer_shape(call: ApiCall, status_code: int = 200) -> Iterator[None]:
    """Turn a wrongly shaped answer (pydantic, type or key errors while reading it) into
    :class:`RealtimeKitBadAnswerError` naming the operation and status."""
    try:
        yield
    except RealtimeKitError:
        raise
    except (ValidationError, TypeError, KeyError, AttributeError, ValueError, RecursionError) as error:
        raise RealtimeKitBadAnswerError(
            f"the answer has an unexpected shape ({_shape_problem(error)})",
            operation=call.operation,
            status_code=status_code,
        ) from None


def shaped(convert: Callable[[Any], T], reader: Callable[..., Any] = read_data) -> Reader[T]:
    """A reader for ``_call``: ``reader``'s result through ``convert``, a wrong shape an API error."""

    def read(response: httpx.Response, call: ApiCall, secrets: Sequence[str] = ()) -> T:
        data = reader(response, call, secrets)
        with answer_shape(call, response.status_code):
            return convert(data)

    return read


# --------------------------------------------------------------------------------------------------
# Retry rules


def is_retryable(error: BaseException) -> bool:
    """Rate limits, server errors and lost connections are worth another try (for repeatable calls)."""
    return isinstance(error, RealtimeKitAPIError) and error.is_retryable


@dataclass(frozen=True)
class HttpRetryPolicy:
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
