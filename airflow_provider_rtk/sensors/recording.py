"""Sensor that waits for a recording to reach a status (by default: uploaded, files ready)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_rtk.arguments import WAITABLE_STATUSES as WAITABLE_STATUSES  # old import path
from airflow_provider_rtk.arguments import target_status_argument
from airflow_provider_rtk.exceptions import RealtimeKitError, RealtimeKitRecordingFailedNoRetryError
from airflow_provider_rtk.sensors.base import RealtimeKitBaseSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_rtk.triggers.events import RecordingEvent
    from airflow_provider_rtk.triggers.recording import RealtimeKitRecordingTrigger


class RealtimeKitRecordingSensor(RealtimeKitBaseSensor["RecordingEvent"]):
    """Waits until a RealtimeKit recording reaches ``target_status``; returns the recording.

    The target is *reached or passed*: ``RECORDING`` is satisfied by ``RECORDING``, ``PAUSED``,
    ``UPLOADING`` or ``UPLOADED``; ``UPLOADED`` only by ``UPLOADED``; ``PAUSED`` only by ``PAUSED``.
    A recording in ``ERRORED``, or one that finished without reaching the target, fails the task at
    once without retries (:class:`RealtimeKitRecordingFailedNoRetryError`, an
    ``AirflowFailException``, whose message names the recording and its stop reason).

    The return value (XCom ``return_value``) is the recording as a JSON dict without secrets or
    pre-signed links (``Recording.to_xcom()``; ``xcom_download_links=True`` keeps fresh links). With
    ``outlets``, the asset events carry the recording's ids and files (never links).

    Works in ``poke`` and ``reschedule`` mode, and deferrable (``deferrable=True``), in which case
    :class:`~airflow_provider_rtk.triggers.RealtimeKitRecordingTrigger` waits in the triggerer.

    :param recording_id: the recording to wait for (templated), for example
        ``"{{ ti.xcom_pull(task_ids='start', key='recording_id') }}"``.
    :param target_status: the status to wait for: ``INVOKED``, ``RECORDING``, ``PAUSED``,
        ``UPLOADING`` or ``UPLOADED`` (default).
    :param realtimekit_conn_id: the RealtimeKit connection (templated).
    :param xcom_download_links: keep the pre-signed download links in the return value.
    :param deferrable: wait in the triggerer instead of on a worker (default
        ``[operators] default_deferrable``).
    :param kwargs: anything :class:`~airflow.sdk.BaseSensorOperator` takes (``poke_interval``,
        ``timeout``, ``mode``, ``soft_fail``...).
    """

    template_fields: Sequence[str] = ("recording_id", "realtimekit_conn_id")

    def __init__(
        self,
        *,
        recording_id: str,
        target_status: str = "UPLOADED",
        xcom_download_links: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recording_id = recording_id
        self.target_status = target_status_argument(target_status)
        self.xcom_download_links = xcom_download_links

    def check(self) -> RecordingEvent | None:
        from airflow_provider_rtk.triggers.events import parse_target_status, recording_event

        recording = self.hook.get_recording(self.rendered_id("recording_id"))
        self.log.info(
            "Recording %s is %s; waiting for %s", recording.id, recording.status.value, self.target_status
        )
        return recording_event(recording, parse_target_status(self.target_status))

    def make_trigger(self, end_time: float) -> RealtimeKitRecordingTrigger:
        from airflow_provider_rtk.triggers.recording import RealtimeKitRecordingTrigger

        return RealtimeKitRecordingTrigger(
            recording_id=self.rendered_id("recording_id"),
            realtimekit_conn_id=self.realtimekit_conn_id,
            target_status=self.target_status,
            poll_interval=self.poke_interval,
            end_time=end_time,
        )

    def parse_event(self, event: Any) -> RecordingEvent:
        from airflow_provider_rtk.triggers.events import RecordingEvent

        return RecordingEvent.parse(event)

    def success_value(self, event: RecordingEvent) -> dict[str, Any] | None:
        if not self.xcom_download_links or event.recording is None:
            return event.recording
        return self.hook.get_recording(event.recording_id).to_xcom(links=True)  # fresh links

    def on_success(self, context: Context, event: RecordingEvent) -> None:
        """The recording goes on the asset event of each outlet (ids and files, never links)."""
        from airflow_provider_rtk.assets import fill_outlet_events
        from airflow_provider_rtk.models import Recording

        if event.recording is not None and self.outlets:
            fill_outlet_events(context, self.outlets, Recording.model_validate(event.recording))

    def fail(self, event: RecordingEvent) -> NoReturn:
        if event.recording_failed:
            raise RealtimeKitRecordingFailedNoRetryError(event.message)
        raise RealtimeKitError(event.message)
