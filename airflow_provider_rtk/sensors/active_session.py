"""Sensor that waits for a meeting to have a live session (somebody joined)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.sensors.base import RealtimeKitBaseSensor

if TYPE_CHECKING:
    from airflow_provider_rtk.triggers.active_session import RealtimeKitActiveSessionTrigger
    from airflow_provider_rtk.triggers.events import ActiveSessionEvent


class RealtimeKitActiveSessionSensor(RealtimeKitBaseSensor["ActiveSessionEvent"]):
    """Waits until a meeting has a ``LIVE`` active session; returns ``{"meeting_id", "session_id"}``.

    A track recording can only start in a live session: put this sensor before the start operator.
    Works in ``poke`` and ``reschedule`` mode, and deferrable (``deferrable=True``), in which case
    :class:`~airflow_provider_rtk.triggers.RealtimeKitActiveSessionTrigger` waits in the triggerer.

    :param meeting_id: the meeting to watch (templated).
    :param realtimekit_conn_id: the RealtimeKit connection (templated).
    :param deferrable: wait in the triggerer instead of on a worker (default
        ``[operators] default_deferrable``).
    :param kwargs: anything :class:`~airflow.sdk.BaseSensorOperator` takes (``poke_interval``,
        ``timeout``, ``mode``, ``soft_fail``...).
    """

    template_fields: Sequence[str] = ("meeting_id", "realtimekit_conn_id")

    def __init__(self, *, meeting_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meeting_id = meeting_id

    def check(self) -> ActiveSessionEvent | None:
        from airflow_provider_rtk.triggers.events import active_session_event

        meeting_id = self.rendered_id("meeting_id")
        session = self.hook.get_active_session(meeting_id)
        event = active_session_event(meeting_id, session)
        if event is None:
            state = "no session" if session is None else f"session {session.id} is {session.status}"
            self.log.info("Meeting %s: %s; waiting for a live session", meeting_id, state)
        return event

    def make_trigger(self, end_time: float) -> RealtimeKitActiveSessionTrigger:
        from airflow_provider_rtk.triggers.active_session import RealtimeKitActiveSessionTrigger

        return RealtimeKitActiveSessionTrigger(
            meeting_id=self.rendered_id("meeting_id"),
            realtimekit_conn_id=self.realtimekit_conn_id,
            poll_interval=self.poke_interval,
            end_time=end_time,
        )

    def parse_event(self, event: Any) -> ActiveSessionEvent:
        from airflow_provider_rtk.triggers.events import ActiveSessionEvent

        return ActiveSessionEvent.parse(event)

    def success_value(self, event: ActiveSessionEvent) -> dict[str, Any]:
        return {"meeting_id": event.meeting_id, "session_id": event.session_id}

    def fail(self, event: ActiveSessionEvent) -> NoReturn:
        raise RealtimeKitError(event.message)
