"""Trigger that waits, in the triggerer, for a recording to reach a status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.hooks._api import HttpRetryPolicy
from airflow_provider_rtk.triggers.base import RealtimeKitPollingTrigger, describe_deadline
from airflow_provider_rtk.triggers.events import RecordingEvent, parse_target_status, recording_event

if TYPE_CHECKING:
    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
    from airflow_provider_rtk.models import Recording

#: ``on_kill`` has 30 seconds (``[triggerer] on_kill_timeout``): keep the stop call well inside them.
ON_KILL_TIMEOUT = 10.0
ON_KILL_RETRY = HttpRetryPolicy(
    max_attempts=3, initial_wait=0.5, max_wait=2.0, max_retry_after=5.0, max_total_seconds=20.0
)


class RealtimeKitRecordingTrigger(RealtimeKitPollingTrigger):
    """Waits until a recording reaches ``target_status``, fails, or the deadline passes.

    Fires one event (:class:`~airflow_provider_rtk.triggers.events.RecordingEvent` as a dict):
    ``success`` once the target is reached or passed (``RECORDING`` is satisfied by anything from
    ``RECORDING`` on, ``UPLOADED`` only by ``UPLOADED``); ``error`` when the recording is ``ERRORED`` or
    finished without reaching the target, or when the API keeps failing after the hook's retries;
    ``timeout`` when ``end_time`` passes first.

    :param recording_id: the recording to follow.
    :param realtimekit_conn_id: the RealtimeKit connection.
    :param target_status: the status to wait for (any but ``ERRORED``), default ``UPLOADED``.
    :param poll_interval: seconds between two reads of the recording.
    :param end_time: deadline as absolute epoch seconds, or ``None`` for none.
    :param stop_on_kill: when a user kills the deferred task (mark failed/success, clear; Airflow 3.3+),
        stop the recording. Nothing is stopped when the triggerer merely restarts or the trigger ends.
    """

    def __init__(
        self,
        recording_id: str,
        realtimekit_conn_id: str = "realtimekit_default",
        target_status: str = "UPLOADED",
        poll_interval: float = 10.0,
        end_time: float | None = None,
        stop_on_kill: bool = False,
    ) -> None:
        super().__init__(
            realtimekit_conn_id=realtimekit_conn_id, poll_interval=poll_interval, end_time=end_time
        )
        self.recording_id = str(recording_id)
        self.target = parse_target_status(target_status)
        self.stop_on_kill = bool(stop_on_kill)
        self._last: Recording | None = None

    @property
    def target_status(self) -> str:
        return self.target.value

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "recording_id": self.recording_id,
                "realtimekit_conn_id": self.realtimekit_conn_id,
                "target_status": self.target.value,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "stop_on_kill": self.stop_on_kill,
            },
        )

    async def check(self, hook: RealtimeKitAsyncHook) -> RecordingEvent | None:
        recording = await hook.get_recording(self.recording_id)
        if self._last is None or self._last.status is not recording.status:
            self.log.info(
                "Recording %s is %s; waiting for %s (deadline %s)",
                self.recording_id,
                recording.status.value,
                self.target.value,
                describe_deadline(self.end_time),
            )
        self._last = recording
        return recording_event(recording, self.target)

    def error_event(self, message: str) -> RecordingEvent:
        return RecordingEvent(
            status="error",
            recording_id=self.recording_id,
            recording_status=self._last.status.value if self._last else None,
            message=f"Could not read recording {self.recording_id}: {message}",
            recording=None,
        )

    def timeout_event(self) -> RecordingEvent:
        last = self._last.status.value if self._last else "unknown"
        return RecordingEvent(
            status="timeout",
            recording_id=self.recording_id,
            recording_status=self._last.status.value if self._last else None,
            message=(
                f"Recording {self.recording_id} did not reach {self.target.value} by "
                f"{describe_deadline(self.end_time)}; last status {last}."
            ),
            recording=self._last.to_xcom() if self._last else None,
        )

    async def on_kill(self) -> None:
        """The user killed the deferred task: stop the recording if ``stop_on_kill`` (else nothing).

        Stopping a recording that has already stopped is a no-op. Failures are logged, not raised.
        """
        if not self.stop_on_kill:
            self.log.info("Task killed; recording %s left running (stop_on_kill is off)", self.recording_id)
            return
        hook = self.make_hook(timeout=ON_KILL_TIMEOUT, retry_policy=ON_KILL_RETRY)
        try:
            recording = await hook.stop_recording(self.recording_id)
        except RealtimeKitError as error:
            self.log.warning(
                "Could not stop recording %s after the task was killed: %s", self.recording_id, error
            )
        else:
            self.log.info("Task killed; recording %s is now %s", self.recording_id, recording.status.value)
        finally:
            await hook.aclose()
