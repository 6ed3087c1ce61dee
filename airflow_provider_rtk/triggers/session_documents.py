"""Trigger that waits, in the triggerer, for sessions' post-meeting transcripts and summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_rtk.arguments import rendered_id, session_documents_argument
from airflow_provider_rtk.exceptions import RealtimeKitNotFoundError
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.triggers.base import RealtimeKitPollingTrigger, describe_deadline
from airflow_provider_rtk.triggers.events import SessionDocumentsEvent, missing_document

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
    from airflow_provider_rtk.models import SessionDocument


async def read_document(hook: RealtimeKitAsyncHook, session_id: str, document: str) -> SessionDocument | None:
    """The session's ``document`` (``transcript`` or ``summary``) as the service has it now; ``None``
    for a 404 (not there yet)."""
    read = hook.get_session_transcript if document == "transcript" else hook.get_session_summary
    try:
        return await read(session_id)
    except RealtimeKitNotFoundError:
        return None


class RealtimeKitSessionDocumentsTrigger(RealtimeKitPollingTrigger):
    """Waits until every session in ``session_ids`` has a download link for each document in
    ``include`` (``GET /sessions/{id}/transcript``, ``.../summary``: a 404, or an answer without a
    link, is "not yet"), or the deadline passes.

    Fires one :class:`~airflow_provider_rtk.triggers.events.SessionDocumentsEvent` (as a dict):
    ``success``, ``timeout`` (with what is still ``missing``) or ``error``. Documents found ready are
    not read again.

    :param session_ids: the sessions (their meetings created with ``transcribe_on_end``, and
        ``summarize_on_end`` for a summary).
    :param include: ``transcript``, ``summary`` or both.
    :param realtimekit_conn_id: the RealtimeKit connection.
    :param poll_interval: seconds between two looks.
    :param end_time: deadline as absolute epoch seconds, or ``None`` for none.
    """

    def __init__(
        self,
        session_ids: Sequence[str],
        include: Sequence[str] = ("transcript", "summary"),
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 30.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__(
            realtimekit_conn_id=realtimekit_conn_id, poll_interval=poll_interval, end_time=end_time
        )
        self.session_ids = [rendered_id("session_ids", item, what="trigger argument") for item in session_ids]
        self.include = list(session_documents_argument(include, what="trigger argument"))
        self._missing = [f"{session}/{document}" for session in self.session_ids for document in self.include]
        self._logged_waiting = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "session_ids": self.session_ids,
                "include": self.include,
                "realtimekit_conn_id": self.realtimekit_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    def _event(self, status: str, message: str) -> SessionDocumentsEvent:
        return SessionDocumentsEvent.model_validate(
            {
                "status": status,
                "message": message,
                "session_ids": self.session_ids,
                "include": self.include,
                "missing": self._missing,
            }
        )

    async def check(self, hook: RealtimeKitAsyncHook) -> SessionDocumentsEvent | None:
        still: list[str] = []
        for item in self._missing:
            session_id, document = item.split("/", 1)
            if missing_document(session_id, document, await read_document(hook, session_id, document)):
                still.append(item)
        self._missing = still
        if not still:
            return self._event(
                "success", f"Ready to copy: {', '.join(self.include)} of {len(self.session_ids)} session(s)."
            )
        if not self._logged_waiting:
            self.log.info("Waiting for %s (deadline %s)", ", ".join(still), describe_deadline(self.end_time))
            self._logged_waiting = True
        return None

    def error_event(self, message: str) -> SessionDocumentsEvent:
        return self._event("error", message)

    def timeout_event(self) -> SessionDocumentsEvent:
        return self._event(
            "timeout",
            f"Still not ready at the deadline: {', '.join(self._missing)} (was the meeting created with "
            "transcribe_on_end, and summarize_on_end for a summary?)",
        )
