"""A worker-side task state store backend for the tests: Airflow's own (the metadata database), except
that it refuses the writes a test plans - a real failure of a task state store write, made through
Airflow 3.3's public extension point (``[workers] state_store_backend``), not by patching the provider.

Only for Airflow 3.3+ (import it where the store exists; :func:`refusing` routes the store through it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.state.metastore import MetastoreBackend

if TYPE_CHECKING:
    import pytest


@dataclass
class Refusal:
    """Refuse writes of ``key`` (only those of a journal entry in ``phase``, if given), ``times`` times
    (``None``: every time)."""

    key: str
    phase: str | None = None
    times: int | None = 1
    refused: int = 0

    def applies(self, key: str, value: Any) -> bool:
        if key != self.key or (self.times is not None and self.refused >= self.times):
            return False
        return self.phase is None or (isinstance(value, dict) and value.get("phase") == self.phase)


#: What the backend refuses; the tests set it (dag.test() runs the task in the test's process).
REFUSALS: list[Refusal] = []


class RefusingStateStore(MetastoreBackend):  # type: ignore[misc]
    def serialize_task_state_store_to_ref(self, *, value: Any, key: str, scope: Any) -> str:
        for refusal in REFUSALS:
            if refusal.applies(key, value):
                refusal.refused += 1
                raise RuntimeError(f"the task state store is unavailable (writing {key!r})")
        return super().serialize_task_state_store_to_ref(value=value, key=key, scope=scope)  # type: ignore[no-any-return]


def refusing(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Refusal]]:
    """For a fixture: route the task state store through :class:`RefusingStateStore`; append to the
    list it yields to plan refusals."""
    from airflow.sdk.execution_time.context import _get_worker_state_store_backend

    monkeypatch.setenv("AIRFLOW__WORKERS__STATE_STORE_BACKEND", f"{__name__}.RefusingStateStore")
    _get_worker_state_store_backend.cache_clear()  # Airflow caches the backend it loaded
    REFUSALS.clear()
    yield REFUSALS
    REFUSALS.clear()
    monkeypatch.undo()
    _get_worker_state_store_backend.cache_clear()
