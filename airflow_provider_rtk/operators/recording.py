"""Operators that start and control RealtimeKit track recordings."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowTaskTimeout,
    BaseOperator,
    TaskDeferred,
)

from airflow_provider_rtk.arguments import (
    choice_argument,
    poll_interval_argument,
    rendered_id,
    seconds_argument,
)
from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitNotFoundError,
    RealtimeKitRecordingFailedError,
    RealtimeKitRecordingTimeoutError,
)
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.links import RealtimeKitRecordingLink, recording_url
from airflow_provider_rtk.ownership import (
    IfActive,
    JournalEntry,
    Knowledge,
    StartJournal,
    StartOutcome,
    request_fingerprint,
)
from airflow_provider_rtk.version_compat import ResumableJobMixin, default_deferrable

if TYPE_CHECKING:
    import jinja2
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.lineage import RecordingLineage
    from airflow_provider_rtk.models import Recording, TrackRecordingRequest
    from airflow_provider_rtk.starting import RecordingStarter

__all__ = [
    "IfActive",
    "RealtimeKitRecordingActionOperator",
    "RealtimeKitStartTrackRecordingOperator",
    "mask_layer_secrets",
]

#: Cloudflare's orange, so RealtimeKit tasks stand out in the grid and graph views.
UI_COLOR = "#f6821f"
#: The status a stored recording id gets when the service no longer knows it (not ``ERRORED``).
UNKNOWN_STATUS = "UNKNOWN"


def _try_number(context: Context) -> int:
    return int(getattr(context.get("ti"), "try_number", 1) or 1)


def _is_outcome_unknown(error: BaseException) -> bool:
    from airflow_provider_rtk.exceptions import RealtimeKitStartOutcomeUnknownError

    return isinstance(error, RealtimeKitStartOutcomeUnknownError)


def mask_layer_secrets(layers: Any) -> tuple[Any, list[str]]:
    """:func:`airflow_provider_rtk.redaction.mask_layer_secrets` at its old import path (``redaction``
    is imported when a task runs: DAG files parse without it)."""
    from airflow_provider_rtk import redaction

    return redaction.mask_layer_secrets(layers)


class RealtimeKitStartTrackRecordingOperator(ResumableJobMixin, BaseOperator):
    """Start a RealtimeKit track recording of a meeting, optionally waiting until it is uploaded.

    The body is validated before any request; an invalid field fails the task with its full path
    (``layers.default.outputs[0].storage_config.host``). The start is never duplicated: before
    starting, and on every retry, the meeting's active recording is checked (see ``if_active``); a
    start whose answer was lost is resolved by asking the service. Only a recording this task
    *started* (the id came in its own start's answer) is ever stopped by it; one it found after an
    ambiguous answer is only *believed* its own and followed (see this operator's page in the docs).
    On Airflow 3.3 the start is journalled ahead in the task state store, so a retry knows what its
    earlier try did.
    The XCom return value is the recording (storage secrets left out); ``recording_id`` and
    ``recording_url`` are pushed as well.

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
    :param if_active: when the meeting already has an active recording that neither this try nor a
        recorded earlier try started: ``"attach"`` (default: follow it, and never stop it), ``"fail"``,
        or ``"stop_and_start"``. Also decides what a task does that loses a race to start the meeting.
    :param wait_for_completion: wait until the recording is ``UPLOADED`` (fail if ``ERRORED``).
    :param poll_interval: seconds between status checks while waiting.
    :param timeout: give up waiting after this long (seconds or timedelta): the recording is stopped
        and the task fails without retrying. ``None`` waits for as long as the recording runs.
    :param deferrable: wait in the triggerer instead of a worker slot (default from
        ``[operators] default_deferrable``).
    :param stop_on_kill: stop the recording this task *started* (never one it only believes is its own
        or follows) when the task is killed, hits ``execution_timeout``, or fails with no retry left
        that would reconnect to it.
    :param xcom_download_links: keep the recording's pre-signed download links in the XCom return
        value (default: left out; whoever holds one can fetch the file until it expires).

    With ``outlets`` (assets) and ``wait_for_completion``, the task's asset events carry the
    recording, meeting and session ids and each file's name, size and duration (no links), so
    downstream DAGs can be scheduled on the files being ready.
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
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        if_active: IfActive | str = "attach",
        wait_for_completion: bool = False,
        poll_interval: float = 10.0,
        timeout: float | timedelta | None = None,
        deferrable: bool = default_deferrable(),
        stop_on_kill: bool = True,
        xcom_download_links: bool = False,
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
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval_argument("poll_interval", poll_interval)
        self.timeout = (
            None if timeout is None else seconds_argument("timeout", timeout, minimum=0, exclusive=True)
        )
        self.deferrable = deferrable
        self.stop_on_kill = stop_on_kill
        self.xcom_download_links = xcom_download_links
        self._layers_with_secrets: Any = None
        self._recording_id: str | None = None
        #: How this task knows the recording it follows; only ``STARTED`` may be stopped.
        self._knowledge = Knowledge.FOREIGN
        self._stopped_ids: set[str] = set()
        self._starter: RecordingStarter | None = None
        self._final_recording: Recording | None = None
        #: The journal entry of what the start learnt (written again if the store did not keep it).
        self._fact: JournalEntry | None = None
        #: What OpenLineage is told once the task has its recording.
        self._lineage: RecordingLineage | None = None

    # ------------------------------------------------------------------------------ templating

    def render_template(
        self,
        content: Any,
        context: Context,
        jinja_env: jinja2.Environment | None = None,
        seen_oids: set[int] | None = None,
    ) -> Any:
        """Render, and show the rendered ``layers`` with every storage secret masked (in the
        rendered-template view, uploaded right after rendering, and every log).

        Airflow renders each template field of a plain or a mapped operator through this public method,
        passing the field's value; the real layers are kept aside for :meth:`build_request`.
        """
        rendered = super().render_template(content, context, jinja_env, seen_oids)
        if content is not self.layers or content is None or self._layers_with_secrets is not None:
            return rendered
        from airflow_provider_rtk import redaction  # here, not at the top: DAG files parse without it

        masked, secrets = redaction.mask_layer_secrets(rendered)
        if not secrets:
            return rendered
        self._layers_with_secrets = rendered
        redaction.remember(*secrets)
        return masked

    def _hide_layer_secrets(self) -> None:
        """Keep the real layers aside and show a masked copy (once: rendering and execute both do it).
        Every secret found is redacted from then on, in logs and errors, in each escaped form."""
        if self._layers_with_secrets is not None:
            return
        from airflow_provider_rtk import redaction

        masked, secrets = redaction.mask_layer_secrets(self.layers)
        if secrets:
            self._layers_with_secrets = self.layers
            self.layers = masked
            redaction.remember(*secrets)

    def build_request(self) -> TrackRecordingRequest:
        """The validated request body; raises before any request with the bad field's path."""
        from airflow_provider_rtk.models import build_track_request, decode_layers
        from airflow_provider_rtk.storage import resolve_storage_connections

        layers = self._layers_with_secrets if self._layers_with_secrets is not None else self.layers
        layers = decode_layers(layers)  # the one decoding: what is masked, validated and sent
        if layers is not None:
            layers = resolve_storage_connections(layers)
        return build_track_request(self.meeting_id, layers, self.max_seconds, self.user_ids)

    # ------------------------------------------------------------------------------ execution

    @cached_property
    def hook(self) -> RealtimeKitHook:
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        return RealtimeKitHook(self.realtimekit_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        self._hide_layer_secrets()
        self._policy()
        self._request = self.build_request()
        from airflow_provider_rtk import redaction

        redaction.remember_request_secrets(self._request)  # the one masking pass of the request
        try:
            self._restore_external_id(context)
            return self.execute_resumable(context)  # type: ignore[no-any-return]
        except TaskDeferred:
            raise
        except BaseException as error:
            self._stop_after_failure(context, error)
            raise
        finally:
            self.hook.close()

    # ------------------------------------------------------------------------------ knowing

    def _journal(self, context: Context) -> StartJournal:
        """The write-ahead start record (Airflow 3.3's task state store; none below, or if not durable)."""
        return StartJournal(context.get("task_state_store") if self.durable else None)  # type: ignore[arg-type]

    def _follow(self, outcome: StartOutcome) -> None:
        """Take ``outcome`` as what this task follows (in memory: the journal write comes next)."""
        self._recording_id = outcome.recording.id
        self._knowledge = outcome.knowledge
        self._final_recording = outcome.recording

    def _restore_external_id(self, context: Context) -> None:
        """On a retry: the journal holds what an earlier try's start learnt; if the mixin's external
        id key lags behind it (the try died between the two writes), set the key from the journal so
        that the mixin reconnects to that recording, as started if it was."""
        if _try_number(context) <= 1:
            return
        journal = self._journal(context)
        store = journal.store
        entry = journal.read()
        if store is None or entry is None or not entry.recording_id:
            return
        if store.get(self.external_id_key) != entry.recording_id:
            self.log.info(
                "The task state store's journal holds recording %s (%s); reconnecting to it",
                entry.recording_id,
                entry.knowledge.describe(),
            )
            store.set(self.external_id_key, entry.recording_id)

    def submit_job(self, context: Context) -> str:
        """Start (or follow) a recording through :class:`~airflow_provider_rtk.starting.RecordingStarter`
        (which reconciles with the service and the journal); its id. Whatever the starter learnt is
        followed even if it then fails, so a failure stops what this task started."""
        from airflow_provider_rtk import redaction
        from airflow_provider_rtk.starting import RecordingStarter

        self._starter = starter = RecordingStarter(
            self.hook,
            self._request,
            journal=self._journal(context),
            if_active=self._policy(),
            try_number=_try_number(context),
            run_started_at=getattr(context.get("dag_run"), "start_date", None),
            fingerprint=request_fingerprint(redaction.mask_layer_secrets(self._request.to_api_body())[0]),
            log=self.log,
        )
        try:
            outcome = starter.start()
        finally:
            self._stopped_ids |= starter.stopped
            if starter.learnt is not None:
                self._follow(starter.learnt)
                self._fact = starter.fact
        self._publish(context, outcome.recording)
        return outcome.recording.id

    def _policy(self) -> IfActive:
        """``if_active`` as a policy; a wrong value is a payload error naming the field."""
        return IfActive(choice_argument("if_active", self.if_active, (choice.value for choice in IfActive)))

    def _publish(self, context: Context, recording: Recording) -> None:
        """Push ``recording_id`` and ``recording_url`` (the task's extra link) as soon as it is known."""
        ti = context["ti"]
        ti.xcom_push(key="recording_id", value=recording.id)
        url = self._remember(recording.id)
        if url is not None:  # no link for this connection (Airflow 3.0 refuses a null XCom, too)
            ti.xcom_push(key="recording_url", value=url)

    def _remember(self, recording_id: str) -> str | None:

        settings = self.hook.settings
        self._recording_id = recording_id
        self.recording_url = recording_url(
            settings.base_url,
            settings.account_id,
            settings.app_id,
            recording_id,
            link_template=settings.recording_link,
        )
        return self.recording_url

    # ------------------------------------------------------------------------------ following

    def get_job_status(self, external_id: Any, context: Context) -> str:

        try:
            return self.hook.get_recording(str(external_id)).status.value
        except RealtimeKitNotFoundError:
            self.log.warning("Stored recording %s is unknown to the service; starting afresh", external_id)
            return UNKNOWN_STATUS

    def is_job_active(self, status: str) -> bool:
        from airflow_provider_rtk.models import RecordingStatus

        return status != UNKNOWN_STATUS and not RecordingStatus(status).is_terminal

    def is_job_succeeded(self, status: str) -> bool:
        if status == UNKNOWN_STATUS:
            return False
        return status == "UPLOADED" or (not self.wait_for_completion and status != "ERRORED")

    def poll_until_complete(self, external_id: Any, context: Context) -> dict[str, Any]:  # type: ignore[override]
        """Wait for UPLOADED when asked to: here (poke) or in the triggerer (deferrable).

        Returns the task's result: Airflow 3.3's mixin returns this directly when it reconnects.
        """
        recording_id = str(external_id)
        self._adopt_stored(context, recording_id)
        if self.wait_for_completion:
            if self.deferrable:
                self._defer(recording_id, context)
            self._final_recording = self._wait_here(recording_id)
        return self.get_job_result(recording_id, context)

    def _deadline(self, context: Context) -> tuple[float | None, str]:
        """The wait's end as epoch seconds, and what sets it: the operator's ``timeout`` or this try's
        ``execution_timeout`` (Airflow does not enforce the latter on a deferred task)."""
        ends: list[tuple[float, str]] = []
        if self.timeout is not None:
            ends.append((time.time() + self.timeout, "timeout"))
        started = getattr(context.get("ti"), "start_date", None)
        if self.execution_timeout is not None and started is not None:
            ends.append(((started + self.execution_timeout).timestamp(), "execution_timeout"))
        if not ends:
            return None, "timeout"
        return min(ends)

    def _defer(self, recording_id: str, context: Context) -> None:
        from airflow_provider_rtk.triggers import RealtimeKitRecordingTrigger

        end_time, end_reason = self._deadline(context)
        started = self._knowledge.may_stop
        self.defer(
            trigger=RealtimeKitRecordingTrigger(
                recording_id=recording_id,
                realtimekit_conn_id=self.realtimekit_conn_id,
                target_status="UPLOADED",
                poll_interval=self.poll_interval,
                end_time=end_time,
                end_reason=end_reason,
                knowledge=self._knowledge.value,
                stop_on_kill=self.stop_on_kill and started,
                stop_at_end_time=started and (end_reason == "timeout" or self.stop_on_kill),
            ),
            method_name="execute_complete",
        )

    def _wait_here(self, recording_id: str) -> Recording:
        from airflow_provider_rtk.models import RecordingStatus

        deadline = time.monotonic() + self.timeout if self.timeout is not None else None
        last_status = None
        while True:
            recording = self.hook.get_recording(recording_id)
            self._final_recording = recording
            if recording.status != last_status:
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

        reason = recording.stop_reason.reason if recording.stop_reason else None
        return RealtimeKitRecordingFailedError(
            f"Recording {recording.id} ended in ERRORED (stop reason: {reason or 'unknown'})"
        )

    def _fail_on_timeout(self, recording_id: str, *, stopped: bool | None = None) -> None:
        if stopped is None:
            stopped = self._stop_started(f"it did not finish within {self.timeout:g}s", on_timeout=True)
        if stopped:
            outcome = "it was stopped"
        elif self._knowledge.may_stop:
            outcome = "it was left running: the stop failed; stop it by hand"
        else:
            outcome = (
                f"it was left running ({self._knowledge.describe()}: this task cannot prove it started "
                "it, so it never stops it); stop it by hand if nobody needs it"
            )
        raise RealtimeKitRecordingTimeoutError(
            f"Recording {recording_id} did not reach UPLOADED within {self.timeout or 0:g}s; {outcome}"
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: success returns the recording; error and timeout fail the task.

        What the task knows of the recording comes back in the event (the trigger's own arguments),
        not from an XCom.
        """
        from airflow_provider_rtk.models import Recording
        from airflow_provider_rtk.triggers import RecordingEvent

        parsed = RecordingEvent.parse(event)
        self._remember(parsed.recording_id)
        self._knowledge = Knowledge(parsed.knowledge)
        if parsed.stopped:
            self._stopped_ids.add(parsed.recording_id)
        try:
            if parsed.is_timeout:
                if parsed.end_reason == "execution_timeout":
                    raise AirflowTaskTimeout(parsed.message + (" It was stopped." if parsed.stopped else ""))
                # a stop the trigger could not make is tried once more here (the worker's hook retries)
                self._fail_on_timeout(parsed.recording_id, stopped=True if parsed.stopped else None)
            if parsed.is_error:
                if parsed.recording is not None:
                    raise self._errored(Recording.model_validate(parsed.recording))
                raise RealtimeKitAPIError(f"following recording {parsed.recording_id}: {parsed.message}")
            recording = Recording.model_validate(parsed.recording)
            self.log.info("Recording %s is %s", recording.id, recording.status.value)
            if self.xcom_download_links:  # the event carries no links: read them fresh
                recording = self.hook.get_recording(recording.id)
            return self._result(context, recording)
        except BaseException as error:
            self._stop_after_failure(context, error)
            raise
        finally:
            self.hook.close()

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        self._adopt_stored(context, str(external_id))
        recording = self._final_recording or self.hook.get_recording(str(external_id))
        return self._result(context, recording)

    def _result(self, context: Context, recording: Recording) -> dict[str, Any]:
        """The task's XCom (no pre-signed links unless ``xcom_download_links``); the recording also
        goes on the asset event of each outlet (ids and files, never links)."""
        from airflow_provider_rtk.assets import fill_outlet_events
        from airflow_provider_rtk.lineage import RecordingLineage

        self._lineage = RecordingLineage.of(self.hook.settings, recording, meeting_id=str(self.meeting_id))
        if fill_outlet_events(context, self.outlets, recording):
            self.log.info("Asset event(s) for recording %s (%s)", recording.id, recording.status.value)
        return recording.to_xcom(links=self.xcom_download_links)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """OpenLineage (the ``openlineage`` extra): the meeting in, the recording's files at RealtimeKit
        out (names in :mod:`airflow_provider_rtk.lineage`; ids only, never a link)."""
        from airflow_provider_rtk.lineage import operator_lineage

        return operator_lineage(self._lineage, recording_is="output")

    def _adopt_stored(self, context: Context, recording_id: str) -> None:
        """A recording id from the task state store (Airflow 3.3): this try follows it with what the
        journal knows of it, and publishes it again (a retry starts with no XComs)."""
        if self._recording_id == recording_id:
            return
        entry = self._journal(context).read()
        knowledge = (
            entry.knowledge if entry is not None and entry.recording_id == recording_id else Knowledge.FOREIGN
        )
        self._knowledge = knowledge
        self._recording_id = recording_id
        self.log.info(
            "Reconnected to recording %s, %s (task state store)", recording_id, knowledge.describe()
        )
        self._final_recording = self._final_recording or self.hook.get_recording(recording_id)
        self._publish(context, self._final_recording)

    # ------------------------------------------------------------------------------ stopping

    def _stop_started(self, why: str, *, on_timeout: bool = False) -> bool:
        """Stop the recording this task *started* (never one it believes or follows); at most one
        request per recording. A kill or failure stops it only with ``stop_on_kill``; the operator's
        own ``timeout`` always does. Returns whether it is stopped."""
        recording_id = self._recording_id
        if not recording_id or not self._knowledge.may_stop:
            return False
        if recording_id in self._stopped_ids:
            return True
        if not (self.stop_on_kill or on_timeout):
            self.log.warning("Recording %s left running: %s, and stop_on_kill is off", recording_id, why)
            return False
        from airflow_provider_rtk.starting import stop_started

        self._stopped_ids.add(recording_id)  # before sending: exactly one stop, even if interrupted
        return stop_started(self._stop_with_a_hook_of_its_own, recording_id, why, self.log)

    def _stop_with_a_hook_of_its_own(self, recording_id: str) -> None:
        """A hook of its own: ``on_kill`` may run on another thread than the task's hook."""
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        with RealtimeKitHook(self.realtimekit_conn_id) as hook:
            hook.stop_recording(recording_id)

    def _give_up(self, why: str) -> None:
        """The task fails for good: stop the recording it started, or say plainly what it leaves
        running and why (one it only believes is its own, or follows, is never stopped)."""
        if self._recording_id is None or self._recording_id in self._stopped_ids:
            return
        if self._knowledge.may_stop:
            self._stop_started(why)
            return
        self.log.warning(
            "Recording %s left running: %s, and it is %s; stop it by hand if nobody needs it",
            self._recording_id,
            why,
            self._knowledge.describe(),
        )

    def _stop_after_failure(self, context: Context, error: BaseException) -> None:
        """The task is failing: stop what it started, unless a retry will reconnect to it (a retry is
        left and the task state store, read back, holds the recording)."""

        if isinstance(error, AirflowTaskTimeout):
            self._give_up("the task's execution_timeout ran out")
            return
        if isinstance(error, RealtimeKitRecordingFailedError):
            return  # the recording itself ended
        if self._recording_id is None and _is_outcome_unknown(error):
            self._resolve_lost_start(context, error)
        if self._recording_id is None:
            return
        failed = f"the task failed ({type(error).__name__})"
        if not self._retry_left(context, error):
            self._give_up(f"{failed} and no retry will reconnect to it (none left)")
        elif self._store_holds_recording(context):
            self.log.warning(
                "Leaving recording %s running: the task's retry will reconnect to it (the task state "
                "store holds it, %s)",
                self._recording_id,
                self._knowledge.describe(),
            )
        else:
            self._give_up(
                f"{failed} and no retry will reconnect to it (the task state store does not hold it)"
            )

    def _retry_left(self, context: Context, error: BaseException) -> bool:
        """The task has a retry left, and a task state store for it to reconnect through."""
        ti = context.get("ti")
        if isinstance(error, AirflowFailException) or ti is None or not self._journal(context).available:
            return False
        return bool(ti.try_number <= ti.max_tries)

    def _store_holds_recording(self, context: Context) -> bool:
        """Whether the task state store holds the followed recording, read back; if it does not (its
        write failed), it is written once more. Only then may a retry be trusted to reconnect."""
        journal = self._journal(context)
        if self._recording_id is None:
            return False
        if journal.holds(self._recording_id):
            return True
        if self._fact is None or self._fact.recording_id != self._recording_id:
            return False
        try:
            journal.write(self._fact)
        except Exception as error:
            self.log.error(
                "Could not record recording %s in the task state store (%s: %s)",
                self._recording_id,
                type(error).__name__,
                error,
            )
            return False
        return True

    def _resolve_lost_start(self, context: Context, error: BaseException) -> None:
        """A legacy start the service accepted (200) whose recording could not be found, and no retry
        to reconcile it: the starter looks once more, so that the recording is known (and can be
        stopped) rather than lost."""
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        if self._starter is None or self._retry_left(context, error):
            return  # the retry reconciles it with the journal's record of the start
        with RealtimeKitHook(self.realtimekit_conn_id) as hook:
            found = self._starter.resolve_lost_start(error, hook)
        if found is not None:
            self._follow(found)

    def on_kill(self) -> None:
        """The task was killed: stop the recording it started, so nothing is left running unseen."""
        self._stop_started("the task was killed")


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
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recording_id = recording_id
        self.action = action
        self.realtimekit_conn_id = realtimekit_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
        from airflow_provider_rtk.models import RecordingAction

        choices = (choice.value for choice in RecordingAction)
        action = RecordingAction(choice_argument("action", self.action, choices, what="recording action"))
        recording_id = rendered_id("recording_id", self.recording_id, what="recording action")
        with RealtimeKitHook(self.realtimekit_conn_id) as hook:
            recording = hook.recording_action(recording_id, action)
            settings = hook.settings
        self.log.info("Recording %s: %s -> %s", recording.id, action.value, recording.status.value)
        self.recording_url = recording_url(
            settings.base_url,
            settings.account_id,
            settings.app_id,
            recording.id,
            link_template=settings.recording_link,
        )
        if self.recording_url is not None:  # no link for this connection
            context["ti"].xcom_push(key="recording_url", value=self.recording_url)
        return recording.to_xcom()
