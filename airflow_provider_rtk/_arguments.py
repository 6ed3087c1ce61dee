"""Checks of operator, sensor and trigger arguments that DAG files pass (light: imported at parse time).

Numbers may arrive as numbers, numeric text or ``timedelta``; anything else, and anything not finite or
out of range, is a :class:`~airflow_provider_rtk.exceptions.RealtimeKitPayloadError` naming the argument,
raised when the DAG is parsed rather than when the task runs.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError

#: The shortest wait between two polls of the API (operator, sensors and triggers alike): a zero or
#: negative interval would poll in a tight loop.
MIN_POLL_INTERVAL = 0.01


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
        raise RealtimeKitPayloadError([FieldError(name, problem)], what=what)
    return number  # type: ignore[return-value]


def poll_interval_argument(name: str, value: Any, what: str = "operator argument") -> float:
    """A poll interval: seconds, at least :data:`MIN_POLL_INTERVAL`."""
    return seconds_argument(name, value, minimum=MIN_POLL_INTERVAL, what=what)
