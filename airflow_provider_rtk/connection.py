"""A RealtimeKit connection, read and checked before any request: :class:`ConnectionSettings`.

Every rule about what a connection may hold (ids, token, host, numeric extras, ``recording_link``,
``second_start``) lives here; the hooks only use the result. A connection extra is added here and in
``get_provider_info.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from airflow_provider_rtk import redaction
from airflow_provider_rtk.exceptions import RealtimeKitConnectionConfigError
from airflow_provider_rtk.get_provider_info import CONN_FIELDS, DEFAULT_BASE_URL
from airflow_provider_rtk.links import RECORDING_LINK_EXTRA, check_link_template

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Connection

__all__ = ["SECOND_START_CHOICES", "ConnectionSettings"]


@dataclass(frozen=True)
class ConnectionSettings:
    """What a RealtimeKit connection holds, checked. The token never appears in a repr."""

    base_url: str
    account_id: str
    app_id: str
    api_token: str = field(repr=False)
    #: Optional extras: seconds per request, and attempts per call (retries + 1).
    timeout: float | None = None
    max_attempts: int | None = None
    #: Optional extra: the largest answer read, in bytes (default 4 MiB).
    max_response_bytes: int | None = None
    #: Optional extra ``recording_link``: where a recording can be looked at (see ``links``).
    recording_link: str | None = None
    #: Optional extra ``second_start``: what the service does with a track start while the meeting is
    #: being recorded. ``"unknown"`` (the default) or ``"accepted"``: after each accepted start the
    #: operator reads the meeting's active recording, so two racing starts converge (one request
    #: more). ``"refused"``: the service answers such a start with a refusal, which already
    #: converges races, so that read is skipped.
    second_start: str = "unknown"

    @property
    def app_url(self) -> str:
        return f"{self.base_url}/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    @classmethod
    def from_connection(cls, conn: Connection) -> ConnectionSettings:
        """Read and check an Airflow connection before any request; the error names every bad field
        and the connection id, and never shows the token."""
        extra = conn.extra_dejson
        problems: list[str] = []
        if not isinstance(extra, dict):
            problems.append("extra must be a JSON object")
            extra = {}
        missing = [f"extra.{name}" for name in CONN_FIELDS if _blank(extra.get(name))]
        token = conn.password.strip() if isinstance(conn.password, str) else ""
        if not token:
            missing.insert(0, "password (the API token)")
        if missing:
            problems.insert(0, f"is missing {', '.join(missing)}")
        ids = {name: _path_segment(name, extra.get(name), problems) for name in CONN_FIELDS}
        if token:
            _check_token(token, problems)
        try:
            base_url = _base_url(conn.host, conn.port)
        except ValueError as error:
            problems.append(str(error))
            base_url = DEFAULT_BASE_URL
        numbers = {
            name: _positive_extra(conn, name, kind, problems=problems)
            for name, kind in (("timeout", float), ("max_attempts", int), ("max_response_bytes", int))
        }
        try:
            recording_link = check_link_template(extra.get(RECORDING_LINK_EXTRA))
        except RealtimeKitConnectionConfigError as error:
            problems.append(str(error))
            recording_link = None
        second_start = _choice_extra(extra, "second_start", SECOND_START_CHOICES, problems)
        if problems:
            raise RealtimeKitConnectionConfigError(_connection_problem(conn.conn_id, problems))
        return cls(
            base_url=base_url,
            account_id=ids["account_id"],
            app_id=ids["app_id"],
            api_token=token,
            recording_link=recording_link,
            second_start=second_start,
            **numbers,
        )

    @property
    def second_start_refused(self) -> bool:
        """The connection says the service refuses a start while the meeting is being recorded."""
        return self.second_start == "refused"


#: Values of extra ``second_start``; the first is the default.
SECOND_START_CHOICES = ("unknown", "accepted", "refused")


def _choice_extra(extra: Mapping[str, Any], name: str, choices: Sequence[str], problems: list[str]) -> str:
    """An optional extra that is one of ``choices`` (case and surrounding blanks ignored); the first
    when it is not set. A wrong value is appended to ``problems``, naming ``extra.<name>``."""
    value = extra.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return choices[0]
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    allowed = ", ".join(repr(choice) for choice in choices)
    problems.append(f"extra.{name} must be one of {allowed}, not {str(value)[:40]!r}")
    return choices[0]


def _connection_problem(conn_id: str | None, problems: list[str]) -> str:
    if problems[0].startswith("is missing"):
        first, rest = problems[0], problems[1:]
        return redaction.redact(
            f"RealtimeKit connection {conn_id!r} {first}" + "".join(f"; {item}" for item in rest)
        )
    return redaction.redact(f"RealtimeKit connection {conn_id!r}: {'; '.join(problems)}")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: An account or app id goes into the URL path: one segment, nothing to escape, no dot segments.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}")


def _path_segment(name: str, value: Any, problems: list[str]) -> str:
    """``extra.<name>`` as one URL path segment (no ``/ ? # %``, ``..`` or whitespace), else a problem."""
    if _blank(value):
        return ""  # reported as missing
    if not isinstance(value, str):
        problems.append(f"extra.{name} must be text (a JSON string), not {type(value).__name__}")
        return ""
    text = value.strip()
    if not _SEGMENT_RE.fullmatch(text) or ".." in text:
        problems.append(
            f"extra.{name} must be one URL path segment (letters, digits, '-', '_', '.', '~'; no '/', "
            f"'?', '#', '%', '..' or whitespace), not {text[:80]!r}"
        )
        return ""
    return text


def _check_token(token: str, problems: list[str]) -> None:
    """The token goes into a header: printable ASCII only (it is never quoted back)."""
    bad = next((index for index, char in enumerate(token) if not 33 <= ord(char) <= 126), None)
    if bad is not None:
        problems.append(
            f"password (the API token) must be printable ASCII without spaces or control characters "
            f"(character {bad + 1} of {len(token)} is not; the token is not shown)"
        )


#: Allowed ranges of the numeric extras: (minimum, maximum), and whether a fraction makes sense.
_EXTRA_RANGES: dict[str, tuple[float, float]] = {
    "timeout": (0.001, 3600.0),
    "max_attempts": (1, 100),
    "max_response_bytes": (1024, 1024**3),
}


def _positive_extra(
    conn: Connection, name: str, kind: type[float] | type[int], *, problems: list[str] | None = None
) -> Any:
    """An optional positive number from the connection's extra (a number or numeric text): finite,
    in range, and whole when ``kind`` is ``int``. The error names ``extra.<name>`` and the connection;
    with ``problems`` it is appended there instead of raised."""
    extra = conn.extra_dejson if isinstance(conn.extra_dejson, dict) else {}
    value = extra.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    low, high = _EXTRA_RANGES.get(name, (0.0, math.inf))
    number: float | None = None
    if not isinstance(value, bool) and isinstance(value, int | float | str):
        try:
            number = float(value)
        except ValueError:
            number = None
    problem = None
    if number is None or not math.isfinite(number):
        problem = f"extra.{name} must be a finite number, not {str(value)[:40]!r}"
    elif kind is int and not number.is_integer():
        problem = f"extra.{name} must be a whole number, not {value!r}"
    elif not low <= number <= high:
        problem = f"extra.{name} must be between {low:g} and {high:g}, not {value!r}"
    if problem is None:
        return int(number) if kind is int else number  # type: ignore[arg-type]
    if problems is None:
        raise RealtimeKitConnectionConfigError(f"RealtimeKit connection {conn.conn_id!r}: {problem}")
    problems.append(problem)
    return None


def _base_url(host: str | None, port: int | None) -> str:
    """The connection's host as a base URL: any scheme (http, https), host, port and path prefix;
    ``https://`` when no scheme is written. ``ValueError`` names ``host`` (user info is never shown)."""
    if not host or not host.strip():
        return DEFAULT_BASE_URL
    url = host.strip().rstrip("/")
    if any(not char.isprintable() or char.isspace() for char in url):
        raise ValueError("host must not hold whitespace or control characters")
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ValueError(
            "host must not hold user info (user:password@): the API token goes in the password field"
        )
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"host must start with http:// or https://, not {parts.scheme[:20]!r}://")
    if not parts.hostname:
        raise ValueError(f"host has no host name: {url[:100]!r}")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("host must not have a query (?) or fragment (#)")
    try:
        written_port = parts.port
    except ValueError:
        raise ValueError(f"host has an invalid port: {parts.netloc[:100]!r}") from None
    if port is not None and not (isinstance(port, int) and 1 <= port <= 65_535):
        raise ValueError(f"port must be between 1 and 65535, not {port!r}")
    if port and written_port is None:
        url = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    return url


#: The connection extra naming the page of the public key that signs webhook deliveries.
WEBHOOK_KEYS_URL_EXTRA = "webhook_keys_url"
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _url_parts(url: str) -> SplitResult | None:
    """``url`` split, or ``None`` when its port or IPv6 literal is broken (no client could fetch it)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    return None if port == 0 else parts


def webhook_keys_url(conn_id: str, extra: Any) -> str:
    """The connection's ``extra.webhook_keys_url`` (Cloudflare's page when unset), checked: an
    ``https://`` URL, or ``http://`` to a loopback host (the emulator). The error names the extra and
    the connection. Only this extra is read: the receiver needs neither the token nor the ids."""
    from airflow_provider_rtk.webhooks.signature import DEFAULT_KEYS_URL

    value = extra.get(WEBHOOK_KEYS_URL_EXTRA) if isinstance(extra, dict) else None
    if _blank(value):
        return DEFAULT_KEYS_URL
    problem = None
    if not isinstance(value, str):
        problem = f"must be text (a URL), not {type(value).__name__}"
    else:
        url = value.strip()
        parts = _url_parts(url)
        if any(not char.isprintable() or char.isspace() for char in url):
            problem = "must not hold whitespace or control characters"
        elif parts is None:
            problem = "has a broken port or IPv6 address"  # (the URL is not quoted: it may hold user info)
        elif "@" in parts.netloc:
            problem = "must not hold user info (user:password@)"
        elif not parts.hostname:
            problem = f"must be an absolute URL, not {url[:80]!r}"
        elif parts.scheme.lower() == "https" or (
            parts.scheme.lower() == "http" and parts.hostname in _LOOPBACK_HOSTS
        ):
            return url
        else:
            problem = f"must be an https:// URL (http:// only to a loopback host), not {url[:80]!r}"
    raise RealtimeKitConnectionConfigError(
        f"RealtimeKit connection {conn_id!r}: extra.{WEBHOOK_KEYS_URL_EXTRA} {problem}"
    )
