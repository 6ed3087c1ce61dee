"""Injected faults: make the next call(s) of an operation fail, stall, or lose its answer.

Kinds: ``status`` (answer with that status, in the envelope the real service would use), ``delay``
(sleep, then handle normally), ``drop_before`` (close the connection, no effect) and ``drop_after``
(the operation takes effect, then the connection closes with no answer).

JSON form: ``{"operation": "<operationId>" | "*", "kind": ..., "status": 503, "retry_after": 2,
"seconds": 5, "times": 1, "after": 0}``; ``times`` defaults to 1, ``null`` means every call until
cleared; ``after`` lets that many matching calls through first.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

FaultKind = Literal["status", "delay", "drop_before", "drop_after"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: A fault for this operation matches every API operation.
ANY_OPERATION = "*"
_FIELDS = ("operation", "kind", "status", "retry_after", "seconds", "times", "after")


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Fault:
    """One fault; ``times`` of ``None`` means every matching call, for ever."""

    operation: str
    kind: FaultKind
    status: int | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    times: int | None = 1
    after: int = 0
    id: str = field(default_factory=_new_id)
    hits: int = 0
    passed: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _number(data: dict[str, Any], name: str, *, minimum: float = 0) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ValueError(f"{name}: must be a number >= {minimum:g}")
    return float(value)


def _integer(data: dict[str, Any], name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum and value > maximum)
    ):
        bounds = f"between {minimum} and {maximum}" if maximum else f">= {minimum}"
        raise ValueError(f"{name}: must be an integer {bounds}")
    return value


def parse_fault(data: Any, operations: Collection[str]) -> Fault:
    """A fault from its JSON form; ``ValueError`` names the field that is wrong."""
    if not isinstance(data, dict):
        raise ValueError("(body): must be a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field; known fields: {', '.join(_FIELDS)}")
    operation = data.get("operation")
    if operation != ANY_OPERATION and operation not in operations:
        raise ValueError(f"operation: must be '*' or one of {', '.join(sorted(operations))}")
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind: must be one of {', '.join(FAULT_KINDS)}")
    status = _integer(data, "status", minimum=400, maximum=599)
    if kind == "status" and status is None:
        raise ValueError("status: a 'status' fault needs the HTTP status to answer with (400-599)")
    seconds = _number(data, "seconds")
    if kind == "delay" and seconds is None:
        raise ValueError("seconds: a 'delay' fault needs the seconds to wait")
    times = _integer(data, "times", minimum=1) if "times" in data else 1
    return Fault(
        operation=str(operation),
        kind=kind,
        status=status,
        retry_after=_number(data, "retry_after"),
        seconds=seconds or 0.0,
        times=times,
        after=_integer(data, "after", minimum=0) or 0,
    )


class FaultPlan:
    """The faults waiting to happen, in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
            return dataclasses.replace(fault)

    def take(self, operation: str) -> Fault | None:
        """The first fault for ``operation`` (used up once its ``times`` run out), or ``None``."""
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, ANY_OPERATION):
                    if fault.passed < fault.after:
                        fault.passed += 1
                        continue
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return dataclasses.replace(fault)
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]
