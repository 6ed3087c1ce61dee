"""Matching a method and a path to a handler, from path templates like ``/recordings/{recording_id}``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from airflow_provider_rtk.emulator.messages import (
    GATEWAY_METHOD_CODE,
    GATEWAY_NO_ROUTE_CODE,
    ApiError,
    Reply,
    Request,
)

Context = TypeVar("Context")

_PARAMETER = re.compile(r"\{(\w+)\}")


def template_pattern(template: str) -> re.Pattern[str]:
    """``/meetings/{meeting_id}`` -> a pattern with a named group per parameter (one path segment each)."""
    parts = _PARAMETER.split(template)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class Route(Generic[Context]):
    """One operation: method, path template, handler, and its operationId (for faults and logs)."""

    method: str
    template: str
    handler: Callable[[Context, Request, dict[str, str]], Reply]
    operation: str = ""


class RouteTable(Generic[Context]):
    """Routes tried in order; the first whose method and path match wins."""

    def __init__(self, routes: Iterable[Route[Context]]) -> None:
        self._routes = [(route, template_pattern(route.template)) for route in routes]

    @property
    def operations(self) -> list[str]:
        return [route.operation for route, _ in self._routes if route.operation]

    def resolve(
        self, method: str, path: str, shown_path: str | None = None
    ) -> tuple[Route[Context], dict[str, str]]:
        """The route and its (URL-decoded) path parameters; a gateway 404 or 405 when none fits."""
        path_matched = False
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
            if route.method != method:
                path_matched = True
                continue
            return route, {name: unquote(value) for name, value in found.groupdict().items()}
        if path_matched:
            raise ApiError(405, f"Method {method} not allowed", gateway_code=GATEWAY_METHOD_CODE)
        raise no_route(shown_path or path)


def no_route(path: str) -> ApiError:
    """What Cloudflare's gateway answers for a path it cannot route (also a wrong account or app id)."""
    return ApiError(
        404,
        f"Could not route to {path}, perhaps your object identifier is invalid?",
        gateway_code=GATEWAY_NO_ROUTE_CODE,
    )
