"""A trigger run as Airflow's triggerer runs it, for tests: Airflow's own ``TriggerRunner.run_trigger``
(so a trigger that opts into a shared stream in ack mode runs as one) and a stand-in for the
triggerer's supervisor that saves each event it is handed and confirms it back to the runner, as
``TriggerRunnerSupervisor.handle_events`` does after ``Trigger.submit_event`` returned. Told
``saving=False`` it confirms nothing, as when the triggerer is killed before the event was saved.

Below Airflow 3.3 (no shared streams) the trigger's ``run()`` is iterated directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS


class Triggerer:
    """``Triggerer(trigger)``: runs it until :meth:`stop`; ``events`` gets each fired payload."""

    def __init__(self, trigger: Any, *, saving: bool = True) -> None:
        self.trigger = trigger
        self.saving = saving
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        #: payloads the supervisor saved (and confirmed), and those it was handed but never saved
        self.saved: list[dict[str, Any]] = []
        self.unsaved: list[dict[str, Any]] = []
        self._tasks: list[asyncio.Task[None]] = []
        if AIRFLOW_V_3_3_PLUS:
            from airflow.jobs.triggerer_job_runner import TriggerRunner

            self.runner = TriggerRunner()
            self.runner.triggers[1] = {"name": "watch", "events": 0, "is_watcher": True, "task": None}
            self._tasks.append(asyncio.ensure_future(self.runner.run_trigger(1, trigger)))
            self._tasks.append(asyncio.ensure_future(self._supervise()))
        else:  # pragma: no cover - Airflow below 3.3
            self._tasks.append(asyncio.ensure_future(self._iterate()))

    async def _iterate(self) -> None:
        async for event in self.trigger.run():
            self.saved.append(event.payload)
            await self.events.put(event.payload)

    async def _supervise(self) -> None:
        """Hand each queued event over; save and confirm it (``saving``), or drop it unconfirmed."""
        while True:
            while self.runner.events:
                entry = self.runner.events.popleft()
                if self.saving:
                    self.saved.append(entry.event.payload)
                    if entry.persist_seq is not None:
                        self.runner._shared_streams.confirm_persisted([entry.persist_seq])
                else:
                    self.unsaved.append(entry.event.payload)
                await self.events.put(entry.event.payload)
            await asyncio.sleep(0.05)

    def _check(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # a trigger that failed fails the test

    async def next(self, seconds: float) -> dict[str, Any] | None:
        """The next event within ``seconds``, or ``None``."""
        try:
            return await asyncio.wait_for(self.events.get(), timeout=seconds)
        except TimeoutError:
            self._check()
            return None

    async def until(self, condition: Callable[[], bool], seconds: float = 30.0) -> None:
        """Wait until ``condition()`` holds (or fail after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while not condition():
            self._check()
            assert time.monotonic() < deadline, "condition not met in time"
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop as a killed triggerer stops: nothing more is saved or confirmed. A trigger that does
        not end within 30 s of its cancellation fails the test (rather than hanging it)."""
        self._check()
        for task in reversed(self._tasks):
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=30)
            assert done, "the trigger did not stop within 30 s of its cancellation"
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def drained(self) -> list[dict[str, Any]]:
        """Every event fired and not yet taken with :meth:`next`."""
        events = []
        while not self.events.empty():
            events.append(self.events.get_nowait())
        return events
