"""Trigger that waits, in the triggerer, for a meeting to have a live session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.triggers.base import RealtimeKitPollingTrigger, describe_deadline
from airflow_provider_rtk.triggers.events import ActiveSessionEvent, active_session_event

if TYPE_CHECKING:
    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook


class RealtimeKitActiveSessionTrigger(RealtimeKitPollingTrigger):
    """Waits until a meeting has a ``LIVE`` active session, or the deadline passes.

    Fires one event (:class:`~airflow_provider_rtk.triggers.events.ActiveSessionEvent` as a dict):
    ``success`` with the ``session_id``; ``timeout`` when ``end_time`` passes first; ``error`` when the
    API keeps failing after the hook's retries.

    :param meeting_id: the meeting to watch.
    :param realtimekit_conn_id: the RealtimeKit connection.
    :param poll_interval: seconds between two looks.
    :param end_time: deadline as absolute epoch seconds, or ``None`` for none.
    """

    def __init__(
        self,
        meeting_id: str,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__(
            realtimekit_conn_id=realtimekit_conn_id, poll_interval=poll_interval, end_time=end_time
        )
        self.meeting_id = str(meeting_id)
        self._logged_waiting = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "meeting_id": self.meeting_id,
                "realtimekit_conn_id": self.realtimekit_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    async def check(self, hook: RealtimeKitAsyncHook) -> ActiveSessionEvent | None:
        event = active_session_event(self.meeting_id, await hook.get_active_session(self.meeting_id))
        if event is None and not self._logged_waiting:
            self.log.info(
                "Meeting %s has no live session yet; waiting (deadline %s)",
                self.meeting_id,
                describe_deadline(self.end_time),
            )
            self._logged_waiting = True
        return event

    def error_event(self, message: str) -> ActiveSessionEvent:
        return ActiveSessionEvent(
            status="error",
            meeting_id=self.meeting_id,
            message=f"Could not read the active session of meeting {self.meeting_id}: {message}",
        )

    def timeout_event(self) -> ActiveSessionEvent:
        return ActiveSessionEvent(
            status="timeout",
            meeting_id=self.meeting_id,
            message=f"Meeting {self.meeting_id} had no live session by {describe_deadline(self.end_time)}.",
        )
