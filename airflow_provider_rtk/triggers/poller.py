"""One poller per (event loop, connection): the recording triggers of a triggerer share their reads.

Followed one by one, thousands of recordings would need more requests than the API allows (recording
operations: 1,000 requests per 50 s). Here every trigger of one connection asks the shared poller for
its recording; a sweep lists the app's unfinished recordings a page (100) at a time, answers every
trigger whose recording it saw, and reads the rest (finished, or missed by a page boundary) one by one.
All of it is spent from one request budget (``[realtimekit] poll_requests_per_second``, default half
the documented recording limit), so the triggerer as a whole stays within it; a 429 and its
``Retry-After`` slow the shared poller, not each trigger on its own.

Nothing here is kept across a triggerer restart: each trigger stays rebuildable from its kwargs.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.redaction import redact

if TYPE_CHECKING:
    from airflow_provider_rtk.models import Recording

#: The documented limit on recording operations, per second (1,000 per 50 s), and the share used.
RECORDING_LIMIT_PER_SECOND = 1000 / 50
DEFAULT_REQUESTS_PER_SECOND = RECORDING_LIMIT_PER_SECOND / 2
#: Recordings per list page (the API documents no maximum; 100 is what its own dashboards page by).
PAGE_SIZE = 100
#: A poller with nobody waiting ends after this long (its hook lets go of the shared client).
IDLE_SECONDS = 30.0
UNFINISHED = [
    RecordingStatus.INVOKED,
    RecordingStatus.RECORDING,
    RecordingStatus.PAUSED,
    RecordingStatus.UPLOADING,
]
FINISHED = [RecordingStatus.UPLOADED, RecordingStatus.ERRORED]
#: Pages of one list at most per sweep (what is not seen by then is read on its own).
MAX_PAGES = 60


def configured_budget() -> float:
    """``[realtimekit] poll_requests_per_second`` (requests per second for all of a triggerer's polls)."""
    try:
        from airflow.providers.common.compat.sdk import conf

        value = conf.getfloat("realtimekit", "poll_requests_per_second", fallback=DEFAULT_REQUESTS_PER_SECOND)
    except Exception:
        return DEFAULT_REQUESTS_PER_SECOND
    return value if value > 0 else DEFAULT_REQUESTS_PER_SECOND


class RequestBudget:
    """At most ``rate`` requests per second, spent in order (a token bucket holding one second's worth)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def spend(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class RecordingPoller:
    """Reads recordings for many waiters with few requests. Get the loop's with :meth:`shared`."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RecordingPoller]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, realtimekit_conn_id: str, requests_per_second: float | None = None) -> None:
        self.realtimekit_conn_id = realtimekit_conn_id
        self.budget = RequestBudget(requests_per_second or configured_budget())
        self._waiters: defaultdict[str, list[asyncio.Future[Recording]]] = defaultdict(list)
        self._latest: dict[str, tuple[float, Recording]] = {}
        #: when each followed, unfinished recording was invoked (so a finished list can stop in time)
        self._invoked: dict[str, datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: requests sent, for the benchmarks and the tests
        self.requests = 0

    @classmethod
    def shared(cls, realtimekit_conn_id: str) -> RecordingPoller:
        """The running loop's poller for the connection (created on first use)."""
        pollers = cls._by_loop.setdefault(asyncio.get_running_loop(), {})
        poller = pollers.get(realtimekit_conn_id)
        if poller is None:
            poller = pollers[realtimekit_conn_id] = cls(realtimekit_conn_id)
        return poller

    async def read(self, recording_id: str) -> Recording:
        """The recording as a sweep that began after this call read it (raises what the read raised)."""
        asked_at = time.monotonic()
        seen = self._latest.get(recording_id)
        if seen is not None and seen[0] >= asked_at:
            return seen[1]
        future: asyncio.Future[Recording] = asyncio.get_running_loop().create_future()
        self._waiters[recording_id].append(future)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="realtimekit-poller")
        try:
            return await future
        finally:
            waiting = self._waiters.get(recording_id)
            if waiting is not None and future in waiting:
                waiting.remove(future)
            if not waiting:
                self._waiters.pop(recording_id, None)
                self._latest.pop(recording_id, None)

    async def _run(self) -> None:
        hook = RealtimeKitAsyncHook(self.realtimekit_conn_id)
        try:
            while True:
                if not self._waiters:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                    except TimeoutError:
                        return
                await self._sweep(hook)
        finally:
            await hook.aclose()

    async def _sweep(self, hook: RealtimeKitAsyncHook) -> None:
        began = time.monotonic()
        wanted = {rid for rid, futures in self._waiters.items() if any(not f.done() for f in futures)}
        if not wanted:
            await asyncio.sleep(0)  # the answered waiters have yet to leave
            return
        try:
            seen = await self._list(hook, wanted, UNFINISHED)
            missing = wanted - seen.keys()
            if len(missing) > 1:  # several finished at once: the newest finished ones, a page at a time
                seen.update(await self._list(hook, missing, FINISHED, since=self._oldest_invoked(missing)))
        except RealtimeKitError as error:  # the API kept failing after the hook's retries
            self._fail(wanted, error)
            return
        except Exception as error:
            problem = f"listing recordings failed: {type(error).__name__}: {redact(str(error))}"
            self._fail(wanted, RealtimeKitError(problem))
            return
        for recording_id in wanted - seen.keys():  # unknown, not yet listed, or moved between pages
            await self.budget.spend()
            self.requests += 1
            try:
                seen[recording_id] = await hook.get_recording(recording_id)
            except RealtimeKitError as error:
                self._fail({recording_id}, error)
            except Exception as error:
                self._fail({recording_id}, RealtimeKitError(f"{type(error).__name__}: {redact(str(error))}"))
        for recording_id, recording in seen.items():
            if recording_id in self._waiters:
                self._latest[recording_id] = (began, recording)
                if recording.invoked_time is not None and not recording.status.is_terminal:
                    self._invoked[recording_id] = recording.invoked_time
                else:
                    self._invoked.pop(recording_id, None)
                for future in self._waiters[recording_id]:
                    if not future.done():
                        future.set_result(recording)

    def _oldest_invoked(self, recording_ids: set[str]) -> datetime | None:
        """When the oldest of these was invoked, if every one of them has been seen before."""
        known = [self._invoked.get(recording_id) for recording_id in recording_ids]
        return None if any(moment is None for moment in known) else min(known)  # type: ignore[type-var]

    async def _list(
        self,
        hook: RealtimeKitAsyncHook,
        wanted: set[str],
        statuses: list[RecordingStatus],
        since: datetime | None = None,
    ) -> dict[str, Recording]:
        """Recordings in ``statuses``, newest first, page by page, until every wanted one is seen (or,
        with ``since``, the pages reach recordings invoked before it)."""
        seen: dict[str, Recording] = {}
        page_no = 1
        while not wanted <= seen.keys() and page_no <= MAX_PAGES:
            await self.budget.spend()
            self.requests += 1
            page = await hook.list_recordings(
                status=statuses, page_no=page_no, per_page=PAGE_SIZE, sort_by="invokedTime", sort_order="DESC"
            )
            seen.update((recording.id, recording) for recording in page.recordings if recording.id in wanted)
            if not page.recordings or page.paging.end_offset >= page.paging.total_count:
                break
            last = page.recordings[-1]
            if since is not None and last.invoked_time is not None and not last.invoked_since(since):
                break
            page_no += 1
        return seen

    def _fail(self, recording_ids: set[str], error: RealtimeKitError) -> None:
        for recording_id in recording_ids:
            for future in self._waiters.get(recording_id, []):
                if not future.done():
                    future.set_exception(error)
