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
(``[realtimekit] poll_requests_per_second``, default half of Cloudflare's global limit per token), so
the triggerer as a whole stays within it.

A shared part never shares a failure. A failed shared request (429, 5xx, no answer, an answer that
cannot be read) is the poller's to wait out: it backs off (a 429 also halves the budget, which then
recovers little by little, and its ``Retry-After`` holds every request until then) and every watch
keeps waiting; each trigger's own deadline still wakes it. The outage is logged once when it begins
and once when it ends. Only what concerns one recording ends its watch: the recording is gone (404).
An item of a list page that cannot be read (an unknown status, a fractional duration) concerns that
recording only: it is skipped, and the rest of the page is read.

Nothing here is kept across a triggerer restart: each trigger stays rebuildable from its kwargs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import math
import random
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitConnectionConfigError,
    RealtimeKitError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
)
from airflow_provider_rtk.hooks._api import (
    ANSWER_OBSERVER,
    HttpRetryPolicy,
    Limits,
    RealtimeKitBadAnswerError,
    parse_rate_limit,
)
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.redaction import redact

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from airflow_provider_rtk.hooks.realtimekit import ConnectionSettings
    from airflow_provider_rtk.models import Recording, RecordingPage

log = logging.getLogger(__name__)

#: The documented limit on recording operations, per second (1,000 per 50 s).
RECORDING_LIMIT_PER_SECOND = 1000 / 50
#: Cloudflare's global limit per token (1,200 requests per 5 minutes); past it, every call of the
#: token is refused for 5 minutes (starts and stops too).
GLOBAL_LIMIT_PER_SECOND = 1200 / 300
#: The default poll budget: half the global limit, the other half left for starts, stops and the rest.
DEFAULT_REQUESTS_PER_SECOND = GLOBAL_LIMIT_PER_SECOND / 2
#: The budget never falls below this on 429s (one request every 30 s) ...
MIN_REQUESTS_PER_SECOND = 1 / 30
#: ... and climbs back from nothing to the configured rate in this long (additive increase).
RECOVER_SECONDS = 120.0
#: Backoff after a failed shared request: doubles from the first to the last (with jitter) ...
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
#: ... and no ``Retry-After`` or rate-limit reset holds the poller longer than this at once.
MAX_HOLD_SECONDS = 600.0
#: Rate-limit headers saying this share of the quota (or fewer than LOW_REMAINING requests) is left
#: hold the poller until the window resets; of a policy's rate, the poller takes POLICY_SHARE.
LOW_REMAINING = 5
LOW_SHARE = 0.1
POLICY_SHARE = 0.5
#: The poller retries nothing inside the hook: each failure reaches it, to back off for everyone.
ONE_ATTEMPT = HttpRetryPolicy(max_attempts=1)
#: Unreadable recordings whose problem was logged (each is logged once; forgotten past this many).
LOGGED_UNREADABLE = 1000
#: Recordings per list page (the API documents no maximum; 100 is what its own dashboards page by).
PAGE_SIZE = 100
#: A list page larger than this is refused unread (so one page's JSON is decoded in well under a
#: tenth of a second), and the poller asks for pages half as long from then on, down to MIN_PAGE_SIZE.
PAGE_MAX_BYTES = 1024 * 1024
MIN_PAGE_SIZE = 10
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
    """At most ``rate`` requests per second, spent in order (a token bucket holding one second's worth,
    at least one request).

    AIMD: :meth:`slow_down` (a 429) halves the rate, which then climbs back to ``ceiling`` additively
    over :data:`RECOVER_SECONDS`; :meth:`hold` spends nothing until a moment (a ``Retry-After``, a
    rate-limit window's reset)."""

    def __init__(self, rate: float) -> None:
        self.ceiling = rate  #: the configured rate (lowered by a rate-limit policy the service sends)
        self.rate = rate  #: the rate now
        self._tokens = max(1.0, rate)
        self._stamp = time.monotonic()
        self._held_until = -math.inf
        self._lock = asyncio.Lock()

    def slow_down(self) -> None:
        """Halve the rate (multiplicative decrease), no lower than :data:`MIN_REQUESTS_PER_SECOND`."""
        self._refill(time.monotonic())
        self.rate = max(min(MIN_REQUESTS_PER_SECOND, self.ceiling), self.rate / 2)
        self._tokens = min(self._tokens, 1.0)

    def hold(self, seconds: float) -> None:
        """Spend nothing for ``seconds`` (at most :data:`MAX_HOLD_SECONDS`) from now."""
        self._held_until = max(self._held_until, time.monotonic() + min(seconds, MAX_HOLD_SECONDS))

    def limit(self, rate: float) -> None:
        """A rate the service announced: never spend faster."""
        self.ceiling = rate
        self.rate = min(self.rate, rate)

    def held_for(self) -> float:
        """Seconds until requests may be spent again (0 when not held)."""
        return max(0.0, self._held_until - time.monotonic())

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - max(self._stamp, self._held_until))
        self.rate = min(self.ceiling, self.rate + elapsed * self.ceiling / RECOVER_SECONDS)
        self._tokens = min(max(1.0, self.rate), self._tokens + elapsed * self.rate)
        self._stamp = now

    async def spend(self) -> None:
        async with self._lock:
            while True:
                held = self.held_for()
                if held > 0:
                    await asyncio.sleep(held)
                    continue
                self._refill(time.monotonic())
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


def _never_heals(error: Exception) -> bool:
    """A failure of a shared request that no wait can mend: the connection lacks what the provider
    needs. Everything else is waited out (an invalid id fails only its own watch, in the sweep)."""
    return isinstance(error, RealtimeKitConnectionConfigError)


def _unreadable_answer(error: Exception) -> bool:
    """A successful answer whose recording cannot be read (concerns that recording only)."""
    return (
        isinstance(error, RealtimeKitBadAnswerError)
        and error.status_code is not None
        and error.status_code < 300
    )


def _backoff(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure in a row (doubling, with jitter)."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2.0 ** min(failures - 1, 30))
    return ceiling * random.uniform(0.5, 1.0)


@dataclass(slots=True)
class Outage:
    """Shared requests failing in a row: since when, how often, and the first failure."""

    began: float  #: monotonic
    first: str  #: the first failure, redacted
    failures: int = 0
    last: str = ""  #: the latest failure, redacted


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
        return recording.status != self.unlike


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


class _PageHook(RealtimeKitAsyncHook):
    """The poller's hook for list pages: an answer above :data:`PAGE_MAX_BYTES` is refused unread."""

    def _limits(self, settings: ConnectionSettings) -> Limits:
        limits = super()._limits(settings)
        return dataclasses.replace(limits, max_response_bytes=min(limits.max_response_bytes, PAGE_MAX_BYTES))


class RecordingPoller:
    """Reads recordings for many waiters with few requests. Get the loop's with :meth:`shared`."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RecordingPoller]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, realtimekit_conn_id: str, requests_per_second: float | None = None) -> None:
        self.realtimekit_conn_id = realtimekit_conn_id
        self.budget = RequestBudget(requests_per_second or configured_budget())
        #: shared requests failing in a row (``None`` while the API answers)
        self.outage: Outage | None = None
        self._logged_unreadable: set[str] = set()
        #: recordings asked for per list page (halved while pages come back too large)
        self.page_size = PAGE_SIZE
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
        if followed.status is not None and followed.status != watch.unlike:
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

    def _hooks(self) -> tuple[RealtimeKitAsyncHook, RealtimeKitAsyncHook]:
        """A hook for single reads, and one for list pages (see :class:`_PageHook`)."""
        return (
            RealtimeKitAsyncHook(self.realtimekit_conn_id, retry_policy=ONE_ATTEMPT),
            _PageHook(self.realtimekit_conn_id, retry_policy=ONE_ATTEMPT),
        )

    async def _run(self) -> None:
        hook, page_hook = self._hooks()
        ANSWER_OBSERVER.set(self._observe)  # (this task's own context: only its requests are seen)
        try:
            while True:
                self._prune()
                if not self._watches:
                    self._wake.clear()
                    self._wake_before = math.inf
                    try:  # (asyncio.timeout, not wait_for: a cancellation is never lost with it)
                        async with asyncio.timeout(IDLE_SECONDS):
                            await self._wake.wait()
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
                        async with asyncio.timeout(min(wait, IDLE_SECONDS)):
                            await self._wake.wait()
                    continue
                held = self.budget.held_for()
                if held > 0:  # a Retry-After, a backoff or a spent rate limit: wait it out first
                    await asyncio.sleep(held)
                    continue
                self._wake_before = -math.inf
                began, sent = time.monotonic(), self.requests
                try:
                    await self._sweep(hook, page_hook, began)
                except Exception as error:
                    self._sweep_failed(error)
                    # fresh hooks: the connection is looked up again (a rotated token after a 401)
                    await hook.aclose()
                    await page_hook.aclose()
                    hook, page_hook = self._hooks()
                    continue
                finally:
                    self._current = None
                self._sweep_seconds = time.monotonic() - began
                if self.requests > sent:
                    self._answered()
        finally:
            await hook.aclose()
            await page_hook.aclose()

    def _sweep_failed(self, error: Exception) -> None:
        """A sweep ended in ``error``. What never heals (the connection's settings) fails the watches;
        anything else (a failed request, an unreadable answer, a connection lookup that failed) is the
        poller's to wait out: every watch keeps waiting, the poller backs off, and the outage is logged
        once when it begins (and once when it ends)."""
        if _never_heals(error):
            self._fail(set(self._watches), _provider_error(error))
            return
        if getattr(error, "too_large", False) and self.page_size > MIN_PAGE_SIZE:
            self.page_size = max(MIN_PAGE_SIZE, self.page_size // 2)
            log.warning("RealtimeKit list pages are too large to read: asking for %d a page", self.page_size)
        text = redact(str(_provider_error(error)))
        rate_limited = isinstance(error, RealtimeKitAPIError) and error.status_code == 429
        if rate_limited:
            self.budget.slow_down()
        outage = self.outage
        if outage is None:
            outage = self.outage = Outage(began=time.monotonic(), first=text)
        outage.failures += 1
        outage.last = text
        wait = _backoff(outage.failures)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and math.isfinite(retry_after):
            wait = max(wait, min(float(retry_after), MAX_HOLD_SECONDS))
        self.budget.hold(wait)
        if outage.failures == 1:
            waiting = sum(1 for watches in self._watches.values() for w in watches if not w.future.done())
            log.warning(
                "RealtimeKit polling for connection %s failed (%s); the %d waiting triggers keep waiting "
                "(each until its own deadline) while the poller retries with backoff%s (logged once, "
                "and once more when the API is back).",
                self.realtimekit_conn_id,
                text,
                waiting,
                f"; the budget is now {self.budget.rate:.2g} requests/s" if rate_limited else "",
            )

    def _answered(self) -> None:
        """A sweep's requests were answered: an outage, if there was one, is over."""
        outage, self.outage = self.outage, None
        if outage is not None:
            log.warning(
                "RealtimeKit polling for connection %s answers again after %.0fs and %d failed requests "
                "(the last: %s)",
                self.realtimekit_conn_id,
                time.monotonic() - outage.began,
                outage.failures,
                outage.last,
            )

    def _observe(self, status: int, headers: httpx.Headers) -> None:
        """Each answer's rate-limit headers: a policy caps the budget; few requests left hold the
        poller until the window resets. (Never raises: it runs inside each request.)"""
        try:
            hint = parse_rate_limit(headers)
        except Exception:  # a header this reads wrongly must not fail the request
            return
        if hint is None:
            return
        if hint.quota is not None and hint.window:
            rate = max(MIN_REQUESTS_PER_SECOND, hint.quota / hint.window * POLICY_SHARE)
            if rate < self.budget.ceiling:
                log.info(
                    "RealtimeKit announces %g requests per %gs: polling at most %.2g/s",
                    hint.quota,
                    hint.window,
                    rate,
                )
                self.budget.limit(rate)
        if hint.remaining is None or hint.reset is None:
            return
        low = max(LOW_REMAINING, LOW_SHARE * hint.quota) if hint.quota else LOW_REMAINING
        if hint.remaining <= low and hint.reset > self.budget.held_for():
            log.info(
                "RealtimeKit says %g requests are left for %.0fs: polling waits for the reset",
                hint.remaining,
                hint.reset,
            )
            self.budget.hold(hint.reset)

    def _wanted(self, horizon: float) -> set[str]:
        """The watched recordings some watch wants read by ``horizon``."""
        return {recording_id for recording_id, due in self._watching() if due <= horizon}

    def _still_watched(self, recording_ids: set[str]) -> set[str]:
        return {rid for rid in recording_ids if any(not w.future.done() for w in self._watches.get(rid, ()))}

    async def _sweep(self, hook: RealtimeKitAsyncHook, page_hook: RealtimeKitAsyncHook, began: float) -> None:
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
            await self._list_all(page_hook, sweep, wanted)
        # unknown, not yet listed, or moved between pages (who began watching since waits for the next)
        for recording_id in self._still_watched(wanted & sweep.unseen):
            await self.budget.spend()
            self.requests += 1
            sent = time.monotonic()
            try:
                recording = await hook.get_recording(recording_id)
            except (RealtimeKitNotFoundError, RealtimeKitPayloadError) as error:
                # its own: the recording is gone, or its id is one no request can carry
                self._fail({recording_id}, error)
                continue
            except RealtimeKitBadAnswerError as error:
                if not _unreadable_answer(error):
                    raise
                # its own too: this recording cannot be read (its watch waits)
                self._unreadable(recording_id, str(error), sent)
                continue
            self._record(recording, sent)

    async def _list_all(self, hook: RealtimeKitAsyncHook, sweep: _Sweep, wanted: set[str]) -> None:
        """The unfinished list, then (if several wanted recordings were not in it) the newest finished
        ones. A failure ends the sweep (the poller backs off; nobody's watch fails)."""
        before = self.requests
        await self._list(hook, sweep, UNFINISHED)
        missing = self._still_watched(wanted & sweep.unseen)
        if len(missing) > 1:  # several finished at once: the newest finished ones, a page at a time
            await self._list(hook, sweep, FINISHED, since=self._oldest_invoked(missing))
        self._list_cost = self.requests - before

    def _unreadable(self, recording_id: str | None, problem: str, sent: float) -> None:
        """A recording the models cannot read (an unknown status, a field of the wrong type): it
        concerns that recording only. Logged once; a followed one counts as read (so it is not read
        again before its interval) and its watches keep waiting (each until its own deadline)."""
        followed = self._followed.get(recording_id) if recording_id else None
        if recording_id is not None:
            if self._current is not None:
                self._current.seen(recording_id)
            if followed is not None and sent >= followed.read_at:
                followed.read_at = sent
            if recording_id in self._logged_unreadable:
                return
            if len(self._logged_unreadable) >= LOGGED_UNREADABLE:
                self._logged_unreadable.clear()
            self._logged_unreadable.add(recording_id)
        log.warning(
            "RealtimeKit recording %s cannot be read (%s): %s (logged once)",
            recording_id or "(without a plain id)",
            redact(problem),
            "its triggers keep waiting for a reading they can use" if followed else "skipped",
        )

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

        page_size = self.page_size

        async def fetch(page_no: int) -> tuple[float, RecordingPage]:
            await self.budget.spend()
            self.requests += 1
            sent = time.monotonic()
            page = await hook.list_recordings(
                status=statuses, page_no=page_no, per_page=page_size, sort_by="invokedTime", sort_order="DESC"
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
                for item in page.unreadable:
                    self._unreadable(item.id, item.problem, sent)
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
                    last_no = min(MAX_PAGES, -(-page.paging.total_count // page_size))
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
