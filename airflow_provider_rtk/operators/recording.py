"""Operators that start and control RealtimeKit track recordings."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, AirflowTaskTimeout, BaseOperator

from airflow_provider_rtk.exceptions import RealtimeKitRecordingTimeoutError
from airflow_provider_rtk.links import RealtimeKitRecordingLink
from airflow_provider_rtk.version_compat import ResumableJobMixin, default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.models import Recording, TrackRecordingRequest

#: Cloudflare's orange, so RealtimeKit tasks stand out in the grid and graph views.
UI_COLOR = "#f6821f"
MASK = "***"
#: XCom that says whether this task started the recording (so a resumed task knows whether to stop it).
OWNED_XCOM_KEY = "recording_started_by_task"
#: ``"secret": "value"`` (or ``'secret': 'value'``, a rendered dict) inside text that is not JSON.
_SECRET_IN_TEXT = re.compile(
    r"""((["'])(?:access_key|secret|password|private_key)\2\s*:\s*(["']))((?:(?!\3)[^\\]|\\.)*)"""
)


class IfActive(str, Enum):
    """What to do when the meeting already has an active recording this task did not start."""

    ATTACH = "attach"  #: follow that recording as if this task had started it (never stop it)
    FAIL = "fail"  #: fail the task, naming the recording
    STOP_AND_START = "stop_and_start"  #: stop it, then start a new one


def _seconds(value: float | timedelta | None) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


def mask_layer_secrets(layers: Any) -> tuple[Any, list[str]]:
    """A copy of ``layers`` with every storage secret replaced by ``***``, and the secrets found.

    Works on anything a user may pass (dicts, JSON text, model instances) without validating it, so
    that even invalid input never shows a secret in the rendered-template view.
    """
    from airflow_provider_rtk.models import SECRET_STORAGE_FIELDS, TrackLayer

    found: list[str] = []

    def walk(value: Any) -> Any:
        if isinstance(value, TrackLayer):
            value = value.to_api_body()
        if isinstance(value, Mapping):
            masked = {}
            for key, item in value.items():
                if key in SECRET_STORAGE_FIELDS and isinstance(item, str) and item and item != MASK:
                    found.append(item)
                    masked[key] = MASK
                else:
                    masked[key] = walk(item)
            return masked
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    if isinstance(layers, str):
        try:
            decoded = json.loads(layers)
        except ValueError:  # broken JSON (execute will say where): still hide what looks like a secret
            found.extend(match.group(4) for match in _SECRET_IN_TEXT.finditer(layers) if match.group(4))
            return _SECRET_IN_TEXT.sub(lambda match: f"{match.group(1)}{MASK}", layers), found
        return json.dumps(walk(decoded)), found
    return walk(layers), found


class RealtimeKitStartTrackRecordingOperator(ResumableJobMixin, BaseOperator):
    """Start a RealtimeKit track recording of a meeting, optionally waiting until it is uploaded.

    The body is validated before any request; an invalid field fails the task with its full path
    (``layers.default.outputs[0].storage_config.host``). The start is never duplicated: before
    starting, and on every retry, the meeting's active recording is checked (see ``if_active``); a
    start whose answer was lost is resolved by asking the service. The XCom return value is the
    recording (storage secrets left out); ``recording_id`` and ``recording_url`` are pushed as well.

    :param meeting_id: meeting to record (templated).
    :param layers: track layers (templated): a dict of layer name to layer, JSON text, or
        :class:`~airflow_provider_rtk.models.TrackLayer` instances. Current API:
        ``{"default": {"file_name_prefix": "standup", "media_kind": "audio"}}``; legacy API:
        ``{"default": {"file_name_prefix": "standup", "outputs": [{"type": "STORAGE_CONFIG",
        "storage_config": {...}}]}}``.
    :param max_seconds: legacy API only: stop the recording after this many seconds (1 to 86400;
        templated).
    :param user_ids: current API only (beta): record only these participants, 1 to 100 ids (templated).
    :param realtimekit_conn_id: the ``realtimekit`` connection to use.
    :param if_active: when the meeting already has an active recording that this task did not start:
        ``"attach"`` (default: follow it, and never stop it), ``"fail"``, or ``"stop_and_start"``.
        One that an earlier try of this task started is always attached to.
    :param wait_for_completion: wait until the recording is ``UPLOADED`` (fail if ``ERRORED``).
    :param poll_interval: seconds between status checks while waiting.
    :param timeout: give up waiting after this long (seconds or timedelta): the recording is stopped
        and the task fails without retrying. ``None`` waits for as long as the recording runs.
    :param deferrable: wait in the triggerer instead of a worker slot (default from
        ``[operators] default_deferrable``).
    :param stop_on_kill: stop the recording this task started when the task is killed or times out.
    """

    template_fields: Sequence[str] = ("meeting_id", "layers", "max_seconds", "user_ids", "if_active")
    template_fields_renderers = {"layers": "json", "user_ids": "json"}
    ui_color = UI_COLOR
    ui_fgcolor = "#ffffff"
    operator_extra_links = (RealtimeKitRecordingLink(),)
    external_id_key = "realtimekit_recording_id"
    #: Set once the recording is known; the extra link shows it.
    recording_url: str | None = None

    def __init__(
        self,
        *,
        meeting_id: str,
        layers: Any = None,
        max_seconds: int | str | None = None,
        user_ids: list[str] | str | None = None,
        realtimekit_conn_id: str = "realtimekit_default",
        if_active: IfActive | str = "attach",
        wait_for_completion: bool = False,
        poll_interval: float = 10.0,
        timeout: float | timedelta | None = None,
        deferrable: bool = default_deferrable(),
        stop_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.meeting_id = meeting_id
        self.layers = layers
        self.max_seconds = max_seconds
        self.user_ids = user_ids
        self.realtimekit_conn_id = realtimekit_conn_id
        self.if_active = if_active.value if isinstance(if_active, IfActive) else if_active
        if not (isinstance(if_active, str) and "{{" in if_active):
            self._policy()  # a wrong literal fails when the DAG is parsed, not when it runs
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval!r}")
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.timeout = _seconds(timeout)
        self.deferrable = deferrable
        self.stop_on_kill = stop_on_kill
        self._layers_with_secrets: Any = None
        self._recording_id: str | None = None
        self._owns_recording = False
        self._final_recording: Recording | None = None

    # ------------------------------------------------------------------------------ templating

    def _do_render_template_fields(self, parent: Any, *args: Any, **kwargs: Any) -> None:
        """Render, then keep storage secrets out of the rendered-template view (and every log).

        Airflow renders plain and mapped operators through this method (a mapped one skips
        ``render_template_fields``), and uploads the rendered fields right after.
        """
        super()._do_render_template_fields(parent, *args, **kwargs)
        if parent is self:
            self._hide_layer_secrets()

    def _hide_layer_secrets(self) -> None:
        """Keep the real layers aside and show a masked copy (once: rendering and execute both call it)."""
        from airflow.sdk.log import mask_secret

        if self._layers_with_secrets is not None:
            return
        masked, secrets = mask_layer_secrets(self.layers)
        if secrets:
            self._layers_with_secrets = self.layers
            self.layers = masked
            for secret in secrets:
                mask_secret(secret)

    def build_request(self) -> TrackRecordingRequest:
        """The validated request body; raises before any request with the bad field's path."""
        from airflow_provider_rtk.models import build_track_request, decode_json_field, is_unset
        from airflow_provider_rtk.storage import resolve_storage_connections

        layers = self._layers_with_secrets if self._layers_with_secrets is not None else self.layers
        if not is_unset(layers):
            layers = resolve_storage_connections(decode_json_field("layers", layers))
        return build_track_request(self.meeting_id, layers, self.max_seconds, self.user_ids)

    # ------------------------------------------------------------------------------ execution

    @cached_property
    def hook(self) -> RealtimeKitHook:
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        return RealtimeKitHook(self.realtimekit_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.log import mask_secret

        self._hide_layer_secrets()
        self._policy()
        self._request = self.build_request()
        for secret in self._request.secret_values():
            mask_secret(secret)
        try:
            return self.execute_resumable(context)  # type: ignore[no-any-return]
        finally:
            self.hook.close()

    def submit_job(self, context: Context) -> str:
        """Reconcile with the service, then start (or attach to) the recording. Returns its id."""
        meeting_id = self._request.meeting_id
        active = self.hook.get_active_recording(meeting_id)
        if active is not None:
            recording = self._resolve_active(active, context)
        else:
            recording = self._earlier_try_recording(context)
        if recording is None:
            recording = self.hook.start_track_recording(self._request)
            self._owns_recording = True
            self.log.info(
                "Started %s-API track recording %s of meeting %s (status %s)",
                self._request.generation,
                recording.id,
                meeting_id,
                recording.status.value,
            )
        self._publish(context, recording)
        self._final_recording = recording  # the latest known state; waiting replaces it
        store = context.get("task_state_store")
        if store is not None:  # Airflow 3.3: a reconnecting retry must know whether it may stop it
            store.set(OWNED_XCOM_KEY, self._owns_recording)
        return recording.id

    def _policy(self) -> IfActive:
        """``if_active`` as a policy; a wrong value is a payload error naming the field."""
        try:
            return IfActive(str(self.if_active).strip().lower())
        except ValueError:
            from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError

            choices = ", ".join(repr(choice.value) for choice in IfActive)
            error = FieldError("if_active", f"must be one of {choices}, not {self.if_active!r}")
            raise RealtimeKitPayloadError([error], what="operator argument") from None

    def _resolve_active(self, active: Recording, context: Context) -> Recording | None:
        """Apply ``if_active`` to a recording found running; ``None`` means: start a new one."""
        if self._started_by_earlier_try(active, context):
            self.log.warning("Attaching to recording %s, started by an earlier try of this task", active.id)
            self._owns_recording = True
            return active
        policy = self._policy()
        if policy is IfActive.ATTACH:
            self.log.warning(
                "Meeting %s already has active recording %s (not started by this task); attaching "
                "to it and will not stop it",
                active.meeting_id or self._request.meeting_id,
                active.id,
            )
            return active
        if policy is IfActive.FAIL:
            raise AirflowFailException(
                f"Meeting {self._request.meeting_id} already has active recording {active.id} "
                f"(status {active.status.value}); if_active='fail'"
            )
        self.log.warning("Stopping active recording %s before starting a new one (if_active)", active.id)
        self.hook.stop_recording(active.id)
        return None

    @staticmethod
    def _retry_since(context: Context) -> datetime | None:
        """On a retry: when this DAG run started (recordings invoked since are taken as an earlier try's
        own: a start whose answer was lost, or a try that died). ``None`` on a first try."""
        ti = context.get("ti")
        if ti is None or getattr(ti, "try_number", 1) <= 1:
            return None
        return getattr(context.get("dag_run"), "start_date", None)

    def _started_by_earlier_try(self, recording: Recording, context: Context) -> bool:
        """On a retry: invoked since the run started, through the API, with this task's file prefix."""
        since = self._retry_since(context)
        return since is not None and recording.invoked_since(since) and self._looks_like_ours(recording)

    def _looks_like_ours(self, recording: Recording) -> bool:
        reason = recording.start_reason.reason if recording.start_reason else None
        if reason not in (None, "API_CALL"):  # e.g. RECORD_ON_START: the meeting's own setting
            return False
        if not recording.output_file_name:
            return True
        prefixes = [layer.file_name_prefix or "default" for layer in (self._request.layers or {}).values()]
        return any(recording.output_file_name.startswith(f"{prefix}_") for prefix in prefixes or ["default"])

    def _earlier_try_recording(self, context: Context) -> Recording | None:
        """On a retry with nothing active: a recording an earlier try started that has since stopped
        (it ended, or was stopped) - reattach to it rather than record the meeting a second time."""
        from airflow_provider_rtk.models import RecordingStatus

        if self._retry_since(context) is None:
            return None
        page = self.hook.list_recordings(
            meeting_id=self._request.meeting_id, sort_by="invokedTime", sort_order="DESC", per_page=20
        )
        for recording in page.recordings:
            if recording.status is not RecordingStatus.ERRORED and self._started_by_earlier_try(
                recording, context
            ):
                self.log.warning("Reattaching to recording %s, started by an earlier try", recording.id)
                return recording  # it has stopped: nothing to own or to stop
        return None

    def _publish(self, context: Context, recording: Recording) -> None:
        """Push ``recording_id`` and ``recording_url`` (the task's extra link) as soon as it is known."""
        ti = context["ti"]
        ti.xcom_push(key="recording_id", value=recording.id)
        ti.xcom_push(key="recording_url", value=self._remember(recording.id))
        ti.xcom_push(key=OWNED_XCOM_KEY, value=self._owns_recording)

    def _remember(self, recording_id: str) -> str:
        from airflow_provider_rtk.links import recording_url

        settings = self.hook.settings
        self._recording_id = recording_id
        self.recording_url = recording_url(
            settings.base_url, settings.account_id, settings.app_id, recording_id
        )
        return self.recording_url

    def get_job_status(self, external_id: Any, context: Context) -> str:
        from airflow_provider_rtk.exceptions import RealtimeKitNotFoundError
        from airflow_provider_rtk.models import RecordingStatus

        try:
            return self.hook.get_recording(str(external_id)).status.value
        except RealtimeKitNotFoundError:
            self.log.warning("Stored recording %s is unknown to the service; starting afresh", external_id)
            return RecordingStatus.ERRORED.value

    def is_job_active(self, status: str) -> bool:
        from airflow_provider_rtk.models import RecordingStatus

        return not RecordingStatus(status).is_terminal

    def is_job_succeeded(self, status: str) -> bool:
        return status == "UPLOADED" or (not self.wait_for_completion and status != "ERRORED")

    def poll_until_complete(self, external_id: Any, context: Context) -> dict[str, Any]:  # type: ignore[override]
        """Wait for UPLOADED when asked to: here (poke) or in the triggerer (deferrable).

        Returns the task's result: Airflow 3.3's mixin returns this directly when it reconnects.
        """
        recording_id = str(external_id)
        self._adopt_stored(context, recording_id)
        if self.wait_for_completion:
            if self.deferrable:
                self._defer(recording_id)
            try:
                self._final_recording = self._wait_here(recording_id)
            except AirflowTaskTimeout:
                self._stop_owned_recording("the task's execution_timeout ran out")
                raise
        return self.get_job_result(recording_id, context)

    def _defer(self, recording_id: str) -> None:
        from airflow_provider_rtk.triggers import RealtimeKitRecordingTrigger

        end_time = time.time() + self.timeout if self.timeout is not None else None
        self.defer(
            trigger=RealtimeKitRecordingTrigger(
                recording_id=recording_id,
                realtimekit_conn_id=self.realtimekit_conn_id,
                target_status="UPLOADED",
                poll_interval=self.poll_interval,
                end_time=end_time,
                stop_on_kill=self.stop_on_kill and self._owns_recording,
            ),
            method_name="execute_complete",
        )

    def _wait_here(self, recording_id: str) -> Recording:
        from airflow_provider_rtk.models import RecordingStatus

        deadline = time.monotonic() + self.timeout if self.timeout is not None else None
        last_status = None
        while True:
            recording = self.hook.get_recording(recording_id)
            if recording.status is not last_status:
                self.log.info("Recording %s is %s", recording_id, recording.status.value)
                last_status = recording.status
            if recording.status is RecordingStatus.UPLOADED:
                return recording
            if recording.status is RecordingStatus.ERRORED:
                raise self._errored(recording)
            if deadline is not None and time.monotonic() >= deadline:
                self._fail_on_timeout(recording_id)
            time.sleep(self.poll_interval)

    def _errored(self, recording: Recording) -> Exception:
        from airflow_provider_rtk.exceptions import RealtimeKitRecordingFailedError

        reason = recording.stop_reason.reason if recording.stop_reason else None
        return RealtimeKitRecordingFailedError(
            f"Recording {recording.id} ended in ERRORED (stop reason: {reason or 'unknown'})"
        )

    def _fail_on_timeout(self, recording_id: str) -> None:
        stopped = self._stop_owned_recording(f"it did not finish within {self.timeout:g}s", on_timeout=True)
        raise RealtimeKitRecordingTimeoutError(
            f"Recording {recording_id} did not reach UPLOADED within {self.timeout:g}s; "
            + ("it was stopped" if stopped else "it was left running (this task did not start it)")
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: success returns the recording; error and timeout fail the task."""
        from airflow_provider_rtk.exceptions import RealtimeKitAPIError
        from airflow_provider_rtk.models import Recording
        from airflow_provider_rtk.triggers import RecordingEvent

        parsed = RecordingEvent.model_validate(event)
        self._remember(parsed.recording_id)
        ti = context["ti"]
        owned = ti.xcom_pull(task_ids=ti.task_id, key=OWNED_XCOM_KEY, map_indexes=ti.map_index)
        self._owns_recording = owned is True
        try:
            if parsed.status == "timeout":
                self._fail_on_timeout(parsed.recording_id)
            if parsed.status == "error":
                if parsed.recording is not None:
                    raise self._errored(Recording.model_validate(parsed.recording))
                # the API kept failing: a retry reconciles with (and re-attaches to) the recording
                raise RealtimeKitAPIError(f"following recording {parsed.recording_id}: {parsed.message}")
            recording = Recording.model_validate(parsed.recording)
            self.log.info("Recording %s is %s", recording.id, recording.status.value)
            return recording.to_xcom()
        finally:
            self.hook.close()

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        self._adopt_stored(context, str(external_id))
        recording = self._final_recording or self.hook.get_recording(str(external_id))
        return recording.to_xcom()

    def _adopt_stored(self, context: Context, recording_id: str) -> None:
        """A recording id from the task state store (Airflow 3.3): an earlier try of this task started
        (or attached to) it; this try follows it and publishes it again (a retry starts with no XComs)."""
        if self._recording_id == recording_id:
            return
        store = context.get("task_state_store")
        self._owns_recording = store is not None and store.get(OWNED_XCOM_KEY) is True
        self.log.info(
            "Reconnected to recording %s, which an earlier try of this task %s",
            recording_id,
            "started" if self._owns_recording else "attached to (it will not be stopped)",
        )
        self._final_recording = self._final_recording or self.hook.get_recording(recording_id)
        self._publish(context, self._final_recording)

    # ------------------------------------------------------------------------------ stopping

    def _stop_owned_recording(self, why: str, *, on_timeout: bool = False) -> bool:
        """Stop the recording this task started (never one it only attached to). Returns whether it did.
        A kill stops it only with ``stop_on_kill``; the operator's own ``timeout`` always does."""
        if not (self._recording_id and self._owns_recording and (self.stop_on_kill or on_timeout)):
            return False
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        self.log.warning("Stopping recording %s because %s", self._recording_id, why)
        try:
            with RealtimeKitHook(self.realtimekit_conn_id) as hook:
                hook.stop_recording(self._recording_id)
        except Exception:
            self.log.exception("Could not stop recording %s; stop it by hand", self._recording_id)
            return False
        return True

    def on_kill(self) -> None:
        """The task was killed: stop the recording it started, so nothing is left running unseen."""
        self._stop_owned_recording("the task was killed")


class RealtimeKitRecordingActionOperator(BaseOperator):
    """Stop, pause or resume one recording.

    Repeating an action that already took effect (stopping a stopped recording) succeeds.

    :param recording_id: the recording (templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='start_recording', key='recording_id') }}"``.
    :param action: ``"stop"``, ``"pause"`` or ``"resume"``.
    :param realtimekit_conn_id: the ``realtimekit`` connection to use.
    """

    template_fields: Sequence[str] = ("recording_id", "action")
    ui_color = UI_COLOR
    ui_fgcolor = "#ffffff"
    operator_extra_links = (RealtimeKitRecordingLink(),)
    recording_url: str | None = None

    def __init__(
        self,
        *,
        recording_id: str,
        action: str,
        realtimekit_conn_id: str = "realtimekit_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recording_id = recording_id
        self.action = action
        self.realtimekit_conn_id = realtimekit_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
        from airflow_provider_rtk.links import recording_url
        from airflow_provider_rtk.models import RecordingAction

        try:
            action = RecordingAction(str(self.action).strip().lower())
        except ValueError:
            choices = ", ".join(a.value for a in RecordingAction)
            raise RealtimeKitPayloadError(
                [FieldError("action", f"must be one of {choices}, not {self.action!r}")],
                what="recording action",
            ) from None
        recording_id = str(self.recording_id or "").strip()
        with RealtimeKitHook(self.realtimekit_conn_id) as hook:
            recording = hook.recording_action(recording_id, action)
            settings = hook.settings
        self.log.info("Recording %s: %s -> %s", recording.id, action.value, recording.status.value)
        self.recording_url = recording_url(
            settings.base_url, settings.account_id, settings.app_id, recording.id
        )
        context["ti"].xcom_push(key="recording_url", value=self.recording_url)
        return recording.to_xcom()
