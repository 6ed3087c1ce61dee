"""Operators that start and control RealtimeKit track recordings."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import Enum
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
    CLOCK_SKEW,
    JournalEntry,
    Knowledge,
    StartJournal,
    StartOutcome,
    request_fingerprint,
)
from airflow_provider_rtk.version_compat import ResumableJobMixin, default_deferrable

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.models import Recording, TrackRecordingRequest

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


class IfActive(str, Enum):
    """What to do when the meeting already has an active recording this task did not start."""

    ATTACH = "attach"  #: follow that recording as if this task had started it (never stop it)
    FAIL = "fail"  #: fail the task, naming the recording
    STOP_AND_START = "stop_and_start"  #: stop it, then start a new one


class RealtimeKitStartTrackRecordingOperator(ResumableJobMixin, BaseOperator):
    """Start a RealtimeKit track recording of a meeting, optionally waiting until it is uploaded.

    The body is validated before any request; an invalid field fails the task with its full path
    (``layers.default.outputs[0].storage_config.host``). The start is never duplicated: before
    starting, and on every retry, the meeting's active recording is checked (see ``if_active``); a
    start whose answer was lost is resolved by asking the service. Only a recording this task
    *started* (the id came in its own start's answer) is ever stopped by it; one it found after an
    ambiguous answer is only *believed* its own and followed (see the README's table). On Airflow 3.3
    the start is journalled ahead in the task state store, so a retry knows what its earlier try did.
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
        self._idle_before_start = False
        self._final_recording: Recording | None = None
        #: The journal entry of what the start learnt (written again if the store did not keep it).
        self._fact: JournalEntry | None = None

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

    def _learn(
        self,
        journal: StartJournal,
        outcome: StartOutcome,
        sent_at: datetime | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Follow ``outcome`` and journal it: the id and how it is known, in ONE write of the task
        state store, before anything else. The mixin's external id key is written only after it (when
        ``submit_job`` returns); a try that dies in between leaves the journal, which a retry trusts
        (:meth:`_restore_external_id`)."""
        self._follow(outcome)
        self._fact = journal.entry_for(outcome, sent_at, fingerprint)
        journal.write(self._fact)

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
        """Reconcile with the service and the journal, then start (or follow) a recording; its id.

        A first try with the current body sends the start straight away: the service's answer, or its
        refusal while another recording is active, says what there is (two requests a start, with the
        check for a concurrent start; one when the connection's ``second_start`` is ``"refused"``).
        A retry, and the legacy body (whose empty answer only the state before it can explain), read
        the meeting's active recording first.
        """
        journal = self._journal(context)
        if _try_number(context) <= 1 and self._request.generation == "current":
            started = self._start(journal, context, meeting_was_idle=False)
            self._publish(context, started.recording)
            return started.recording.id
        earlier = journal.read() if _try_number(context) > 1 else None
        active = self.hook.get_active_recording(self._request.meeting_id)
        outcome = self._reconcile(active, earlier, journal, context)
        if outcome is None:
            self._idle_before_start = active is None
            outcome = self._start(journal, context, meeting_was_idle=self._idle_before_start)
        else:
            self._learn(
                journal,
                outcome,
                earlier.sent_at if earlier else None,
                earlier.fingerprint if earlier else None,
            )
            self._log_following(outcome)
        self._publish(context, outcome.recording)
        return outcome.recording.id

    def _reconcile(
        self, active: Recording | None, earlier: JournalEntry | None, journal: StartJournal, context: Context
    ) -> StartOutcome | None:
        """What this try follows without starting anything; ``None``: start a recording."""
        if active is not None:
            if (
                earlier is not None
                and earlier.recording_id == active.id
                and earlier.knowledge is not Knowledge.FOREIGN
            ):
                return StartOutcome(
                    active, earlier.knowledge, "an earlier try recorded it in the task state store"
                )
            why = self._earlier_try_evidence(active, earlier, journal, context)
            if why is not None:
                return StartOutcome(active, Knowledge.BELIEVED, why)
            return self._apply_policy(active, "it was already active")
        if _try_number(context) > 1:
            return self._earlier_try_stopped_recording(earlier, journal, context)
        return None

    def _earlier_try_evidence(
        self, recording: Recording, earlier: JournalEntry | None, journal: StartJournal, context: Context
    ) -> str | None:
        """Why ``recording`` may be an earlier try's (``None``: no reason to think so).

        With the task state store only a recorded start with no answer counts (the recording was
        invoked since and has this task's file prefix); without it (Airflow < 3.3, ``durable=False``)
        a retry follows what looks like its earlier try's: invoked since the DAG run started, through
        the API, with this task's prefix. Either way it is only believed, never stopped.
        """
        if not self._looks_like_ours(recording):
            return None
        if journal.available:
            if earlier is None or earlier.phase != "sending" or earlier.sent_at is None:
                return None
            if not recording.invoked_since(earlier.sent_at - CLOCK_SKEW):
                return None
            return f"an earlier try sent a start at {earlier.sent_at.isoformat()} and got no answer"
        since = self._retry_since(context)
        if since is None or not recording.invoked_since(since):
            return None
        return "it looks like an earlier try's (no task state store to know for sure)"

    def _apply_policy(self, active: Recording, why: str) -> StartOutcome | None:
        """``if_active`` for a recording this task did not start; ``None`` means: start a new one."""
        meeting_id = self._request.meeting_id
        policy = self._policy()
        if policy is IfActive.ATTACH:
            return StartOutcome(active, Knowledge.FOREIGN, f"{why}; if_active='attach'")
        if policy is IfActive.FAIL:
            raise AirflowFailException(
                f"Meeting {meeting_id} already has active recording {active.id} "
                f"(status {active.status.value}), not started by this task ({why}); if_active='fail'"
            )
        self.log.warning(
            "Stopping active recording %s of meeting %s before starting a new one (%s; if_active)",
            active.id,
            meeting_id,
            why,
        )
        self.hook.stop_recording(active.id)
        return None

    @staticmethod
    def _retry_since(context: Context) -> datetime | None:
        """On a retry: when this DAG run started. ``None`` on a first try."""
        if _try_number(context) <= 1:
            return None
        return getattr(context.get("dag_run"), "start_date", None)

    def _looks_like_ours(self, recording: Recording) -> bool:
        """Started through the API with this task's file prefix."""
        reason = recording.start_reason.reason if recording.start_reason else None
        if reason not in (None, "API_CALL"):  # e.g. RECORD_ON_START: the meeting's own setting
            return False
        if not recording.output_file_name:
            return True
        prefixes = [layer.file_name_prefix or "default" for layer in (self._request.layers or {}).values()]
        return any(recording.output_file_name.startswith(f"{prefix}_") for prefix in prefixes or ["default"])

    def _earlier_try_stopped_recording(
        self, earlier: JournalEntry | None, journal: StartJournal, context: Context
    ) -> StartOutcome | None:
        """On a retry with nothing active: an earlier try's recording that has since stopped (it
        ended, or was stopped): follow it rather than record the meeting a second time."""
        from airflow_provider_rtk.models import RecordingStatus

        if journal.available and (earlier is None or earlier.phase != "sending"):
            return None  # the store says the earlier try started nothing that is not accounted for
        page = self.hook.list_recordings(
            meeting_id=self._request.meeting_id, sort_by="invokedTime", sort_order="DESC", per_page=20
        )
        for recording in page.recordings:
            if recording.status is RecordingStatus.ERRORED:
                continue
            why = self._earlier_try_evidence(recording, earlier, journal, context)
            if why is not None:
                return StartOutcome(
                    recording, Knowledge.BELIEVED, f"reattaching to a stopped recording: {why}"
                )
        return None

    def _start(self, journal: StartJournal, context: Context, *, meeting_was_idle: bool) -> StartOutcome:
        """Send the start, journalled ahead; then make sure two starts of one meeting converge."""
        from airflow_provider_rtk.exceptions import RealtimeKitAPIError, RealtimeKitMeetingBusyError

        fingerprint = request_fingerprint(mask_layer_secrets(self._request.to_api_body())[0])
        sent_at = journal.intent(fingerprint)

        def learnt(outcome: StartOutcome) -> None:
            self._learn(journal, outcome, sent_at, fingerprint)

        try:
            outcome = self.hook.start_track_recording(
                self._request, meeting_was_idle=meeting_was_idle, on_outcome=learnt
            )
        except RealtimeKitMeetingBusyError as busy:
            journal.refused()
            outcome_or_none = self._apply_policy(
                busy.active, f"the service refused the start ({busy.message})"
            )
            if outcome_or_none is None:
                self._idle_before_start = True
                return self._start(journal, context, meeting_was_idle=True)
            learnt(outcome_or_none)
            self._log_following(outcome_or_none)
            return outcome_or_none
        except RealtimeKitAPIError as error:
            if not (error.is_retryable or _is_outcome_unknown(error)):
                journal.refused()  # a definite no: nothing was started
            raise
        self.log.info(
            "Started %s-API track recording %s of meeting %s (status %s): %s",
            self._request.generation,
            outcome.recording.id,
            self._request.meeting_id,
            outcome.recording.status.value,
            outcome.knowledge.describe(),
        )
        return self._converge(outcome, journal, context)

    def _converge(self, outcome: StartOutcome, journal: StartJournal, context: Context) -> StartOutcome:
        """After a start the service accepted while another start of the meeting raced it: the
        meeting's active recording is the one that won. If it is not ours, ours yields (it is stopped
        only if this task started it) and the task follows the winner as ``if_active`` says.

        Skipped when the connection's extra ``second_start`` is ``"refused"``: the service then
        refuses the later of two starts, and the refusal already converges them."""
        if outcome.knowledge is not Knowledge.STARTED or self.hook.settings.second_start_refused:
            return outcome
        ours = outcome.recording
        winner = self.hook.get_active_recording(self._request.meeting_id)
        if winner is None or winner.id == ours.id:
            return outcome
        policy = self._policy()
        if policy is IfActive.STOP_AND_START:
            self.log.warning(
                "Meeting %s has a second recording %s; stopping it (if_active)", ours.meeting_id, winner.id
            )
            self.hook.stop_recording(winner.id)
            return outcome
        self._stop_started(f"recording {winner.id} of the same meeting started first", on_timeout=True)
        if policy is IfActive.FAIL:
            raise AirflowFailException(
                f"Meeting {self._request.meeting_id} is recorded by {winner.id}, which started first; "
                f"this task stopped its own {ours.id}; if_active='fail'"
            )
        followed = StartOutcome(
            winner, Knowledge.FOREIGN, f"it won the race; this task stopped its own {ours.id}"
        )
        self._learn(journal, followed)
        self._log_following(followed)
        return followed

    def _log_following(self, outcome: StartOutcome) -> None:
        self.log.warning(
            "Following recording %s of meeting %s, %s: %s",
            outcome.recording.id,
            self._request.meeting_id,
            outcome.knowledge.describe(),
            outcome.how,
        )

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

        if fill_outlet_events(context, self.outlets, recording):
            self.log.info("Asset event(s) for recording %s (%s)", recording.id, recording.status.value)
        return recording.to_xcom(links=self.xcom_download_links)

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
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        self._stopped_ids.add(recording_id)  # before sending: exactly one stop, even if interrupted
        self.log.warning("Stopping recording %s, which this task started, because %s", recording_id, why)
        try:
            with RealtimeKitHook(self.realtimekit_conn_id) as hook:
                hook.stop_recording(recording_id)
        except Exception as error:
            self.log.error(
                "Recording %s left running: the stop failed (%s: %s); stop it by hand",
                recording_id,
                type(error).__name__,
                error,
            )
            return False
        return True

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
        """A legacy start the service accepted (200) whose recording could not be found: look once
        more, so that the recording it started is known (and can be stopped) rather than lost."""
        from airflow_provider_rtk.exceptions import RealtimeKitAPIError
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        accepted_at = getattr(error, "accepted_at", None)
        if accepted_at is None or self._retry_left(context, error):
            return  # the retry reconciles it with the journal's record of the start
        try:
            with RealtimeKitHook(self.realtimekit_conn_id) as hook:
                found = hook.legacy_start_outcome(
                    self._request.meeting_id, accepted_at, meeting_was_idle=self._idle_before_start
                )
        except RealtimeKitAPIError as lookup_error:
            self.log.error(
                "The accepted start's recording is still unknown (%s); check meeting %s",
                lookup_error,
                self._request.meeting_id,
            )
            return
        if found is not None:
            self.log.warning(
                "Found recording %s after the accepted start: %s (%s)",
                found.recording.id,
                found.knowledge.describe(),
                found.how,
            )
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
