"""Copy a session's post-meeting transcript and summary into the user's storage (any Airflow
``ObjectStoragePath``), with the guarantees of the recording copy.

``RealtimeKitSessionTranscriptToObjectStorageOperator`` reads fresh download links when it copies
(``GET /sessions/{session_id}/transcript`` and ``/summary``), streams each file to a temporary name
beside ``destination / <session id>.transcript.csv`` (``.summary.txt``) and moves it into place once
complete, and emits one asset event per file. When a document is not ready yet it waits, polling: in
the triggerer (``deferrable=True``) or on the worker. Started by a ``meeting.transcript`` or
``meeting.summary`` push (an asset event naming the session), it finds the documents ready at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath

from airflow_provider_rtk.arguments import (
    as_utc,
    rendered_id,
    rendered_nothing,
    session_documents_argument,
    transcript_format_argument,
    whole_number_argument,
)
from airflow_provider_rtk.exceptions import (
    FieldError,
    RealtimeKitDownloadLinksExpiredError,
    RealtimeKitError,
    RealtimeKitFilesNotDownloadableError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
    _NotYet,
    _Refused,
)
from airflow_provider_rtk.transfers.recording_to_object_storage import (
    ObjectStorageCopyOperator,
    _Copied,
    _Size,
    check_link,
)
from airflow_provider_rtk.version_compat import default_deferrable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.models import SessionDocument

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_TRANSCRIPT_ASSET_ALIAS",
    "DOCUMENT_FILE_NAMES",
    "RealtimeKitSessionTranscriptToObjectStorageOperator",
]

#: The asset alias the operator emits its per-file asset events through (schedule DAGs on it).
DEFAULT_TRANSCRIPT_ASSET_ALIAS = "realtimekit_transcript_copies"
#: Bytes a transcript or summary may have when its link announces no size (a chunked body).
DEFAULT_MAX_FILE_SIZE = 256 * 1024 * 1024
#: The destination name of each document (``{session_id}`` and ``{extension}`` filled in): the
#: transcript's extension is its format's (``csv`` unless ``transcript_format`` says otherwise), the
#: summary is plain text, as the service gives them.
DOCUMENT_FILE_NAMES: dict[str, str] = {
    "transcript": "{session_id}.transcript.{extension}",
    "summary": "{session_id}.summary.txt",
}
#: Seconds added to the deferral's own timeout beyond the trigger's deadline.
_DEFER_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class _Wanted:
    """One document of one session to copy."""

    session_id: str
    meeting_id: str | None
    document: str
    transcript_format: str | None = None

    @property
    def name(self) -> str:
        extension = (self.transcript_format or "CSV").lower()
        return DOCUMENT_FILE_NAMES[self.document].format(session_id=self.session_id, extension=extension)

    @property
    def label(self) -> str:
        return f"{self.session_id}/{self.document}"


class RealtimeKitSessionTranscriptToObjectStorageOperator(ObjectStorageCopyOperator):
    """Copy sessions' post-meeting transcript (CSV) and summary (plain text) to ``destination``.

    The sessions: ``session_id`` (templated) when set, else every session the run's triggering asset
    events name in their extra (``session_id``, and ``meeting_id`` when present; also under
    ``extra["payload"]``): a recording asset event, or the asset event a ``meeting.transcript`` /
    ``meeting.summary`` push became. The meeting must have been created with ``transcribe_on_end``
    (and ``summarize_on_end`` for a summary).

    The copy has the recording copy's guarantees (:class:`RealtimeKitRecordingToObjectStorageOperator`):
    fresh links read when the files are copied, never shown (no link in logs, errors, XCom or asset
    events); each file streamed to a temporary name and moved to ``destination /
    <session id>.transcript.csv`` (``.vtt`` etc. with ``transcript_format``) or ``<session
    id>.summary.txt`` only when complete, so a file is absent or complete and right; never more read
    than announced (the link's ``Content-Length``, else at most ``max_file_size`` from a chunked
    body); the same download bounds; a rerun skips a file already there with the announced size;
    expired links fail with :class:`RealtimeKitDownloadLinksExpiredError`.

    While a document is not ready (the service answers 404, or no link), the operator waits, polling
    every ``poll_interval`` seconds for up to ``wait_timeout``: in the triggerer with ``deferrable``
    (:class:`~airflow_provider_rtk.triggers.session_documents.RealtimeKitSessionDocumentsTrigger`), else
    on the worker; then :class:`RealtimeKitFilesNotDownloadableError`. A session the service does not
    know (404 for the session itself) fails at once.

    Emits one asset event per file through ``asset_alias`` (default ``realtimekit_transcript_copies``;
    ``None`` for none): the asset is the file's URI, its extra
    ``airflow_provider_rtk.assets.session_document_asset_extra``.

    Returns (XCom) ``{"session_ids": [...], "files": [{"session_id", "meeting_id", "document", "name",
    "destination", "size_bytes", "copied"}]}``.

    :param destination: a folder: an ``ObjectStoragePath`` or its URL text (templated).
    :param session_id: the session (templated); empty or left out: the sessions of the run's
        triggering asset events.
    :param include: ``"transcript"``, ``"summary"`` or both (the default).
    :param transcript_format: ``"CSV"``, ``"JSON"``, ``"SRT"`` or ``"VTT"`` (the file's extension follows);
        ``None`` asks for no format: the documented CSV.
    :param deferrable: wait in the triggerer instead of a worker slot (default from
        ``[operators] default_deferrable``).
    :param wait_timeout: seconds (or ``timedelta``) to wait for the documents (default 1 hour:
        transcription starts when the session ends and takes a while).
    :param poll_interval: seconds between two looks while waiting.
    :param max_file_size: bytes a file may have when its link announces no ``Content-Length``.
    :param asset_alias: the alias the per-file asset events go through, or ``None``.

    ``storage_conn_id``, ``realtimekit_conn_id``, ``chunk_size``, ``download_timeout`` and
    ``min_download_rate`` are the recording copy's (:class:`ObjectStorageCopyOperator`).
    """

    template_fields = ("session_id", "destination", "storage_conn_id")

    def __init__(
        self,
        *,
        destination: str | ObjectStoragePath,
        session_id: str | None = None,
        include: str | Sequence[str] = ("transcript", "summary"),
        transcript_format: str | None = None,
        deferrable: bool = default_deferrable(),
        wait_timeout: float | timedelta = 3600.0,
        poll_interval: float = 30.0,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        asset_alias: str | None = DEFAULT_TRANSCRIPT_ASSET_ALIAS,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            destination=destination,
            wait_timeout=wait_timeout,
            poll_interval=poll_interval,
            asset_alias=asset_alias,
            **kwargs,
        )
        self.session_id = session_id
        self.include = session_documents_argument(include)
        self.transcript_format = transcript_format_argument(transcript_format)
        self.deferrable = deferrable
        self.max_file_size = whole_number_argument("max_file_size", max_file_size, 1, 2**40, "bytes")

    # ---------------------------------------------------------------------------------- sessions

    def _sessions(self, context: Context) -> dict[str, str | None]:
        """Session id -> meeting id: the templated ``session_id``, else the run's asset events'."""
        if self.session_id is not None and not rendered_nothing(self.session_id):
            return {rendered_id("session_id", self.session_id): None}
        from airflow_provider_rtk.assets import session_ids_from_asset_events

        found = session_ids_from_asset_events(context.get("triggering_asset_events") or {})
        if not found:
            raise RealtimeKitPayloadError(
                [
                    FieldError(
                        "session_id",
                        "is not set, and no triggering asset event of this run names a session "
                        "(extra session_id)",
                    )
                ],
                what="operator argument",
            )
        return found

    def _wanted(self, sessions: dict[str, str | None]) -> list[_Wanted]:
        return [
            _Wanted(session_id, meeting_id, document, self.transcript_format)
            for session_id, meeting_id in sessions.items()
            for document in self.include
        ]

    # ---------------------------------------------------------------------------------- running

    def execute(self, context: Context) -> dict[str, Any]:
        sessions = self._sessions(context)
        self._prepared_folder()  # a bad destination fails before any request
        if self.deferrable:
            missing = self._missing(sessions)
            if missing:
                self._defer(sessions, missing)
        return self._copy_all(context, sessions)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: copy on success (with links read now), else fail. The
        sessions are found again as :meth:`execute` found them (the run's arguments and asset events
        have not changed)."""
        from airflow_provider_rtk.triggers.events import SessionDocumentsEvent

        parsed = SessionDocumentsEvent.parse(event)
        if parsed.is_timeout:
            raise RealtimeKitFilesNotDownloadableError(parsed.message)
        if not parsed.is_success:
            raise RealtimeKitError(f"Waiting for the transcripts failed: {parsed.message}")
        self.log.info("%s", parsed.message)
        return self._copy_all(context, self._sessions(context))

    def _defer(self, sessions: dict[str, str | None], missing: list[str]) -> None:
        from airflow_provider_rtk.triggers.session_documents import RealtimeKitSessionDocumentsTrigger

        self.log.info("Not ready yet: %s; waiting in the triggerer", ", ".join(missing))
        self.defer(
            trigger=RealtimeKitSessionDocumentsTrigger(
                session_ids=list(sessions),
                include=list(self.include),
                realtimekit_conn_id=self.realtimekit_conn_id,
                poll_interval=self.poll_interval,
                end_time=time.time() + self.wait_timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.wait_timeout + self.poll_interval + _DEFER_GRACE_SECONDS),
        )

    def _missing(self, sessions: dict[str, str | None]) -> list[str]:
        """What is not ready yet (one look at each document)."""
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        with RealtimeKitHook(realtimekit_conn_id=self.realtimekit_conn_id) as hook:
            return [item.label for item in self._wanted(sessions) if self._read(hook, item) is None]

    def _read(self, hook: RealtimeKitHook, item: _Wanted) -> SessionDocument | None:
        """The document with a fresh link, or ``None`` while it has none; a session the service does
        not know fails at once, and so does a link that has already expired."""
        try:
            if item.document == "transcript":
                found: SessionDocument = hook.get_session_transcript(item.session_id, item.transcript_format)
            else:
                found = hook.get_session_summary(item.session_id)
        except RealtimeKitNotFoundError:
            hook.get_session(item.session_id)  # 404 here too: no such session, waiting will not help
            return None
        if not found.is_ready:
            return None
        expiry = found.download_url_expiry
        if expiry is not None and as_utc(expiry) <= datetime.now(UTC):
            raise _expired(item, expiry, refused=False)
        return found

    def _copy_all(self, context: Context, sessions: dict[str, str | None]) -> dict[str, Any]:
        """Copy every wanted document, each from a link read just before; wait (here) while one is not
        ready, for up to ``wait_timeout``."""
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        folder = self._prepared_folder()
        deadline = time.monotonic() + self.wait_timeout
        done: dict[_Wanted, _Copied] = {}
        refused: set[_Wanted] = set()
        with (
            RealtimeKitHook(realtimekit_conn_id=self.realtimekit_conn_id) as hook,
            httpx.Client(timeout=self.download_timeout, follow_redirects=False) as downloads,
        ):
            while True:
                waiting_for = []
                for item in self._wanted(sessions):
                    if item in done:
                        continue
                    found = self._read(hook, item)
                    if found is None or found.download_url is None:
                        waiting_for.append(f"{item.label}: not ready")
                        continue
                    check_link(f"Session {item.session_id}", item.name, found.download_url)
                    try:
                        done[item] = self._copy_file(
                            downloads, item.name, found.download_url, folder, _Size(None, self.max_file_size)
                        )
                    except _Refused:
                        if item in refused:  # refused again with a fresh link
                            raise _expired(item, found.download_url_expiry, refused=True) from None
                        refused.add(item)
                        waiting_for.append(f"{item.label}: refused (403)")
                    except _NotYet as reason:
                        waiting_for.append(f"{item.label}: {reason}")
                if not waiting_for:
                    break
                if refused - set(done) and all(w.endswith("(403)") for w in waiting_for):
                    continue  # at once, with fresh links
                if time.monotonic() + self.poll_interval > deadline:
                    raise RealtimeKitFilesNotDownloadableError(
                        f"Not copied after {self.wait_timeout:g}s: {'; '.join(waiting_for)} (was the "
                        "meeting created with transcribe_on_end, and summarize_on_end for a summary?)"
                    )
                self.log.info("Waiting %gs: %s", self.poll_interval, "; ".join(waiting_for))
                time.sleep(self.poll_interval)
        self._emit_asset_events(context, done)
        return {
            "session_ids": list(sessions),
            "files": [
                {
                    "session_id": item.session_id,
                    "meeting_id": item.meeting_id,
                    "document": item.document,
                    "name": copied.name,
                    "destination": copied.uri,
                    "size_bytes": copied.size,
                    "copied": copied.copied,
                }
                for item, copied in done.items()
            ],
        }

    def _emit_asset_events(self, context: Context, done: dict[_Wanted, _Copied]) -> None:
        """One asset event per destination file, through the alias; the extra names no link."""
        if not self.asset_alias:
            return
        from airflow_provider_rtk.assets import session_document_asset_extra

        events = context["outlet_events"][AssetAlias(self.asset_alias)]
        for item, copied in done.items():
            extra = session_document_asset_extra(
                item.session_id,
                item.meeting_id,
                item.document,
                copied.name,
                copied.size,
                copied.uri,
                copied=copied.copied,
            )
            events.add(Asset(uri=copied.uri, name=copied.uri), extra=extra)


def _expired(
    item: _Wanted, expiry: datetime | None, *, refused: bool
) -> RealtimeKitDownloadLinksExpiredError:
    when = f" on {as_utc(expiry).isoformat(timespec='seconds')}" if expiry else ""
    how = " (a fresh link was refused: 403)" if refused else ""
    return RealtimeKitDownloadLinksExpiredError(
        f"The download link of the {item.document} of session {item.session_id} has expired{when}{how}: "
        "it can no longer be copied from RealtimeKit"
    )
