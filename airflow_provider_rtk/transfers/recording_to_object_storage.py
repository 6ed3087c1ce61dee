"""Copy the files of an uploaded recording into the user's storage (any Airflow ``ObjectStoragePath``).

``RealtimeKitRecordingToObjectStorageOperator`` asks the service for fresh download links when it
runs, streams each file in chunks into ``destination / <file name>`` (``file://``, ``s3://`` with the
amazon provider, any fsspec filesystem Airflow knows), and emits one asset event per file copied.

A destination file is absent or right: each file is written under a temporary name beside the target
and renamed into place once complete (on S3: one upload that shows the object only when completed),
never read past the size announced for it, and thrown away when anything goes wrong.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
from airflow.providers.common.compat.sdk import BaseOperator
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath

from airflow_provider_rtk import redaction
from airflow_provider_rtk.arguments import (
    as_utc,
    poll_interval_argument,
    rendered_id,
    seconds_argument,
    whole_number_argument,
)
from airflow_provider_rtk.exceptions import (
    FieldError,
    RealtimeKitCopyError,
    RealtimeKitDownloadLinksExpiredError,
    RealtimeKitError,
    RealtimeKitFilesNotDownloadableError,
    RealtimeKitPayloadError,
    RealtimeKitRecordingFailedError,
    _NotYet,
    _Refused,
)
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.lineage import RecordingLineage
    from airflow_provider_rtk.models import Recording

__all__ = [
    "DEFAULT_ASSET_ALIAS",
    "DEFAULT_MIN_DOWNLOAD_RATE",
    "RealtimeKitCopyError",
    "RealtimeKitDownloadLinksExpiredError",
    "RealtimeKitFilesNotDownloadableError",
    "RealtimeKitRecordingToObjectStorageOperator",
]

#: The asset alias the operator emits its per-file asset events through (schedule DAGs on it).
DEFAULT_ASSET_ALIAS = "realtimekit_recording_copies"
#: Bytes read from the link and written to the destination at a time.
DEFAULT_CHUNK_SIZE = 1024 * 1024
#: Bytes a second a download must average once its first ``download_timeout`` seconds are over.
DEFAULT_MIN_DOWNLOAD_RATE = 128 * 1024
#: Redirects followed per link (to the link's own scheme, host and port only).
MAX_REDIRECTS = 5
#: A file name as the service names files: one path segment, nothing that could climb out of the folder.
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._ -]{0,254}")
#: Download answers that mean "not yet, try again": not there yet, conflict, too early, busy, failing.
_NOT_YET_STATUSES = frozenset({404, 408, 409, 425, 429})
#: An ETag that is an MD5 of the body (what S3 and R2 give an object uploaded in one piece).
_MD5_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class _Copied:
    name: str
    target: ObjectStoragePath
    uri: str
    size: int
    copied: bool


@dataclass(frozen=True)
class _Size:
    """What is known of a file's size before its body is read: ``exact`` bytes (the link's
    ``Content-Length``, or the whole ``file_size`` of a one-file recording), else at most ``limit``
    (then only a body whose end the protocol marks, a chunked one, can be told complete)."""

    exact: int | None
    limit: int | None


def _host(url: str) -> str:
    """``scheme://host[:port]`` of a link: all of it that may be shown."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def _shown(url: str, name: str) -> str:
    """A link as it may be shown: its host and the service's file name; no path, no query (a
    signature may sit in either)."""
    return f"{_host(url)}/…/{name}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


#: A path segment this long (not the file name) may be a signature or token on its own.
_TOKEN_LIKE_SEGMENT = 24


def _remember_link(url: str, name: str) -> None:
    """Have every part of a link that may hold its signature redacted from now on: the link, its query,
    its path (unless it is only the file name), each ``key=value`` or ``;parameter`` path segment, and
    each segment long enough to be a token by itself (a log that shows a cut-off path, such as a
    traceback's locals, then still shows none of it)."""
    parts = urlsplit(url)
    secrets = [url, parts.query, parts.fragment]
    if parts.path.lstrip("/") not in (name, quote(name)):
        secrets.append(parts.path)
        secrets += [
            segment
            for segment in parts.path.split("/")
            if segment not in (name, quote(name))
            and ("=" in segment or ";" in segment or len(segment) >= _TOKEN_LIKE_SEGMENT)
        ]
    redaction.remember(*secrets)


def _links(recording: Recording) -> dict[str, str]:
    """File name -> link, every name checked before anything is copied: a plain file name, and one
    file per name (two layers may not put two files under one destination name)."""
    found = recording.download_links  # one file (a string link), or none yet
    if isinstance(recording.download_url, list):
        found = {}
        where: dict[str, str] = {}  # file name -> the layer that holds it
        for index, layer in enumerate(recording.download_url):
            label = f"layer {layer.layer_name!r}" if layer.layer_name else f"layer #{index + 1}"
            for name, link in layer.download_urls.items():
                if not link.download_url:
                    continue
                if name in found:
                    raise RealtimeKitCopyError(
                        f"Recording {recording.id} has two files named {name[:80]!r}, one in {where[name]} "
                        f"and one in {label}: both would be copied to one destination name, so nothing "
                        "was copied"
                    )
                found[name], where[name] = link.download_url, label
    for name, url in found.items():
        if not _FILE_NAME_RE.fullmatch(name) or ".." in name:
            raise RealtimeKitCopyError(
                f"Recording {recording.id}: refusing to write a file named {name[:80]!r}: not a plain "
                "file name; nothing was copied"
            )
        redaction.remember(url)
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:  # not even a URL
            scheme = ""
        if scheme in ("http", "https"):
            _remember_link(url, name)
        else:
            raise RealtimeKitCopyError(
                f"Recording {recording.id}: the link of {name} is not an http(s) URL; nothing was copied"
            )
    return found


def _asset_uri(target: ObjectStoragePath) -> str:
    """The destination as an asset URI: ``protocol://path``, with no connection id in it."""
    protocol = target.protocol if isinstance(target.protocol, str) else target.protocol[0]
    path = str(target.path)
    if protocol in ("file", "local"):
        return f"file://{path if path.startswith('/') else '/' + path}"
    return f"{protocol}://{path.lstrip('/')}"


class _Sink:
    """Where one file's bytes go until they are complete.

    On S3 (s3fs): the object itself, written as one upload (a single PUT, or a multipart upload) that
    shows the object only when it completes; a failure aborts it. Elsewhere: a temporary file named
    ``.<name>.<random>.part`` beside the target, renamed over it once complete (an atomic rename on a
    local disk; on other object stores a copy, which is atomic too); a failure deletes it.
    """

    def __init__(self, target: ObjectStoragePath) -> None:
        self._fs = target.fs
        self._final = str(target.path)
        self._temp: str | None = None
        if type(self._fs).__module__.split(".")[0] == "s3fs":
            self._file = self._fs.open(self._final, "wb")
        else:
            folder, _, name = self._final.rpartition("/")
            self._temp = f"{folder}/.{name}.{uuid.uuid4().hex[:16]}.part"
            self._file = self._fs.open(self._temp, "wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        """Put the complete file under its final name."""
        try:
            self._file.close()  # on S3 this completes the upload
            if self._temp is not None:
                self._fs.mv(self._temp, self._final)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Leave nothing behind: no object, no temporary file, no pending upload."""
        if self._temp is None:
            with suppress(Exception):
                self._file.discard()  # aborts a multipart upload begun for a large file
            self._file.closed = True  # never completed, not even when garbage collected
            return
        with suppress(Exception):
            self._file.close()
        with suppress(FileNotFoundError):
            self._fs.rm_file(self._temp)


class RealtimeKitRecordingToObjectStorageOperator(BaseOperator):
    """Copy every file of an ``UPLOADED`` recording to ``destination`` (an ``ObjectStoragePath``).

    - Fresh download links are read when the task runs (``get_recording``): a link in an XCom or an
      asset event would expire, and is a bearer credential.
    - Every file name is checked first: two files of one name (in two layers) fail with
      :class:`RealtimeKitCopyError` naming both, before anything is copied.
    - Each file is streamed in ``chunk_size`` pieces from the link to a temporary name beside
      ``destination / <file name>`` and moved into place only when complete (on S3: one upload that
      shows the object only once completed). A failed download leaves nothing under either name, and
      two copies at once (a rerun while a run still copies) both end with the right bytes.
    - Never more is read than announced: the link's ``Content-Length``, else the recording's
      ``file_size`` (exact for a one-file recording of a whole size, an upper bound otherwise); a link
      and a recording that announce no size are refused. Fewer bytes than announced fail the try.
      With only an upper bound, the body must be chunked (a cut chunked body fails the try): one that
      ends by closing the connection is refused, as a cut one would look whole.
    - Each download has two bounds: ``download_timeout`` seconds without data, and a minimum average
      rate: once its first ``download_timeout`` seconds are over, it must average ``min_download_rate``
      bytes a second (so a file of ``n`` bytes gets at most ``download_timeout + n / min_download_rate``
      seconds).
    - Redirects are followed only to the link's own scheme, host and port, at most 5 times.
    - Idempotent per file: a file already at the destination with the announced size (and, when the
      link's ``ETag`` is an MD5, the same MD5) is skipped, so a rerun copies only what is missing or
      different.
    - While the recording is not ``UPLOADED`` yet, or a file answers 404/409/425/429/5xx, is cut short,
      too slow, or the connection drops, it waits ``poll_interval`` seconds and tries again with fresh
      links, for up to ``wait_timeout`` (then :class:`RealtimeKitFilesNotDownloadableError`).
    - Expired links fail with :class:`RealtimeKitDownloadLinksExpiredError` (no retry will help).
    - Emits one asset event per file copied through the asset alias ``asset_alias`` (default
      ``realtimekit_recording_copies``; ``None`` for none); the asset is the file's URI (no
      connection id) and its extra the recording's ids and the file (no link).
    - Links are never shown: errors and log lines name the scheme, host and file name only, and every
      part of a link that may hold its signature (query, path) is masked.

    Returns (XCom) ``{"recording_id", "files": [{"name", "destination", "size_bytes", "copied"}]}``.

    :param recording_id: the recording (templated), e.g. from the start operator's XCom.
    :param destination: a folder: an ``ObjectStoragePath`` or its URL text (templated), e.g.
        ``"s3://my-bucket/recordings/{{ dag_run.run_id }}"`` or ``"file:///data/recordings"``.
    :param storage_conn_id: the Airflow connection of the destination (e.g. an AWS connection);
        ``None`` uses the filesystem's default (or the one written in the URL, ``s3://conn@bucket``).
    :param realtimekit_conn_id: the RealtimeKit connection.
    :param wait_timeout: seconds (or ``timedelta``) to wait for the files to become downloadable.
    :param poll_interval: seconds between two tries while waiting.
    :param chunk_size: bytes per write.
    :param download_timeout: seconds a download may go without receiving data; also the grace period
        before ``min_download_rate`` applies.
    :param min_download_rate: bytes a second a download must average after its first
        ``download_timeout`` seconds (default 131072, 128 KiB/s = 1 Mbit/s); slower fails the try.
    :param asset_alias: the alias the per-file asset events go through, or ``None``.
    """

    template_fields = ("recording_id", "destination", "storage_conn_id")

    def __init__(
        self,
        *,
        recording_id: str,
        destination: str | ObjectStoragePath,
        storage_conn_id: str | None = None,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        wait_timeout: float | timedelta = 900.0,
        poll_interval: float = 10.0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        download_timeout: float = 60.0,
        min_download_rate: int = DEFAULT_MIN_DOWNLOAD_RATE,
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
        self.chunk_size = whole_number_argument("chunk_size", chunk_size, 1024, 2**30, "bytes")
        self.download_timeout = seconds_argument("download_timeout", download_timeout, minimum=0.001)
        self.min_download_rate = whole_number_argument(
            "min_download_rate", min_download_rate, 1, 2**40, "bytes a second"
        )
        self.asset_alias = asset_alias
        if asset_alias:
            self.outlets = [*self.outlets, AssetAlias(asset_alias)]
        #: What OpenLineage is told once the files are copied.
        self._lineage: RecordingLineage | None = None

    # ---------------------------------------------------------------------------------- checks

    def _destination_folder(self) -> ObjectStoragePath:
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
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        # httpx logs every request's full URL at INFO, httpcore every answer's headers (a redirect's
        # Location) at DEBUG: for a pre-signed link that is the credential itself (Airflow 3.1+ quiets
        # httpx; 3.0 does not), so their lines stay out of this task
        for name in ("httpx", "httpcore"):
            library_log = logging.getLogger(name)
            library_log.setLevel(max(library_log.getEffectiveLevel(), logging.WARNING))
        recording_id = rendered_id("recording_id", self.recording_id)
        folder = self._destination_folder()
        if _asset_uri(folder).startswith("file://"):
            folder.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.wait_timeout
        done: dict[str, _Copied] = {}
        with (
            RealtimeKitHook(realtimekit_conn_id=self.realtimekit_conn_id) as hook,
            httpx.Client(timeout=self.download_timeout, follow_redirects=False) as downloads,
        ):
            recording, waiting_for = self._fresh_links(hook, recording_id), ""
            refused: set[str] = set()
            while True:
                links = _links(recording)  # every name checked before any copy
                size = _size_of(recording, len(links))
                for name, url in links.items():
                    if name in done:
                        continue
                    try:
                        done[name] = self._copy_file(downloads, name, url, folder, size)
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
            from airflow_provider_rtk.lineage import RecordingLineage

            self._lineage = RecordingLineage.of(
                hook.settings, recording, file_names=done, destinations=[item.uri for item in done.values()]
            )
        self._emit_asset_events(context, recording, list(done.values()))
        return {
            "recording_id": recording_id,
            "files": [
                {"name": item.name, "destination": item.uri, "size_bytes": item.size, "copied": item.copied}
                for item in done.values()
            ],
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """OpenLineage (the ``openlineage`` extra): the recording's files at RealtimeKit in, the copied
        files out (names in :mod:`airflow_provider_rtk.lineage`; never a link)."""
        from airflow_provider_rtk.lineage import operator_lineage

        return operator_lineage(self._lineage, recording_is="input")

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
                if expiry is not None and as_utc(expiry) <= datetime.now(UTC):
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
        when = f" on {as_utc(expiry).isoformat(timespec='seconds')}" if expiry else ""
        which = f" (the fresh link of {name} was refused: 403)" if name else ""
        return RealtimeKitDownloadLinksExpiredError(
            f"The download links of recording {recording.id} have expired{when}{which}: RealtimeKit keeps "
            "them for 7 days after the upload, so these files can no longer be copied from it"
        )

    def _copy_file(
        self, client: httpx.Client, name: str, url: str, folder: ObjectStoragePath, size: _Size
    ) -> _Copied:
        """Stream one file to ``folder / name``; skip it when the same file is already there."""
        target = folder / name
        uri = _asset_uri(target)
        shown = _shown(url, name)
        try:
            with self._download(client, name, url) as response:
                size = _announced(response, name, shown, size)
                md5 = _md5_etag(response.headers.get("etag"))
                if size.exact is not None and _already_there(target, size.exact, md5):
                    self.log.info("%s is already at %s with its %d bytes; skipped", name, uri, size.exact)
                    return _Copied(name, target, uri, size.exact, copied=False)
                sink = _Sink(target)
                try:
                    written = self._stream(response, sink, name, shown, size)
                except BaseException:
                    sink.discard()
                    raise
                sink.commit()
        except httpx.TransportError as error:
            raise _NotYet(f"{type(error).__name__} while downloading") from None
        except httpx.InvalidURL:  # its text may quote the link
            raise RealtimeKitCopyError(f"The link of {name} ({shown}) is not a valid URL") from None
        self.log.info("Copied %s (%d bytes) from %s to %s", name, written, shown, uri)
        return _Copied(name, target, uri, written, copied=True)

    @contextmanager
    def _download(self, client: httpx.Client, name: str, url: str) -> Iterator[httpx.Response]:
        """The link's ``200`` answer, streamed; redirects followed on the link's own host only."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            request = client.build_request("GET", current, headers={"Accept-Encoding": "identity"})
            response = client.send(request, stream=True)
            try:
                if not response.is_redirect:
                    _check_status(response.status_code, name, _shown(url, name))
                    yield response
                    return
                location = response.headers.get("location", "")
            finally:
                response.close()
            current = urljoin(current, location)
            _remember_link(current, name)
            if _origin(current) != _origin(url):
                raise RealtimeKitCopyError(
                    f"The link of {name} redirected to another host ({_host(current)}): not followed, "
                    "a download link is only fetched from its own host"
                )
        raise RealtimeKitCopyError(
            f"The link of {name} ({_shown(url, name)}) redirected more than {MAX_REDIRECTS} times: not "
            "followed further"
        )

    def _stream(self, response: httpx.Response, sink: _Sink, name: str, shown: str, size: _Size) -> int:
        """Copy the body to ``sink``, never past ``size.limit``, at least ``min_download_rate`` on
        average after the first ``download_timeout`` seconds; the number of bytes copied."""
        started = time.monotonic()
        written, pending = 0, bytearray()
        for piece in response.iter_raw():  # as it arrives: the rate is checked at every read
            written += len(piece)
            if size.limit is not None and written > size.limit:
                raise RealtimeKitCopyError(
                    f"{name} from {shown} sent more than the {size.limit} bytes announced for it; "
                    "nothing was kept"
                )
            pending += piece
            if len(pending) >= self.chunk_size:
                sink.write(bytes(pending))
                pending.clear()
            elapsed = time.monotonic() - started
            if elapsed > self.download_timeout and written < self.min_download_rate * (
                elapsed - self.download_timeout
            ):
                raise _NotYet(
                    f"slower than {self.min_download_rate} bytes/s on average ({written} bytes in "
                    f"{elapsed:.0f}s); nothing was kept"
                )
        if pending:
            sink.write(bytes(pending))
        if size.exact is not None and written != size.exact:
            raise _NotYet(f"got {written} of {size.exact} bytes; nothing was kept")
        return written

    def _emit_asset_events(self, context: Context, recording: Recording, files: list[_Copied]) -> None:
        """One asset event per destination file, through the alias; the extra names no link."""
        if not self.asset_alias:
            return

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


def _size_of(recording: Recording, files: int) -> _Size:
    """What the recording's ``file_size`` says of each of its ``files``: the exact size of a one-file
    recording (when whole, and below 2**53: a larger float may stand for a neighbouring number), else
    an upper bound; nothing when it reports none (none, zero, negative, not finite)."""
    total = recording.file_size
    if total is None or not math.isfinite(total) or total <= 0:
        return _Size(None, None)
    if files == 1 and total.is_integer() and total < 2**53:
        return _Size(int(total), int(total))
    if total >= 2**53:  # the true size may be up to half a step above this float
        total = math.nextafter(total, math.inf)
    return _Size(None, math.ceil(total))


def _announced(response: httpx.Response, name: str, shown: str, size: _Size) -> _Size:
    """The size of the body about to be read: its ``Content-Length``, else what the recording says.
    Refused: a body whose size nothing announces (it could go on for ever), and one that only an
    upper bound is known of and that ends by closing the connection (cut short, it would look
    complete); a chunked body marks its own end (cut short, httpx raises)."""
    length = response.headers.get("content-length", "").strip()
    if length.isascii() and length.isdigit():
        return _Size(int(length), int(length))
    if size.exact is None and size.limit is None:
        raise RealtimeKitCopyError(
            f"{name} from {shown} announced no size (no Content-Length) and the recording reports no "
            "file_size: refusing to read a body that may not end"
        )
    chunked = response.headers.get("transfer-encoding", "").strip().lower() == "chunked"
    if size.exact is None and not chunked:
        raise RealtimeKitCopyError(
            f"{name} from {shown} has no Content-Length and is not chunked (its end is only the "
            "connection closing), and the recording's file_size is only an upper bound for it (several "
            "files, or a fractional size): a body cut short could not be told from a whole one, so "
            "nothing was copied"
        )
    return size


def _check_status(status: int, name: str, shown: str) -> None:
    """Go on with a 200; a 403 is a refusal, the statuses that mean "not yet" are tried again later."""
    if status == 403:
        raise _Refused
    if status in _NOT_YET_STATUSES or status >= 500:
        raise _NotYet(f"HTTP {status}")
    if status != 200:
        raise RealtimeKitError(f"downloading {name} from {shown} answered HTTP {status}")


def _already_there(target: ObjectStoragePath, size: int, md5: str | None) -> bool:
    """Whether ``target`` already holds the file: its size, and its MD5 when the link gives one (from
    the destination's own ``ETag``, or read back from a local disk)."""
    from fsspec.implementations.local import LocalFileSystem

    try:
        info = target.fs.info(target.path)
    except FileNotFoundError:
        return False
    if info.get("type", "file") != "file" or info.get("size") != size:
        return False
    if md5 is None:
        return True
    stored = _md5_etag(str(info.get("ETag") or info.get("etag") or ""))
    if stored is not None:
        return stored == md5
    if isinstance(target.fs, LocalFileSystem):
        return _md5_of(target) == md5
    return True  # nothing more to compare it with


def _md5_of(target: ObjectStoragePath) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with target.fs.open(target.path, "rb") as stored:
        while block := stored.read(DEFAULT_CHUNK_SIZE):
            digest.update(block)
    return digest.hexdigest()


def _md5_etag(etag: str | None) -> str | None:
    """The MD5 an ``ETag`` holds, if it holds one (a strong tag of 32 hex digits)."""
    value = (etag or "").strip().strip('"').lower()
    return value if _MD5_RE.fullmatch(value) else None
