"""Every rule on DAG input, written once (light: the standard library only, so that DAG files may import
it, and it is imported at parse time; ``exceptions`` loads when an argument is refused).

Ids (:data:`ID_PATTERN`), text a template renders for nothing (:data:`RENDERED_NOTHING`), JSON text
where a structure is expected (:func:`decode_json_field`, :func:`decode_layers`), the statuses one can
wait for (:data:`WAITABLE_STATUSES`), choices (:func:`choice_argument`) and numbers. Numbers may arrive
as numbers, numeric text or ``timedelta``; anything else, and anything not finite or out of range, is
a :class:`~airflow_provider_rtk.exceptions.RealtimeKitPayloadError` naming the argument, raised when
the DAG is parsed rather than when the task runs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError

#: Ids travel in URL paths, so they are held to characters that need no quoting (UUIDs, room names).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
ID_RE = re.compile(ID_PATTERN)
#: What a template renders when its value is not there: a missing XCom, an empty form field, JSON null.
RENDERED_NOTHING: tuple[str, ...] = ("", "None", "null")
#: The statuses one can wait for: every status but ``ERRORED``, in lifecycle order.
WAITABLE_STATUSES: tuple[str, ...] = ("INVOKED", "RECORDING", "PAUSED", "UPLOADING", "UPLOADED")

#: What a start does when the meeting already has an active recording this task did not start (the
#: operator's ``if_active``; :class:`~airflow_provider_rtk.ownership.IfActive` holds the same values).
IF_ACTIVE_CHOICES: tuple[str, ...] = ("attach", "fail", "stop_and_start")

#: The shortest wait between two polls of the API (operator, sensors and triggers alike): a zero or
#: negative interval would poll in a tight loop.
MIN_POLL_INTERVAL = 0.01


def refused(field: str, problem: str, what: str = "track recording request") -> RealtimeKitPayloadError:
    """The error refusing ``field`` for ``problem`` (a payload error; :mod:`~airflow_provider_rtk.exceptions`
    is imported here, when something is refused: a DAG file that is right parses without it)."""
    from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError

    return RealtimeKitPayloadError([FieldError(field, problem)], what=what)


def seconds_argument(
    name: str, value: Any, *, minimum: float, what: str = "operator argument", exclusive: bool = False
) -> float:
    """``value`` as seconds (a number, numeric text or ``timedelta``), at least ``minimum`` (above it
    with ``exclusive``) and finite; otherwise an error naming ``name``."""
    if isinstance(value, timedelta):
        number: float | None = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        number = None
    else:
        try:
            number = float(value)
        except ValueError:
            number = None
    problem = None
    if number is None:
        problem = f"must be a number of seconds (or a timedelta), not {str(value)[:40]!r}"
    elif not math.isfinite(number):
        problem = f"must be a finite number of seconds, not {value!r}"
    elif number < 0:
        problem = f"must not be negative, not {value!r}"
    elif number < minimum or (exclusive and number == minimum):
        bound = "more than" if exclusive else "at least"
        problem = f"must be {bound} {minimum:g} seconds, not {value!r}"
    if problem is not None:
        raise refused(name, problem, what)
    return number  # type: ignore[return-value]


def poll_interval_argument(name: str, value: Any, what: str = "operator argument") -> float:
    """A poll interval: seconds, at least :data:`MIN_POLL_INTERVAL`."""
    return seconds_argument(name, value, minimum=MIN_POLL_INTERVAL, what=what)


def whole_number_argument(
    name: str, value: Any, low: int, high: int, unit: str, what: str = "operator argument"
) -> int:
    """``value`` as a whole number from ``low`` to ``high`` (a ``bool`` is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise refused(name, f"must be a whole number of {unit} from {low} to {high}, not {value!r}", what)
    return value


def choice_argument(name: str, value: Any, choices: Iterable[str], what: str = "operator argument") -> str:
    """``value`` (any case, blanks around it) as one of ``choices``; otherwise an error listing them."""
    choices = tuple(choices)
    chosen = str(value).strip().lower()
    if chosen not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        raise refused(name, f"must be one of {listed}, not {value!r}", what)
    return chosen


def rendered_nothing(value: Any) -> bool:
    """Text a template renders for nothing (``''``, ``'None'``, ``'null'``, blanks around them)."""
    return isinstance(value, str) and value.strip() in RENDERED_NOTHING


def nothing_rendered_error(field: str, value: str) -> FieldError:
    """The error for ``field``, whose template rendered ``value`` (nothing)."""
    from airflow_provider_rtk.exceptions import FieldError

    return FieldError(
        field,
        f"rendered {value.strip()!r}, what a template gives for a missing value (did an upstream task "
        "not push its XCom, or a form field stay empty?); leave the argument out to omit it",
    )


def rendered_id(field: str, value: Any, what: str = "operator argument") -> str:
    """A templated id (meeting or recording), stripped: text matching :data:`ID_PATTERN`; refuses
    what a template renders when an upstream XCom was missing, naming ``field``."""
    if value is None or rendered_nothing(value):
        nothing = nothing_rendered_error(field, str(value or ""))
        raise refused(nothing.path, nothing.message, what)
    if not isinstance(value, str) or not ID_RE.fullmatch(value.strip()):
        raise refused(field, f"not a valid id: {str(value)[:80]!r}", what)
    return value.strip()


def target_status_argument(value: Any) -> str:
    """``target_status`` normalised (one of :data:`WAITABLE_STATUSES`), or a ``ValueError`` when the
    DAG is parsed."""
    status = str(value).strip().upper()
    if status == "ERRORED":
        raise ValueError(f"target_status cannot be ERRORED; wait for one of {', '.join(WAITABLE_STATUSES)}")
    if status not in WAITABLE_STATUSES:
        raise ValueError(f"target_status {value!r} is not one of {', '.join(WAITABLE_STATUSES)}")
    return status


def decode_json_field(field: str, value: Any) -> Any:
    """A template renders to text: accept JSON text wherever a structure is expected (decoded once)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except RecursionError:
        raise refused(field, "JSON nested too deeply") from None
    except json.JSONDecodeError as error:
        raise refused(
            field, f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None


def decode_layers(layers: Any) -> Any:
    """The one place ``layers`` is decoded: JSON text once, a structure as it is, ``None`` as ``None``.

    Text that rendered to nothing, and JSON text that holds JSON text again (encoded twice), are
    field errors: what is validated, masked and sent is always this one decoding.
    """
    if layers is None or not isinstance(layers, str):
        return layers
    if rendered_nothing(layers):
        nothing = nothing_rendered_error("layers", layers)
        raise refused(nothing.path, nothing.message)
    decoded = decode_json_field("layers", layers)
    if isinstance(decoded, str):
        raise refused("layers", "JSON text that holds JSON text (encoded twice): encode it once")
    return decoded


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware time: a naive one (the API and some stores write them) is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# Post-meeting transcripts and summaries

#: What a session leaves after it ends when its meeting asks for it, in the order they are produced.
SESSION_DOCUMENTS: tuple[str, ...] = ("transcript", "summary")
#: The transcript file formats ``GET /sessions/{id}/transcript?format=`` takes (Cloudflare's TypeScript
#: reference; the others document only the default, CSV).
TRANSCRIPT_FORMATS: tuple[str, ...] = ("CSV", "JSON", "SRT", "VTT")


def optional_flag(name: str, value: Any, what: str = "request") -> bool | None:
    """``True``, ``False`` or ``None`` (left out); anything else (``"yes"``, ``1``) is an error naming
    ``name``."""
    if value is None or isinstance(value, bool):
        return value
    raise refused(name, f"must be true or false, not {value!r}", what)


def session_documents_argument(value: Any, what: str = "operator argument") -> tuple[str, ...]:
    """``include``: one of :data:`SESSION_DOCUMENTS` or several (text or a list), each once, at least one."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, bytes | dict):
        items = [items]
    chosen = [choice_argument("include", item, SESSION_DOCUMENTS, what) for item in items]
    if not chosen:
        raise refused("include", f"must name at least one of {', '.join(SESSION_DOCUMENTS)}", what)
    return tuple(dict.fromkeys(chosen))


def transcript_format_argument(value: Any, what: str = "operator argument") -> str | None:
    """``transcript_format``: ``None`` (the service's default, CSV) or one of :data:`TRANSCRIPT_FORMATS`
    in any case."""
    if value is None:
        return None
    chosen = str(value).strip().upper()
    if chosen not in TRANSCRIPT_FORMATS:
        raise refused(
            "transcript_format", f"must be one of {', '.join(TRANSCRIPT_FORMATS)}, not {value!r}", what
        )
    return chosen


# Webhooks (registering one: the URL and events the service is to call)

#: Events a RealtimeKit webhook may subscribe to (Cloudflare's webhooks API).
WEBHOOK_EVENTS: tuple[str, ...] = (
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "meeting.chatSynced",
    "recording.statusUpdate",
    "livestreaming.statusUpdate",
    "meeting.transcript",
    "meeting.summary",
)
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def webhook_events_argument(value: Any, what: str = "operator argument") -> list[str]:
    """One event or a non-empty list of :data:`WEBHOOK_EVENTS`, each once, sorted; the error lists
    the valid ones."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not items:
        raise refused("events", f"must be a non-empty list of {', '.join(WEBHOOK_EVENTS)}", what)
    wrong = [str(item)[:60] for item in items if item not in WEBHOOK_EVENTS]
    if wrong:
        raise refused("events", f"unknown {', '.join(wrong)}; valid: {', '.join(WEBHOOK_EVENTS)}", what)
    return sorted(set(items))


def webhook_url_argument(value: Any, what: str = "operator argument") -> str:
    """The URL the service is to call: ``https://`` (``http://`` only to a loopback host, for the
    emulator), no user info, no fragment."""
    from urllib.parse import urlsplit

    problem = None
    text = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(text)
    if not text:
        problem = "must be a URL"
    elif any(not char.isprintable() or char.isspace() for char in text) or len(text) > 2048:
        problem = "must not hold whitespace or control characters (and at most 2048 characters)"
    elif "@" in parts.netloc or parts.fragment or not parts.hostname:
        problem = f"must be an absolute URL without user info or fragment, not {text[:80]!r}"
    elif not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)):
        problem = f"must be an https:// URL (http:// only to a loopback host), not {text[:80]!r}"
    if problem:
        raise refused("url", problem, what)
    return text
