"""What the RealtimeKit triggers share: their arguments, deadline and logger, and the polling loop of a
trigger that polls by itself (one hook per run, a fixed deadline, one event).

The recording trigger does not poll by itself: it watches through the triggerer's shared poller
(:mod:`~airflow_provider_rtk.triggers.poller`) in its own ``run()``. The active-session trigger is the one
that polls on its own, through :class:`RealtimeKitPollingTrigger`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from abc import abstractmethod
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from airflow.triggers.base import BaseTrigger, TriggerEvent
from airflow.utils.log.logging_mixin import LoggingMixin

from airflow_provider_rtk.arguments import poll_interval_argument
from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
from airflow_provider_rtk.redaction import redact

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_provider_rtk.triggers.events import RealtimeKitEvent


def describe_deadline(end_time: float | None) -> str:
    if end_time is None:
        return "no deadline"
    return datetime.fromtimestamp(end_time, tz=UTC).isoformat(timespec="seconds")


@functools.cache
def class_logger(cls: type) -> Any:
    """The logger of a trigger class, named after it (``module.Class``) and of the kind Airflow's own
    class loggers are (stdlib ``logging`` on Airflow 3.0, structlog later), made once per class:
    thousands of waiting triggers share it."""
    name = f"{cls.__module__}.{cls.__name__}"
    if isinstance(LoggingMixin.logger(), logging.Logger):
        return logging.getLogger(name)
    return structlog.get_logger(name)


class RealtimeKitTrigger(BaseTrigger):
    """The arguments every RealtimeKit trigger takes, its deadline, its logger and its hooks.

    :param realtimekit_conn_id: the RealtimeKit connection.
    :param poll_interval: seconds between two looks.
    :param end_time: deadline as absolute epoch seconds (``None``: wait forever); a restarted trigger
        keeps it.
    """

    def __init__(
        self,
        *,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.realtimekit_conn_id = realtimekit_conn_id
        #: numeric text taken; negative, zero (a tight loop) or not a number refused
        self.poll_interval = poll_interval_argument("poll_interval", poll_interval, what="trigger argument")
        self.end_time = None if end_time is None else float(end_time)

    @property
    def log(self) -> Any:
        """The class's logger, shared by its triggers (the triggerer sends each line to the log of the
        task whose trigger wrote it, whichever logger wrote it)."""
        return class_logger(type(self))

    def make_hook(self, **kwargs: Any) -> RealtimeKitAsyncHook:
        """A hook for this trigger's own requests; override to change its timeout or retry policy."""
        return RealtimeKitAsyncHook(realtimekit_conn_id=self.realtimekit_conn_id, **kwargs)

    def seconds_left(self) -> float | None:
        return None if self.end_time is None else self.end_time - time.time()


class RealtimeKitPollingTrigger(RealtimeKitTrigger):
    """The per-trigger polling loop: polls the RealtimeKit API until :meth:`check` settles, the deadline
    passes, or the API keeps failing (the active-session trigger uses it).

    Subclasses supply :meth:`check` (one look at the API), :meth:`error_event`, :meth:`timeout_event`
    and :meth:`serialize`. The loop checks first and looks at the clock after, so a trigger restarted
    after its deadline still reports what it finds once, and the last check happens at the deadline.

    Every API call goes through one :class:`RealtimeKitAsyncHook` per run, closed before the event
    fires. The hook retries transient failures (429, 5xx, lost connections) itself; a failure that
    outlasts its retries, or any other error, ends the run with an ``error`` event.
    """

    # ---------------------------------------------------------------------------------- to override

    @abstractmethod
    async def check(self, hook: RealtimeKitAsyncHook) -> RealtimeKitEvent | None:
        """Look once; return the event that ends the wait, or ``None`` to look again later."""

    @abstractmethod
    def error_event(self, message: str) -> RealtimeKitEvent:
        """The event sent when the API could not be read."""

    @abstractmethod
    def timeout_event(self) -> RealtimeKitEvent:
        """The event sent when the deadline has passed."""

    async def deadline_passed(self) -> RealtimeKitEvent:
        """The deadline has passed: do what must be done then, and return the event to fire."""
        return self.timeout_event()

    async def pause(self, left: float | None) -> None:
        """Wait between two checks: ``poll_interval``, or what is ``left`` before the deadline."""
        await asyncio.sleep(self.poll_interval if left is None else min(self.poll_interval, left))

    # ---------------------------------------------------------------------------------- the loop

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self.poll()
        yield TriggerEvent(dict(event.to_payload()))  # type: ignore[no-untyped-call]

    async def poll(self) -> RealtimeKitEvent:
        """Poll until the wait is settled; the hook is closed before this returns."""
        hook = self.make_hook()
        try:
            while True:
                try:
                    event = await self.check(hook)
                except Exception as error:
                    return self.error_event(failure_text(self.log, error))
                if event is not None:
                    return event
                left = self.seconds_left()
                if left is not None and left <= 0:
                    return await self.deadline_passed()
                await self.pause(left)
        finally:
            await hook.aclose()


def failure_text(log: Any, error: Exception) -> str:
    """Log a look that failed and return what its ``error`` event says (secrets redacted)."""
    if isinstance(error, RealtimeKitError):
        log.error("RealtimeKit check failed after the hook's retries: %s", error)
        return str(error)
    log.exception("RealtimeKit check failed")
    return f"{type(error).__name__}: {redact(str(error))}"
