"""A watcher that makes no request: it declares a session-documents asset for the webhook receiver.

``Asset("realtimekit_session_transcripts", watchers=[AssetWatcher(name=..., trigger=
RealtimeKitPushedDocumentsTrigger(documents=["summary"]))])`` tells the receiver (``POST
/realtimekit/webhooks/realtimekit_default``) to turn each verified ``meeting.transcript`` /
``meeting.summary`` into an asset event of that asset, once per session and document, whose ``extra``
is ``{"session_id", "meeting_id", "document"}`` (never a link): what
:class:`~airflow_provider_rtk.transfers.session_transcript_to_object_storage.RealtimeKitSessionTranscriptToObjectStorageOperator`
reads to know which session to copy. The trigger itself only waits: it never fires and never calls the API.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.triggers.push_only import RealtimeKitPushOnlyTrigger, choices_argument

#: The documents a push may say are ready (``meeting.transcript``, ``meeting.summary``).
PUSHED_DOCUMENTS = ("summary", "transcript")


class RealtimeKitPushedDocumentsTrigger(RealtimeKitPushOnlyTrigger):
    """Declares an asset fed by pushed ``meeting.transcript`` / ``meeting.summary`` deliveries; makes
    no request.

    :param realtimekit_conn_id: the connection whose receiver path feeds the asset.
    :param meeting_ids: one meeting id, a list of them, or ``None`` (every meeting of the app).
    :param documents: which of ``transcript`` and ``summary`` feed the asset (both by default; a
        summary is made after the transcript, so ``["summary"]`` alone means "both are ready").
    """

    def __init__(
        self,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        meeting_ids: str | list[str] | None = None,
        documents: str | list[str] | tuple[str, ...] = PUSHED_DOCUMENTS,
    ) -> None:
        super().__init__(realtimekit_conn_id, meeting_ids)
        self.documents = choices_argument("documents", documents, PUSHED_DOCUMENTS, upper=False)

    def _choices(self) -> dict[str, Any]:
        return {"documents": self.documents}

    def watches(self, meeting_id: str | None, document: str) -> bool:
        """Whether ``document`` of a session of ``meeting_id`` feeds this asset."""
        return document in self.documents and self.watches_meeting(meeting_id)
