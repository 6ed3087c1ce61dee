"""Trigger that waits, in the triggerer, for a recording to reach a status."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.hooks._api import HttpRetryPolicy
from airflow_provider_rtk.models import Recording, RecordingStatus
from airflow_provider_rtk.ownership import Knowledge
from airflow_provider_rtk.triggers.base import RealtimeKitTrigger, describe_deadline, failure_text
from airflow_provider_rtk.triggers.events import RecordingEvent, parse_target_status, recording_event
from airflow_provider_rtk.triggers.poller import RecordingPoller

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: ``on_kill`` has 30 seconds (``[triggerer] on_kill_timeout``): keep the stop call well inside them.
ON_KILL_TIMEOUT = 10.0
ON_KILL_RETRY = HttpRetryPolicy(
    max_attempts=3, initial_wait=0.5, max_wait=2.0, max_retry_after=5.0, max_total_seconds=20.0
)
#: At the deadline the trigger looks once more, for at most this long (not at all while the shared
#: poller's requests are failing): the timeout event then tells the newest reading there is.
LAST_LOOK_SECONDS = 15.0


class RealtimeKitRecordingTrigger(RealtimeKitTrigger):
    """Waits until a recording reaches ``target_status``, fails, or the deadline passes.

    Fires one event (:class:`~airflow_provider_rtk.triggers.events.RecordingEvent` as a dict):
    ``success`` once the target is reached or passed (``RECORDING`` is satisfied by anything from
    ``RECORDING`` on, ``UPLOADED`` only by ``UPLOADED``); ``error`` when the recording is ``ERRORED`` or
    finished without reaching the target, or is gone (404), or the connection lacks what the provider
    needs; ``timeout`` when ``end_time`` passes first. The API failing (429, 5xx, no answer, an answer
    that cannot be read) is no error of the trigger's: the shared poller waits it out, and the trigger
    keeps waiting until its deadline.

    :param recording_id: the recording to follow.
    :param realtimekit_conn_id: the RealtimeKit connection.
    :param target_status: the status to wait for (any but ``ERRORED``), default ``UPLOADED``.
    :param poll_interval: the recording is read at least this often (seconds); reads of many
        recordings are shared, and the triggerer's ``[realtimekit] poll_requests_per_second`` paces them.
    :param end_time: deadline as absolute epoch seconds, or ``None`` for none.
    :param stop_on_kill: when a user kills the deferred task (mark failed/success, clear; Airflow 3.3+),
        stop the recording. Nothing is stopped when the triggerer merely restarts or the trigger ends.
    :param knowledge: what the waiting task knows of the recording (``started``, ``believed`` or
        ``foreign``), handed back in the event so the resumed task knows it too. Only ``started``
        allows stopping; ``None`` (a trigger from an earlier version) means ``started`` exactly when
        ``stop_on_kill`` is set.
    :param stop_at_end_time: stop the recording when ``end_time`` passes (only for a recording the
        task started), so a deadline never leaves it running even if the task never resumes.
    :param end_reason: what set ``end_time`` (``timeout`` or ``execution_timeout``), for the event.
    """

    def __init__(
        self,
        recording_id: str,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        target_status: str = "UPLOADED",
        poll_interval: float = 10.0,
        end_time: float | None = None,
        stop_on_kill: bool = False,
        knowledge: str | None = None,
        stop_at_end_time: bool = False,
        end_reason: str = "timeout",
    ) -> None:
        super().__init__(
            realtimekit_conn_id=realtimekit_conn_id, poll_interval=poll_interval, end_time=end_time
        )
        self.recording_id = str(recording_id)
        self.target = parse_target_status(target_status)
        # a trigger serialised before ``knowledge`` existed had stop_on_kill only for what it started
        self.knowledge = Knowledge(knowledge or ("started" if stop_on_kill else "foreign"))
        # the right to stop comes only from having started the recording
        self.stop_on_kill = bool(stop_on_kill) and self.knowledge.may_stop
        self.stop_at_end_time = bool(stop_at_end_time) and self.knowledge.may_stop
        self.end_reason = str(end_reason)
        #: the last reading's status, and the reading as JSON text (plain text: thousands of waiting
        #: triggers add nothing for the garbage collector to walk)
        self._last_status: RecordingStatus | None = None
        self._last_json: str | None = None

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
                "knowledge": self.knowledge.value,
                "stop_at_end_time": self.stop_at_end_time,
                "end_reason": self.end_reason,
            },
        )

    def _event(self, **fields: Any) -> RecordingEvent:
        return RecordingEvent(
            recording_id=self.recording_id,
            knowledge=self.knowledge.value,
            end_reason=self.end_reason,
            **fields,
        )

    # ------------------------------------------------------------------------------ the wait

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Watch the recording through the shared poller until a reading settles the wait, or the
        deadline passes (a last look, then the stop if the task asked for it); fire one event."""
        try:
            event = await self._wait(RecordingPoller.shared(self.realtimekit_conn_id))
        except Exception as error:  # the recording is gone, the connection lacks what is needed, ...
            event = self.error_event(failure_text(self.log, error))
        if event is None:
            event = await self.deadline_passed()
        yield TriggerEvent(event.to_payload())  # type: ignore[no-untyped-call]

    async def _wait(self, poller: RecordingPoller) -> RecordingEvent | None:
        """The event of the first reading that settles the wait, or ``None`` when the deadline passes
        first. The poller reads the recording at least every ``poll_interval`` and wakes this trigger
        only when the status differs from the last one it had."""
        while True:
            recording = await self._news(poller)
            if recording is None:  # the deadline, without news
                recording = await self._last_look(poller)
            event = None if recording is None else self._reading(recording)
            if event is not None:
                return event
            left = self.seconds_left()
            if left is not None and left <= 0:
                return None

    async def _news(self, poller: RecordingPoller) -> Recording | None:
        """The poller's next reading of news, or ``None`` once the deadline passes without one."""
        watching = poller.watch(self.recording_id, unlike=self._last_status, interval=self.poll_interval)
        try:
            left = self.seconds_left()
            if left is None:
                return await watching
            # (asyncio.wait, not wait_for: a reading that lands with the deadline is kept)
            done, _ = await asyncio.wait({watching}, timeout=max(left, 0.0))
            return watching.result() if done else None
        finally:
            watching.cancel()  # stop watching (nothing when it was answered)

    async def _last_look(self, poller: RecordingPoller) -> Recording | None:
        """At the deadline, one more reading (for at most :data:`LAST_LOOK_SECONDS`, and not while the
        poller's requests are failing), so the event tells how the recording is now (``None``: none)."""
        if poller.outage is not None:
            self.log.warning(
                "Recording %s: the deadline passed while the API fails (%s); reporting the last reading",
                self.recording_id,
                poller.outage.last,
            )
            return None
        last = poller.watch(self.recording_id, unlike=None, interval=0.0)
        try:
            done, _ = await asyncio.wait({last}, timeout=LAST_LOOK_SECONDS)
            return last.result() if done else None
        finally:
            last.cancel()

    def _reading(self, recording: Recording) -> RecordingEvent | None:
        """Note a reading; return its event if it settles the wait (``None``: keep waiting)."""
        self.log.info(
            "Recording %s is %s; waiting for %s (deadline %s)",
            self.recording_id,
            recording.status.value,
            self.target.value,
            describe_deadline(self.end_time),
        )
        self._last_status, self._last_json = recording.status, recording.model_dump_json()
        event = recording_event(recording, self.target)
        return None if event is None else event.model_copy(update={"knowledge": self.knowledge.value})

    # ------------------------------------------------------------------------------ its events

    def _last_reading(self) -> Recording | None:
        return None if self._last_json is None else Recording.model_validate_json(self._last_json)

    def error_event(self, message: str) -> RecordingEvent:
        return self._event(
            status="error",
            recording_status=self._last_status.value if self._last_status else None,
            message=f"Could not read recording {self.recording_id}: {message}",
            recording=None,
        )

    def timeout_event(self, stopped: bool = False) -> RecordingEvent:
        last = self._last_reading()
        return self._event(
            status="timeout",
            recording_status=last.status.value if last else None,
            message=(
                f"Recording {self.recording_id} did not reach {self.target.value} by "
                f"{describe_deadline(self.end_time)} (the task's {self.end_reason}); last status "
                f"{last.status.value if last else 'unknown'}."
            ),
            recording=last.to_xcom() if last else None,
            stopped=stopped,
        )

    async def deadline_passed(self) -> RecordingEvent:
        """Past the deadline: stop the recording if the task started it (``stop_at_end_time``)."""
        if not self.stop_at_end_time:
            return self.timeout_event()
        self.log.warning(
            "Stopping recording %s, which the task started: its %s ran out",
            self.recording_id,
            self.end_reason,
        )
        return self.timeout_event(stopped=await self._stop())

    async def _stop(self) -> bool:
        """Stop the recording within ``on_kill``'s time; stopping a stopped one is a no-op."""
        hook = self.make_hook(timeout=ON_KILL_TIMEOUT, retry_policy=ON_KILL_RETRY)
        try:
            recording = await hook.stop_recording(self.recording_id)
        except RealtimeKitError as error:
            self.log.warning("Could not stop recording %s: %s", self.recording_id, error)
            return False
        finally:
            await hook.aclose()
        self.log.info("Recording %s is now %s", self.recording_id, recording.status.value)
        return True

    async def on_kill(self) -> None:
        """The user killed the deferred task: stop the recording if ``stop_on_kill`` (else nothing).

        Only a recording the task started is ever stopped. Failures are logged, not raised.
        """
        if not self.stop_on_kill:
            self.log.info(
                "Task killed; recording %s left running (%s)", self.recording_id, self.knowledge.describe()
            )
            return
        self.log.warning("Task killed; stopping recording %s, which it started", self.recording_id)
        await self._stop()
