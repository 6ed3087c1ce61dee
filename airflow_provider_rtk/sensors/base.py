"""What the RealtimeKit sensors share: the hook's life cycle, deferral, and turning an event into a result.

Imported by DAG files: nothing heavier than ``airflow.sdk`` is imported at module level.
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
)

from airflow_provider_rtk.arguments import poll_interval_argument, rendered_id
from airflow_provider_rtk.exceptions import (  # re-exported: airflow_provider_rtk.sensors names it
    RealtimeKitRecordingFailedNoRetryError as RealtimeKitRecordingFailedNoRetryError,
)
from airflow_provider_rtk.exceptions import deprecated_alias
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.version_compat import default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.triggers.events import RealtimeKitEvent

EventT = TypeVar("EventT", bound="RealtimeKitEvent")

#: Airflow fails a deferred sensor itself this long after its ``timeout`` if the trigger never answered
#: (the trigger fires its own ``timeout`` event at the deadline, so this is only a safety net).
DEFER_GRACE_SECONDS = 60.0


class RealtimeKitBaseSensor(BaseSensorOperator, Generic[EventT]):
    """Base of the RealtimeKit sensors: poke, reschedule or deferrable.

    A subclass supplies :meth:`check` (one look, as an event or ``None``), :meth:`make_trigger`,
    :meth:`parse_event`, :meth:`success_value` and :meth:`fail`; this class runs them in all three modes.

    :param realtimekit_conn_id: the RealtimeKit connection (password: API token; extra: account_id,
        app_id).
    :param deferrable: wait in the triggerer instead of on a worker (default
        ``[operators] default_deferrable``). The trigger gets the deadline ``now + timeout`` and polls
        every ``poke_interval`` seconds.
    """

    ui_color = "#f38020"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = default_deferrable(),
        **kwargs: Any,
    ) -> None:
        if "poke_interval" in kwargs:  # numeric text taken, a tight loop refused (when the DAG is parsed)
            kwargs["poke_interval"] = poll_interval_argument(
                "poke_interval", kwargs["poke_interval"], what="sensor argument"
            )
        super().__init__(**kwargs)
        # again for a value that came from the DAG's default_args, which reach BaseSensorOperator only
        self.poke_interval = poll_interval_argument(
            "poke_interval", self.poke_interval, what="sensor argument"
        )
        self.realtimekit_conn_id = realtimekit_conn_id
        self.deferrable = deferrable

    # ---------------------------------------------------------------------------------- to override

    def check(self) -> EventT | None:
        """Look once (through :attr:`hook`); the event that ends the wait, or ``None``."""
        raise NotImplementedError

    def make_trigger(self, end_time: float) -> BaseTrigger:
        """The trigger a deferrable sensor waits on."""
        raise NotImplementedError

    def parse_event(self, event: Any) -> EventT:
        """The trigger's event payload, typed."""
        raise NotImplementedError

    def success_value(self, event: EventT) -> Any:
        """What the sensor returns (its XCom) on success."""
        raise NotImplementedError

    def fail(self, event: EventT) -> NoReturn:
        """Raise the exception an ``error`` event stands for."""
        raise NotImplementedError

    def on_success(self, context: Context, event: EventT) -> None:
        """Called once the wait has succeeded, before the value is returned (e.g. asset events)."""

    # ---------------------------------------------------------------------------------- machinery

    @cached_property
    def hook(self) -> RealtimeKitHook:
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        return RealtimeKitHook(realtimekit_conn_id=self.realtimekit_conn_id)

    def close_hook(self) -> None:
        hook = self.__dict__.pop("hook", None)
        if hook is not None:
            hook.close()

    def rendered_id(self, field: str) -> str:
        """A templated id, refusing what a template renders when an upstream XCom was missing."""
        return rendered_id(field, getattr(self, field), what="sensor argument")

    def poke(self, context: Context) -> PokeReturnValue:
        event = self.check()
        if event is None:
            return PokeReturnValue(is_done=False)
        if event.is_success:
            self.log.info("%s", event.message)
            self.on_success(context, event)
            return PokeReturnValue(is_done=True, xcom_value=self.success_value(event))
        self.fail(event)

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            self.defer(
                trigger=self.make_trigger(end_time=time.time() + self.timeout),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + self.poke_interval + DEFER_GRACE_SECONDS),
            )
        try:
            return super().execute(context)
        finally:
            self.close_hook()

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after the trigger fired: return on success, fail on error, time out on timeout."""
        parsed = self.parse_event(event)
        if parsed.is_success:
            self.log.info("%s", parsed.message)
            self.on_success(context, parsed)
            return self.success_value(parsed)
        if parsed.is_timeout:
            if self.soft_fail:
                raise AirflowSkipException(f"{parsed.message} Skipping (soft_fail).")
            raise AirflowSensorTimeout(parsed.message)
        self.fail(parsed)


def __getattr__(name: str) -> Any:
    """``RealtimeKitRecordingFailed``: the deprecated name of ``RealtimeKitRecordingFailedNoRetryError``."""
    return deprecated_alias(__name__, name)
