"""What the emulator reads and writes: a parsed request, a reply, and the API's envelopes.

Two error envelopes exist, as on the real service: RealtimeKit's own
``{"success": false, "error": {"code", "message"}}`` and the Cloudflare gateway's
``{"success": false, "errors": [{"code", "message"}], "messages": [], "result": null}``
(authentication, rate limits, unknown routes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_CONTENT_TYPE = "application/json"

#: Codes of the Cloudflare gateway envelope.
GATEWAY_AUTH_CODE = 10000
GATEWAY_RATE_LIMIT_CODE = 971
GATEWAY_NO_ROUTE_CODE = 7003
GATEWAY_METHOD_CODE = 7001
GATEWAY_AUTH_MESSAGE = "Authentication error"
GATEWAY_RATE_LIMIT_MESSAGE = "Please wait and consider throttling your request speed"


@dataclass(frozen=True)
class Request:
    """One HTTP request: ``path`` without the query, header names in lower case."""

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: ``http://host:port`` as the client addressed us, for links in answers.
    origin: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self, *, empty: Any = ...) -> Any:
        """The body as JSON; an empty body is ``empty`` if given, else a 400."""
        if not self.body.strip():
            if empty is not ...:
                return empty
            raise ApiError(400, "Invalid request body: a JSON body is required")
        try:
            return json.loads(self.body)
        except UnicodeDecodeError:
            raise ApiError(400, "Invalid request body: not UTF-8 text") from None
        except json.JSONDecodeError as error:
            where = f"line {error.lineno} column {error.colno}"
            raise ApiError(400, f"Invalid request body: not valid JSON ({error.msg} at {where})") from None


@dataclass(frozen=True)
class Reply:
    """An HTTP answer. ``content`` empty and ``content_type`` ``None`` is an answer with no body."""

    status: int
    content: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def json(self) -> Any:
        """The body decoded (for tests and logs)."""
        return json.loads(self.content) if self.content else None


@dataclass(frozen=True)
class Drop:
    """Close the connection without any answer (a lost response, as the client sees it)."""


DROP = Drop()


def retry_after_header(seconds: float | None) -> tuple[tuple[str, str], ...]:
    """``Retry-After`` in whole seconds (rounded up), or no header."""
    if seconds is None:
        return ()
    return (("Retry-After", str(max(0, math.ceil(seconds)))),)


def json_reply(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, json.dumps(payload).encode(), JSON_CONTENT_TYPE, headers)


def success(data: Any, status: int = 200, **extra: Any) -> Reply:
    """``{"success": true, "data": ...}`` plus any extra top-level keys (``paging``)."""
    return json_reply(status, {"success": True, "data": data, **extra})


def realtimekit_error(status: int, message: str, retry_after: float | None = None) -> Reply:
    """RealtimeKit's own error envelope; ``code`` is the HTTP status."""
    payload = {"success": False, "error": {"code": status, "message": message}}
    return json_reply(status, payload, retry_after_header(retry_after))


def gateway_error(status: int, code: int, message: str, retry_after: float | None = None) -> Reply:
    """The Cloudflare gateway's error envelope."""
    payload = {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }
    return json_reply(status, payload, retry_after_header(retry_after))


class ApiError(Exception):
    """An error answer; ``gateway_code`` selects the gateway envelope instead of RealtimeKit's."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        gateway_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.gateway_code = gateway_code
        self.retry_after = retry_after

    def reply(self) -> Reply:
        if self.gateway_code is not None:
            return gateway_error(self.status, self.gateway_code, self.message, self.retry_after)
        return realtimekit_error(self.status, self.message, self.retry_after)
