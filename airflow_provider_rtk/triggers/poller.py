"""One poller per (event loop, connection): the recording triggers of a triggerer share their reads.

Followed one by one, thousands of recordings would need more requests than the API allows (recording
operations: 1,000 requests per 50 s). Here every trigger of one connection *watches* its recording
through the shared poller: it says which status it knows and how often it wants the recording read,
and sleeps until the status changes. A sweep starts when some watch is due; it lists the app's
unfinished recordings a page (100) at a time, two pages in flight, and hands each page's news to its
watches as soon as it arrives (so thousands are never woken in one go, and none is woken for news it
knows), then the newest finished ones, and reads the rest (missed by a page boundary) one by one.
Thousands of watches make sweeps run back to back, each reading every page once, so a change is
noticed within about one sweep. All of it is spent from one request budget
(``[realtimekit] poll_requests_per_second``, default half the documented recording limit), so the
triggerer as a whole stays within it; a 429 and its ``Retry-After`` slow the shared poller, not each
trigger on its own.

Nothing here is kept across a triggerer restart: each trigger stays rebuildable from its kwargs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.redaction import redact

if TYPE_CHECKING:
    from collections.abc import Iterator

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
#: Sweeps that read their recordings one by one (cheaper than the last listing) before one lists again.
LIST_AGAIN_AFTER = 10
#: Watches woken in one turn of the event loop at most (each then builds its event or watches again).
WAKE_AT_ONCE = 25
#: Pages of a list asked for at once (so a sweep is paced by the budget, not by each page's latency).
PAGES_IN_FLIGHT = 2
#: A recording nobody has watched for this long is forgotten (its newest reading with it).
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


def _provider_error(error: Exception, doing: str = "") -> RealtimeKitError:
    """``error`` as the provider's error, for the watches it fails (its text redacted)."""
    if isinstance(error, RealtimeKitError):
        return error
    problem = f"{type(error).__name__}: {redact(str(error))}"
    return RealtimeKitError(f"{doing} failed: {problem}" if doing else problem)


@dataclass(slots=True)
class _Followed:
    """What the poller knows of one followed recording: only plain values, never a reading (so
    thousands of followed recordings add no objects for the garbage collector to walk)."""

    asked_at: float  #: the last time someone began watching it (monotonic)
    status: RecordingStatus | None = None  #: its status as last read
    invoked_time: datetime | None = None
    read_at: float = -math.inf  #: when the last reading's request was sent


@dataclass(slots=True)
class _Watch:
    """One trigger waiting for news of a recording."""

    future: asyncio.Future[Recording]
    unlike: RecordingStatus | None  #: the status it knows (``None``: any reading taken after ``since``)
    interval: float  #: it wants the recording read at least this often
    since: float  #: when it began watching (monotonic)

    def wants(self, recording: Recording, sent: float) -> bool:
        """Whether a reading (its request sent at ``sent``) is news to this watch."""
        if self.unlike is None:
            return sent >= self.since
        return recording.status is not self.unlike


@dataclass(slots=True)
class _Sweep:
    """The sweep under way: what it wants to read and has not read yet."""

    horizon: float  #: it reads what some watch wants read by then (monotonic)
    unseen: set[str] = field(default_factory=set)  #: wanted recordings it has not read yet
    read: set[str] = field(default_factory=set)  #: recordings it has read

    def seen(self, recording_id: str) -> None:
        self.read.add(recording_id)
        self.unseen.discard(recording_id)

    def wants(self, recording_id: str, due: float) -> None:
        """A watch that began during the sweep: read its recording too if it is due by the horizon."""
        if due <= self.horizon and recording_id not in self.read:
            self.unseen.add(recording_id)


class RecordingPoller:
    """Reads recordings for many waiters with few requests. Get the loop's with :meth:`shared`."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RecordingPoller]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, realtimekit_conn_id: str, requests_per_second: float | None = None) -> None:
        self.realtimekit_conn_id = realtimekit_conn_id
        self.budget = RequestBudget(requests_per_second or configured_budget())
        self._watches: dict[str, list[_Watch]] = {}
        self._followed: dict[str, _Followed] = {}
        self._wake = asyncio.Event()
        #: a new watch due before this wakes the sleeping poller (-inf while a sweep runs)
        self._wake_before = math.inf
        self._task: asyncio.Task[None] | None = None
        self._sweep_seconds = 0.0  #: how long the last sweep took
        self._current: _Sweep | None = None  #: the sweep under way
        self._list_cost = 0  #: requests the last listing took
        self._sweeps_alone = 0  #: sweeps since then that read each wanted recording alone
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
        """The first reading of the recording taken after this call; raises what the read raised."""
        return await self.watch(recording_id, unlike=None, interval=0.0)

    def watch(
        self, recording_id: str, *, unlike: RecordingStatus | None, interval: float
    ) -> asyncio.Future[Recording]:
        """A future for the first reading of the recording whose status is not ``unlike`` (with
        ``None``: the first reading taken after this call), or for what the read raised. Until then the
        poller reads the recording at least every ``interval`` seconds (as the budget allows) and the
        caller sleeps: nothing wakes it for news it knows. Cancel the future to stop watching."""
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        followed = self._followed.get(recording_id)
        if followed is None:
            followed = self._followed[recording_id] = _Followed(asked_at=now)
        followed.asked_at = now
        watch = _Watch(loop.create_future(), unlike, interval, now)
        self._watches.setdefault(recording_id, []).append(watch)
        due = self._due(followed, watch)
        if self._current is not None:
            self._current.wants(recording_id, due)
        if due < self._wake_before:
            self._wake.set()
        if self._task is None or self._task.done():
            # its own context: what it logs (retries, 429s) belongs to no one trigger's task log
            self._task = loop.create_task(
                self._run(), name="realtimekit-poller", context=contextvars.Context()
            )
        return watch.future

    @staticmethod
    def _due(followed: _Followed, watch: _Watch) -> float:
        """When the watch wants its recording read next (monotonic)."""
        if watch.unlike is None:
            return watch.since
        if followed.status is not None and followed.status is not watch.unlike:
            return -math.inf  # it changed while the caller was away: read it again at once
        return followed.read_at + watch.interval

    def _watching(self) -> Iterator[tuple[str, float]]:
        """Each watched recording and when the earliest of its watches wants it read."""
        for recording_id, watches in self._watches.items():
            followed = self._followed.setdefault(recording_id, _Followed(asked_at=time.monotonic()))
            due = [self._due(followed, watch) for watch in watches if not watch.future.done()]
            if due:
                yield recording_id, min(due)

    def _prune(self) -> None:
        """Forget the watches that ended (answered, failed or cancelled)."""
        ended = [rid for rid, watches in self._watches.items() if any(w.future.done() for w in watches)]
        for recording_id in ended:
            kept = [watch for watch in self._watches[recording_id] if not watch.future.done()]
            if kept:
                self._watches[recording_id] = kept
            else:
                del self._watches[recording_id]

    async def _run(self) -> None:
        hook = RealtimeKitAsyncHook(self.realtimekit_conn_id)
        try:
            while True:
                self._prune()
                if not self._watches:
                    self._wake.clear()
                    self._wake_before = math.inf
                    try:
                        await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                    except TimeoutError:
                        self._prune()
                        if self._watches:  # one began in the turn the wait timed out
                            continue
                        self._followed.clear()  # nobody asked for IDLE_SECONDS (>= FOLLOW_SECONDS)
                        return
                    continue
                due = min((when for _, when in self._watching()), default=math.inf)
                wait = due - time.monotonic()
                if wait > 0:
                    self._wake.clear()
                    self._wake_before = due
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), min(wait, IDLE_SECONDS))
                    continue
                self._wake_before = -math.inf
                began = time.monotonic()
                try:
                    await self._sweep(hook, began)
                finally:
                    self._current = None
                self._sweep_seconds = time.monotonic() - began
        finally:
            await hook.aclose()

    def _wanted(self, horizon: float) -> set[str]:
        """The watched recordings some watch wants read by ``horizon``."""
        return {recording_id for recording_id, due in self._watching() if due <= horizon}

    def _still_watched(self, recording_ids: set[str]) -> set[str]:
        return {rid for rid in recording_ids if any(not w.future.done() for w in self._watches.get(rid, ()))}

    async def _sweep(self, hook: RealtimeKitAsyncHook, began: float) -> None:
        cutoff = began - FOLLOW_SECONDS
        for gone in [
            rid for rid, f in self._followed.items() if f.asked_at < cutoff and rid not in self._watches
        ]:
            del self._followed[gone]  # no longer asked for
        # what is due during this sweep (as long as the last one took): sweeps of thousands run back to
        # back, each reading every page once
        sweep = _Sweep(horizon=began + self._sweep_seconds + 1.0)
        wanted = self._wanted(sweep.horizon)
        if not wanted:
            await asyncio.sleep(0)  # the answered waiters have yet to leave
            return
        sweep.unseen = set(wanted)
        self._current = sweep
        # few recordings wanted among many listed (an app that others record in too): read those alone
        # when that costs fewer requests than the last listing did (and list again now and then)
        if len(wanted) < self._list_cost and self._sweeps_alone < LIST_AGAIN_AFTER:
            self._sweeps_alone += 1
        else:
            self._sweeps_alone = 0
            await self._list_all(hook, sweep, wanted)
        # unknown, not yet listed, or moved between pages (who began watching since waits for the next)
        for recording_id in self._still_watched(wanted & sweep.unseen):
            await self.budget.spend()
            self.requests += 1
            sent = time.monotonic()
            try:
                self._record(await hook.get_recording(recording_id), sent)
            except Exception as error:
                self._fail({recording_id}, _provider_error(error))

    async def _list_all(self, hook: RealtimeKitAsyncHook, sweep: _Sweep, wanted: set[str]) -> None:
        """The unfinished list, then (if several wanted recordings were not in it) the newest finished
        ones; a failure fails the watches the sweep has not read."""
        before = self.requests
        try:
            await self._list(hook, sweep, UNFINISHED)
            missing = self._still_watched(wanted & sweep.unseen)
            if len(missing) > 1:  # several finished at once: the newest finished ones, a page at a time
                await self._list(hook, sweep, FINISHED, since=self._oldest_invoked(missing))
        except Exception as error:  # the API kept failing after the hook's retries, or worse
            self._fail(self._wanted(sweep.horizon) - sweep.read, _provider_error(error, "listing recordings"))
            sweep.unseen.clear()  # failed: not read alone either
            return
        self._list_cost = self.requests - before

    def _record(self, recording: Recording, sent: float) -> int:
        """Note a followed recording's reading (its request sent at ``sent``), hand it to the watches
        it is news to, and return how many those were."""
        if self._current is not None:
            self._current.seen(recording.id)
        followed = self._followed.get(recording.id)
        if followed is None or sent < followed.read_at:
            return 0  # not followed, or older than what is known
        followed.read_at, followed.status = sent, recording.status
        if recording.invoked_time is not None:
            followed.invoked_time = recording.invoked_time
        handed = 0
        for watch in self._watches.get(recording.id, ()):
            if not watch.future.done() and watch.wants(recording, sent):
                watch.future.set_result(recording)
                followed.asked_at = sent  # its trigger is about to watch again: keep what is known
                handed += 1
        return handed

    def _oldest_invoked(self, recording_ids: set[str]) -> datetime | None:
        """When the oldest of these was invoked, if every one of them has been read before."""
        known = [getattr(self._followed.get(rid), "invoked_time", None) for rid in recording_ids]
        return None if any(moment is None for moment in known) else min(known)  # type: ignore[type-var]

    async def _list(
        self,
        hook: RealtimeKitAsyncHook,
        sweep: _Sweep,
        statuses: list[RecordingStatus],
        since: datetime | None = None,
    ) -> None:
        """Recordings in ``statuses``, newest first, page by page (each page's watches answered), until
        the sweep has seen every recording it wants (or, with ``since``, the pages reach recordings
        invoked before it). Up to :data:`PAGES_IN_FLIGHT` pages are asked for at once, paced by the
        budget."""

        async def fetch(page_no: int) -> tuple[float, RecordingPage]:
            await self.budget.spend()
            self.requests += 1
            sent = time.monotonic()
            page = await hook.list_recordings(
                status=statuses, page_no=page_no, per_page=PAGE_SIZE, sort_by="invokedTime", sort_order="DESC"
            )
            return sent, page

        if not sweep.unseen:
            return
        loop = asyncio.get_running_loop()
        in_flight = deque([loop.create_task(fetch(1))])
        next_no, last_no, more = 2, 1, True  # the last page is known from the first answer
        try:
            while in_flight:
                sent, page = await in_flight.popleft()
                handed = 0
                for recording in page.recordings:
                    handed += self._record(recording, sent)
                    if handed >= WAKE_AT_ONCE:  # let those run before waking more
                        handed = 0
                        await asyncio.sleep(0)
                last = page.recordings[-1] if page.recordings else None
                if last is None or page.paging.end_offset >= page.paging.total_count or _before(last, since):
                    more = False
                else:
                    last_no = min(MAX_PAGES, -(-page.paging.total_count // PAGE_SIZE))
                while more and len(in_flight) < PAGES_IN_FLIGHT and next_no <= last_no and sweep.unseen:
                    in_flight.append(loop.create_task(fetch(next_no)))
                    next_no += 1
        finally:
            for task in in_flight:  # after a failure: the pages still asked for are not wanted
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    def _fail(self, recording_ids: set[str], error: RealtimeKitError) -> None:
        for recording_id in recording_ids:
            for watch in self._watches.get(recording_id, []):
                if not watch.future.done():
                    watch.future.set_exception(error)
