"""One poller per (event loop, connection): the recording triggers of a triggerer share their reads.

Followed one by one, thousands of recordings would need more requests than the API allows (recording
operations: 1,000 requests per 50 s). Here every trigger of one connection asks the shared poller for
its recording; a sweep lists the app's unfinished recordings a page (100) at a time, two pages in
flight, and answers the triggers of a page as soon as it arrives (so thousands are never woken in one
go), then the newest finished ones, and reads the rest (missed by a page boundary) one by one. A
trigger that asks while a sweep is under way gets at once what that sweep read of its recording, if it
has not had it (else it waits for the next sweep's reading). All of it is spent from one request budget
(``[realtimekit] poll_requests_per_second``, default half the documented recording limit), so the
triggerer as a whole stays within it; a 429 and its ``Retry-After`` slow the shared poller, not each
trigger on its own.

Nothing here is kept across a triggerer restart: each trigger stays rebuildable from its kwargs.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.redaction import redact

if TYPE_CHECKING:
    from airflow_provider_rtk.models import Recording, RecordingPage

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
#: Pages of a list asked for at once (so a sweep is paced by the budget, not by each page's latency).
PAGES_IN_FLIGHT = 2
#: A recording asked for within this long is still followed: sweeps keep its newest reading for the
#: next ask (a trigger sleeps its poll interval between two asks), if it comes while that sweep runs.
FOLLOW_SECONDS = 30.0


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


def _before(recording: Recording, since: datetime | None) -> bool:
    """Whether the recording was invoked before ``since`` (not when either time is unknown)."""
    return since is not None and recording.invoked_time is not None and not recording.invoked_since(since)


@dataclass(slots=True)
class _Followed:
    """What the poller knows of one followed recording."""

    asked_at: float  #: the last ask (monotonic)
    reading: Recording | None = None  #: the newest reading
    read_at: float = 0.0  #: when its request was sent
    handed_at: float = -1.0  #: ``read_at`` of the reading last handed to a waiter


class RecordingPoller:
    """Reads recordings for many waiters with few requests. Get the loop's with :meth:`shared`."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RecordingPoller]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, realtimekit_conn_id: str, requests_per_second: float | None = None) -> None:
        self.realtimekit_conn_id = realtimekit_conn_id
        self.budget = RequestBudget(requests_per_second or configured_budget())
        self._waiters: defaultdict[str, list[asyncio.Future[Recording]]] = defaultdict(list)
        self._followed: dict[str, _Followed] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sweep_began: float | None = None  #: when the sweep under way began
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
        """The recording as read after this call, or as the sweep under way read it, if this recording
        was not handed that reading yet; raises what the read raised."""
        now = time.monotonic()
        followed = self._followed.setdefault(recording_id, _Followed(asked_at=now))
        followed.asked_at = now
        began = self._sweep_began
        fresh = began is not None and followed.read_at >= began  # read by the sweep under way
        if followed.reading is not None and fresh and followed.read_at > followed.handed_at:
            followed.handed_at = followed.read_at  # its page went by while its trigger slept
            return followed.reading
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

    async def _run(self) -> None:
        hook = RealtimeKitAsyncHook(self.realtimekit_conn_id)
        try:
            while True:
                if not self._waiters:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                    except TimeoutError:
                        self._followed.clear()  # nobody asked for IDLE_SECONDS (>= FOLLOW_SECONDS)
                        return
                try:
                    await self._sweep(hook)
                finally:
                    self._sweep_began = None
        finally:
            await hook.aclose()

    def _pending(self) -> set[str]:
        return {rid for rid, futures in self._waiters.items() if any(not f.done() for f in futures)}

    def _unseen(self, seen: set[str]) -> bool:
        """Whether a waiter's recording has not been read in this sweep yet."""
        return any(
            rid not in seen and any(not f.done() for f in futures) for rid, futures in self._waiters.items()
        )

    async def _sweep(self, hook: RealtimeKitAsyncHook) -> None:
        cutoff = time.monotonic() - FOLLOW_SECONDS
        for gone in [
            rid for rid, f in self._followed.items() if f.asked_at < cutoff and rid not in self._waiters
        ]:
            del self._followed[gone]  # no longer asked for
        wanted = self._pending()
        if not wanted:
            await asyncio.sleep(0)  # the answered waiters have yet to leave
            return
        seen: set[str] = set()  # every recording read in this sweep
        self._sweep_began = time.monotonic()
        try:
            await self._list(hook, seen, UNFINISHED)
            missing = self._pending() - seen
            if len(missing) > 1:  # several finished at once: the newest finished ones, a page at a time
                await self._list(hook, seen, FINISHED, since=self._oldest_invoked(missing))
        except RealtimeKitError as error:  # the API kept failing after the hook's retries
            self._fail(self._pending(), error)
            return
        except Exception as error:
            problem = f"listing recordings failed: {type(error).__name__}: {redact(str(error))}"
            self._fail(self._pending(), RealtimeKitError(problem))
            return
        # unknown, not yet listed, or moved between pages (who asked since waits for the next sweep)
        for recording_id in wanted & self._pending() - seen:
            await self.budget.spend()
            self.requests += 1
            sent = time.monotonic()
            try:
                self._record(await hook.get_recording(recording_id), sent)
            except RealtimeKitError as error:
                self._fail({recording_id}, error)
            except Exception as error:
                self._fail({recording_id}, RealtimeKitError(f"{type(error).__name__}: {redact(str(error))}"))

    def _record(self, recording: Recording, sent: float) -> None:
        """Keep a followed recording's reading (its request sent at ``sent``) and answer its waiters."""
        followed = self._followed.get(recording.id)
        if followed is None:
            return
        followed.reading, followed.read_at = recording, sent
        futures = [future for future in self._waiters.get(recording.id, ()) if not future.done()]
        if futures:
            followed.handed_at = sent
            for future in futures:
                future.set_result(recording)

    def _oldest_invoked(self, recording_ids: set[str]) -> datetime | None:
        """When the oldest of these was invoked, if every one of them has been read before."""
        known = [
            followed.reading.invoked_time if followed and followed.reading else None
            for followed in map(self._followed.get, recording_ids)
        ]
        return None if any(moment is None for moment in known) else min(known)  # type: ignore[type-var]

    async def _list(
        self,
        hook: RealtimeKitAsyncHook,
        seen: set[str],
        statuses: list[RecordingStatus],
        since: datetime | None = None,
    ) -> None:
        """Recordings in ``statuses``, newest first, page by page (each page's waiters answered), until
        every waiter's recording is in ``seen`` (or, with ``since``, the pages reach recordings invoked
        before it). Up to :data:`PAGES_IN_FLIGHT` pages are asked for at once, paced by the budget."""

        async def fetch(page_no: int) -> tuple[float, RecordingPage]:
            await self.budget.spend()
            self.requests += 1
            sent = time.monotonic()
            page = await hook.list_recordings(
                status=statuses, page_no=page_no, per_page=PAGE_SIZE, sort_by="invokedTime", sort_order="DESC"
            )
            return sent, page

        if not self._unseen(seen):
            return
        loop = asyncio.get_running_loop()
        in_flight = deque([loop.create_task(fetch(1))])
        next_no, last_no, more = 2, 1, True  # the last page is known from the first answer
        try:
            while in_flight:
                sent, page = await in_flight.popleft()
                for recording in page.recordings:
                    seen.add(recording.id)
                    self._record(recording, sent)
                last = page.recordings[-1] if page.recordings else None
                if last is None or page.paging.end_offset >= page.paging.total_count or _before(last, since):
                    more = False
                else:
                    last_no = min(MAX_PAGES, -(-page.paging.total_count // PAGE_SIZE))
                while more and len(in_flight) < PAGES_IN_FLIGHT and next_no <= last_no and self._unseen(seen):
                    in_flight.append(loop.create_task(fetch(next_no)))
                    next_no += 1
        finally:
            for task in in_flight:  # after a failure: the pages still asked for are not wanted
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    def _fail(self, recording_ids: set[str], error: RealtimeKitError) -> None:
        for recording_id in recording_ids:
            for future in self._waiters.get(recording_id, []):
                if not future.done():
                    future.set_exception(error)
