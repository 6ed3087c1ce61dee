"""Copy the files of an uploaded recording into the user's storage (any Airflow ``ObjectStoragePath``).

``RealtimeKitRecordingToObjectStorageOperator`` asks the service for fresh download links when it
runs, streams each file in chunks into ``destination / <file name>`` (``file://``, ``s3://`` with the
amazon provider, any fsspec filesystem Airflow knows), and emits one asset event per file copied.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_rtk import redaction
from airflow_provider_rtk._arguments import poll_interval_argument, seconds_argument
from airflow_provider_rtk.exceptions import (
    FieldError,
    RealtimeKitError,
    RealtimeKitPayloadError,
    RealtimeKitRecordingFailedError,
)

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.models import Recording

__all__ = [
    "DEFAULT_ASSET_ALIAS",
    "RealtimeKitDownloadLinksExpiredError",
    "RealtimeKitFilesNotDownloadableError",
    "RealtimeKitRecordingToObjectStorageOperator",
]

#: The asset alias the operator emits its per-file asset events through (schedule DAGs on it).
DEFAULT_ASSET_ALIAS = "realtimekit_recording_copies"
#: Bytes read from the link and written to the destination at a time.
DEFAULT_CHUNK_SIZE = 1024 * 1024
#: A file name as the service names files: one path segment, nothing that could climb out of the folder.
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._ -]{0,254}")
#: Download answers that mean "not yet, try again": not there yet, conflict, too early, busy, failing.
_NOT_YET_STATUSES = frozenset({404, 408, 409, 425, 429})


class RealtimeKitDownloadLinksExpiredError(RealtimeKitError):
    """The recording's download links have expired (they last 7 days after the upload); the files can
    no longer be fetched from RealtimeKit."""


class RealtimeKitFilesNotDownloadableError(RealtimeKitError):
    """Some files were still not downloadable when ``wait_timeout`` ran out."""


class _NotYet(Exception):
    """This file cannot be downloaded right now; try again with fresh links later."""


class _Refused(Exception):
    """The link was refused (403): expired, or not valid any more."""


@dataclass(frozen=True)
class _Copied:
    name: str
    target: ObjectStoragePath
    uri: str
    size: int
    copied: bool


def _shown(url: str) -> str:
    """A link as it may be logged: scheme, host and file name; the query (the signature) left out."""
    parts = urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1]
    return f"{parts.scheme}://{parts.hostname or ''}/…/{name}"


def _asset_uri(target: ObjectStoragePath) -> str:
    """The destination as an asset URI: ``protocol://path``, with no connection id in it."""
    protocol = target.protocol if isinstance(target.protocol, str) else target.protocol[0]
    path = str(target.path)
    if protocol in ("file", "local"):
        return f"file://{path if path.startswith('/') else '/' + path}"
    return f"{protocol}://{path.lstrip('/')}"


class RealtimeKitRecordingToObjectStorageOperator(BaseOperator):
    """Copy every file of an ``UPLOADED`` recording to ``destination`` (an ``ObjectStoragePath``).

    - Fresh download links are read when the task runs (``get_recording``): a link in an XCom or an
      asset event would expire, and is a bearer credential.
    - Each file is streamed in ``chunk_size`` pieces from the link to ``destination / <file name>``;
      no file is ever held in memory whole.
    - Idempotent per file: a file already at the destination with the size the link announces
      (``Content-Length``) is skipped, so a rerun copies only what is missing or different.
    - While the recording is not ``UPLOADED`` yet, or a file answers 404/409/425/429/5xx or the
      connection drops, it waits ``poll_interval`` seconds and tries again with fresh links, for up
      to ``wait_timeout`` (then :class:`RealtimeKitFilesNotDownloadableError`).
    - Expired links fail with :class:`RealtimeKitDownloadLinksExpiredError` (no retry will help).
    - Emits one asset event per file copied through the asset alias ``asset_alias`` (default
      ``realtimekit_recording_copies``; ``None`` for none); the asset is the file's URI (no
      connection id) and its extra the recording's ids and the file (no link).
    - Links are never logged whole (the query, which holds the signature, is left out and masked).

    Returns (XCom) ``{"recording_id", "files": [{"name", "destination", "size_bytes", "copied"}]}``.

    :param recording_id: the recording (templated), e.g. from the start operator's XCom.
    :param destination: a folder: an ``ObjectStoragePath`` or its URL text (templated), e.g.
        ``"s3://my-bucket/recordings/{{ dag_run.run_id }}"`` or ``"file:///data/recordings"``.
    :param storage_conn_id: the Airflow connection of the destination (e.g. an AWS connection);
        ``None`` uses the filesystem's default (or the one written in the URL, ``s3://conn@bucket``).
    :param realtimekit_conn_id: the RealtimeKit connection.
    :param wait_timeout: seconds (or ``timedelta``) to wait for the files to become downloadable.
    :param poll_interval: seconds between two tries while waiting.
    :param chunk_size: bytes per read and write.
    :param download_timeout: seconds a download may go without receiving data.
    :param asset_alias: the alias the per-file asset events go through, or ``None``.
    """

    template_fields = ("recording_id", "destination", "storage_conn_id")

    def __init__(
        self,
        *,
        recording_id: str,
        destination: str | ObjectStoragePath,
        storage_conn_id: str | None = None,
        realtimekit_conn_id: str = "realtimekit_default",
        wait_timeout: float | timedelta = 900.0,
        poll_interval: float = 10.0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        download_timeout: float = 60.0,
        asset_alias: str | None = DEFAULT_ASSET_ALIAS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recording_id = recording_id
        self.destination = destination
        self.storage_conn_id = storage_conn_id
        self.realtimekit_conn_id = realtimekit_conn_id
        self.wait_timeout = seconds_argument("wait_timeout", wait_timeout, minimum=0.0)
        self.poll_interval = poll_interval_argument("poll_interval", poll_interval)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1024 <= chunk_size <= 2**30:
            raise RealtimeKitPayloadError(
                [
                    FieldError(
                        "chunk_size",
                        f"must be a whole number of bytes from 1024 to 2**30, not {chunk_size!r}",
                    )
                ],
                what="operator argument",
            )
        self.chunk_size = chunk_size
        self.download_timeout = seconds_argument("download_timeout", download_timeout, minimum=0.001)
        self.asset_alias = asset_alias
        if asset_alias:
            from airflow.sdk import AssetAlias

            self.outlets = [*self.outlets, AssetAlias(asset_alias)]

    # ---------------------------------------------------------------------------------- checks

    def _checked_recording_id(self) -> str:
        from airflow_provider_rtk.models import ID_PATTERN

        value = self.recording_id
        if (
            not isinstance(value, str)
            or not re.fullmatch(ID_PATTERN, value.strip())
            or value.strip() in ("None", "null")  # a template that rendered nothing
        ):
            raise RealtimeKitPayloadError(
                [FieldError("recording_id", f"not a valid recording id: {str(value)[:80]!r}")],
                what="operator argument",
            )
        return value.strip()

    def _destination_folder(self) -> ObjectStoragePath:
        from airflow.sdk import ObjectStoragePath

        value = self.destination
        if isinstance(value, ObjectStoragePath):
            return value
        if not isinstance(value, str) or "://" not in value or not value.split("://", 1)[1].strip("/"):
            raise RealtimeKitPayloadError(
                [
                    FieldError(
                        "destination",
                        "must be a storage URL such as s3://bucket/folder or file:///data, "
                        f"not {str(value)[:80]!r}",
                    )
                ],
                what="operator argument",
            )
        return ObjectStoragePath(value.strip(), conn_id=self.storage_conn_id or None)

    # ---------------------------------------------------------------------------------- running

    def execute(self, context: Context) -> dict[str, Any]:
        import logging

        import httpx

        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        # httpx logs every request's full URL at INFO: for a pre-signed link that is the credential
        # itself (Airflow 3.1+ quiets httpx; 3.0 does not), so its request lines stay out of this task
        httpx_log = logging.getLogger("httpx")
        httpx_log.setLevel(max(httpx_log.getEffectiveLevel(), logging.WARNING))
        recording_id = self._checked_recording_id()
        folder = self._destination_folder()
        if _asset_uri(folder).startswith("file://"):
            folder.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.wait_timeout
        done: dict[str, _Copied] = {}
        with (
            RealtimeKitHook(realtimekit_conn_id=self.realtimekit_conn_id) as hook,
            httpx.Client(timeout=self.download_timeout, follow_redirects=True) as downloads,
        ):
            recording, waiting_for = self._fresh_links(hook, recording_id), ""
            refused: set[str] = set()
            while True:
                links = recording.download_links
                for url in links.values():
                    redaction.remember(url, urlsplit(url).query)
                for name, url in links.items():
                    if name in done:
                        continue
                    try:
                        done[name] = self._copy_file(downloads, name, url, folder)
                    except _Refused:
                        if name in refused:  # refused again with a fresh link
                            raise self._expired(recording, name) from None
                        refused.add(name)
                        waiting_for = f"{name} was refused (403)"
                    except _NotYet as reason:
                        waiting_for = f"{name}: {reason}"
                if links and len(done) == len(links):
                    break
                if refused - set(done):
                    recording = self._fresh_links(hook, recording_id)  # at once: maybe only this link
                    continue
                waiting_for = waiting_for or "the service lists no download link yet"
                if time.monotonic() + self.poll_interval > deadline:
                    raise RealtimeKitFilesNotDownloadableError(
                        f"Recording {recording_id}: {len(links) - len(done)} of {len(links)} files still not "
                        f"downloadable after {self.wait_timeout:g}s (last: {waiting_for})"
                    )
                self.log.info("Waiting %gs: %s", self.poll_interval, waiting_for)
                time.sleep(self.poll_interval)
                recording, waiting_for = self._fresh_links(hook, recording_id, deadline), ""
        self._emit_asset_events(context, recording, list(done.values()))
        return {
            "recording_id": recording_id,
            "files": [
                {"name": item.name, "destination": item.uri, "size_bytes": item.size, "copied": item.copied}
                for item in done.values()
            ],
        }

    def _fresh_links(
        self, hook: RealtimeKitHook, recording_id: str, deadline: float | None = None
    ) -> Recording:
        """The recording, read now, once it is ``UPLOADED``; waits while it is still on its way; fails
        on ``ERRORED`` and on links that have expired."""
        from airflow_provider_rtk.models import RecordingStatus

        deadline = time.monotonic() + self.wait_timeout if deadline is None else deadline
        while True:
            recording = hook.get_recording(recording_id)
            if recording.status is RecordingStatus.ERRORED:
                raise RealtimeKitRecordingFailedError(
                    f"Recording {recording_id} ended in ERRORED: it has no files to copy"
                )
            if recording.status is RecordingStatus.UPLOADED:
                expiry = recording.download_url_expiry
                if expiry is not None and _as_utc(expiry) <= datetime.now(UTC):
                    raise self._expired(recording)
                return recording
            if time.monotonic() + self.poll_interval > deadline:
                raise RealtimeKitFilesNotDownloadableError(
                    f"Recording {recording_id} is {recording.status.value}, not UPLOADED, after "
                    f"{self.wait_timeout:g}s; its files cannot be copied yet"
                )
            self.log.info("Recording %s is %s; waiting for UPLOADED", recording_id, recording.status.value)
            time.sleep(self.poll_interval)

    @staticmethod
    def _expired(recording: Recording, name: str | None = None) -> RealtimeKitDownloadLinksExpiredError:
        expiry = recording.download_url_expiry
        when = f" on {_as_utc(expiry).isoformat(timespec='seconds')}" if expiry else ""
        which = f" (the fresh link of {name} was refused: 403)" if name else ""
        return RealtimeKitDownloadLinksExpiredError(
            f"The download links of recording {recording.id} have expired{when}{which}: RealtimeKit keeps "
            "them for 7 days after the upload, so these files can no longer be copied from it"
        )

    def _copy_file(self, client: httpx.Client, name: str, url: str, folder: ObjectStoragePath) -> _Copied:
        """Stream one file to ``folder / name``; skip it when the same size is already there."""
        import httpx

        if not _FILE_NAME_RE.fullmatch(name) or ".." in name:
            raise RealtimeKitError(f"refusing to write a file named {name[:80]!r}: not a plain file name")
        target = folder / name
        uri = _asset_uri(target)
        try:
            with client.stream("GET", url) as response:
                status = response.status_code
                if status == 403:
                    raise _Refused
                if status in _NOT_YET_STATUSES or status >= 500:
                    raise _NotYet(f"HTTP {status}")
                if status != 200:
                    raise RealtimeKitError(f"downloading {name} from {_shown(url)} answered HTTP {status}")
                length = response.headers.get("content-length")
                expected = int(length) if length and length.isdigit() else None
                if expected is not None and target.exists() and target.stat().st_size == expected:
                    self.log.info("%s is already at %s with its %d bytes; skipped", name, uri, expected)
                    return _Copied(name, target, uri, expected, copied=False)
                written = 0
                # the filesystem's own file: ObjectStoragePath.open() would note lineage on every write
                with target.fs.open(target.path, "wb") as out:
                    for chunk in response.iter_bytes(self.chunk_size):
                        out.write(chunk)
                        written += len(chunk)
        except httpx.TransportError as error:
            raise _NotYet(f"{type(error).__name__} while downloading") from None
        if expected is not None and written != expected:
            raise _NotYet(f"got {written} of {expected} bytes")
        self.log.info("Copied %s (%d bytes) from %s to %s", name, written, _shown(url), uri)
        return _Copied(name, target, uri, written, copied=True)

    def _emit_asset_events(self, context: Context, recording: Recording, files: list[_Copied]) -> None:
        """One asset event per destination file, through the alias; the extra names no link."""
        if not self.asset_alias:
            return
        from airflow.sdk import Asset, AssetAlias

        from airflow_provider_rtk.assets import recording_asset_extra

        extra = recording_asset_extra(recording, file_sizes={item.name: item.size for item in files})
        by_name = {entry["name"]: entry for entry in extra.pop("files")}
        events = context["outlet_events"][AssetAlias(self.asset_alias)]
        for item in files:
            events.add(
                Asset(uri=item.uri, name=item.uri),
                extra={
                    **extra,
                    "file": by_name.get(item.name, {"name": item.name}),
                    "destination": item.uri,
                    "copied": item.copied,
                },
            )


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
