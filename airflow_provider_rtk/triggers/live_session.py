"""An event trigger for ``AssetWatcher``: one event each time a watched meeting gets a new live session.

It lists the app's live sessions (``GET /sessions?status=LIVE``, paged, newest first, at most
``MAX_PAGES`` pages) every ``poll_interval`` seconds and fires once per session id. A session that
stays live fires nothing more (a condition that stays true would schedule the DAG forever). Pages may
repeat or overlap (offset paging shifts when a session starts or ends between two page reads):
sessions are told apart by id, and a reported session is forgotten only once it is *seen ended*,
never because one listing missed it. When a remembered session is missing from the live listing, the
poll reads the newest page of ended sessions (``status=ENDED``) and forgets those it names, then reads
up to ``MAX_READS_PER_POLL`` of the others one by one (``GET /sessions/{id}``: ``ENDED``, or 404), in
turn, so that each missing session is read within a few polls even when some reads keep failing. An item
that cannot be read is skipped and logged; an answer that cannot be read delays the next poll (the
wait doubles up to ``MAX_BACKOFF``); only 401, 403 and 404 of the listing (the token, or the
connection's account or app) or a broken connection end the watch.

**What survives the triggerer (at least once).** On Airflow 3.3+ the triggerer runs this trigger as a
shared stream in *ack mode* (:meth:`~RealtimeKitLiveSessionTrigger.create_shared_stream_producer`):
Airflow tells the stream which of its events the triggerer has stored in the metadata database (the
asset event committed). Only then is a session marked *reported* in the asset state store. Whatever
happens before (a ``kill -9`` of the triggerer, a failed database write, an event that Airflow never
confirms), the session is not marked, and the watch (restarted, or in the same life at its next poll)
fires it again while it is live. A session can thus fire twice (a crash after its event was saved and
before it was marked), never not at all while it stays live; the DAG's start operator with
``if_active="attach"`` follows the recording the first event started instead of starting another.
A session that ends while the triggerer is down is not fired after the restart.

**Below Airflow 3.3** the triggerer calls :meth:`~RealtimeKitLiveSessionTrigger.run`, which cannot
learn whether an event was saved and so marks nothing reported, and there is no store: a restarted
trigger reports the sessions that are live at that moment once more (the start operator with
``if_active="attach"`` then follows the recording it already has), unless
``report_sessions_live_at_start=False``, which skips whatever is live when the trigger starts (and so
misses a meeting that went live while the triggerer was down).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_rtk.arguments import ID_RE as _ID_RE
from airflow_provider_rtk.arguments import seconds_argument
from airflow_provider_rtk.exceptions import (
    FieldError,
    RealtimeKitAPIError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
)
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.version_compat import AIRFLOW_V_3_4_PLUS

try:  # Airflow 3.3+: shared streams whose producer learns which events the triggerer saved
    from airflow.triggers.shared_stream import SharedStreamProducer

    ACK_MODE = True
except ImportError:  # pragma: no cover - Airflow below 3.3: the triggerer calls run()
    SharedStreamProducer = object  # type: ignore[assignment,misc]
    ACK_MODE = False

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Hashable, Iterable, Sequence

    from airflow.triggers.shared_stream import AdvanceItem

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
    from airflow_provider_rtk.models import ActiveSession

#: The shortest interval between two polls (Cloudflare allows 1,200 requests per 5 minutes per token).
MIN_POLL_INTERVAL = 2.0
#: The longest wait after the API kept failing (the wait doubles from ``poll_interval`` up to this).
MAX_BACKOFF = 600.0
#: The most doublings of the wait that count (``2**failures`` of a long outage would overflow a float).
MAX_DOUBLINGS = 20
#: Sessions read per request, and the most pages of live sessions read per poll (newest first).
PER_PAGE = 100
MAX_PAGES = 20
#: Remembered sessions missing from the listing (and from the page of ended ones) that one poll reads
#: one by one; the others are read at the next polls, in turn.
MAX_READS_PER_POLL = 10
#: Statuses of the listing no wait will heal: the token (401, 403), the connection's account or app (404).
ENDS_THE_WATCH = (401, 403, 404)
#: The asset-state key where the webhook receiver marks what it recorded for the asset
#: (``{"sessions": {session_id: time}, ...}``): the watch skips sessions marked there, and the receiver
#: skips sessions in the watch's own key (:attr:`RealtimeKitLiveSessionTrigger.state_key`).
PUSHED_MARKS_KEY = "realtimekit_webhook_marks"


def _meeting_ids_argument(value: Any) -> list[str] | None:
    """``None`` (every meeting of the app), one id, or a list of ids; field errors name each bad one."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise RealtimeKitPayloadError(
            [FieldError("meeting_ids", f"must be a meeting id or a non-empty list of them, not {value!r}")],
            what="trigger argument",
        )
    problems = [
        FieldError(f"meeting_ids[{index}]", f"not a valid meeting id: {item!r}")
        for index, item in enumerate(items)
        if not isinstance(item, str) or not _ID_RE.fullmatch(item)
    ]
    if problems:
        raise RealtimeKitPayloadError(problems, what="trigger argument")
    return sorted(set(items))


class RealtimeKitLiveSessionTrigger(BaseEventTrigger):
    """Fires once per new live session of the watched meetings; for ``AssetWatcher``.

    Each event's payload is :class:`~airflow_provider_rtk.triggers.events.LiveSessionEvent` as a dict
    (``meeting_id``, ``session_id``, ``title``, ``started_at``); Airflow puts it in the asset event's
    ``extra["payload"]``, and :func:`~airflow_provider_rtk.assets.meetings_from_asset_events` reads
    it back from a run's ``triggering_asset_events``. What survives a restart: the module docstring.

    :param meeting_ids: one meeting id, a list of them, or ``None`` for every meeting of the app.
    :param realtimekit_conn_id: the RealtimeKit connection (its app is the one watched).
    :param poll_interval: seconds between two polls, at least ``MIN_POLL_INTERVAL`` (2); each poll
        is one request per page of live sessions; when the listing missed a remembered session, one
        more for the newest page of ended sessions and a read of each other one it missed, at most
        ``MAX_READS_PER_POLL``. A 429 waits for ``Retry-After`` (in the hook); when
        the API keeps failing or answers what cannot be read, the wait doubles up to ten minutes and
        the watch goes on.
    :param report_sessions_live_at_start: fire for sessions already live when the trigger starts
        with nothing stored (default). Set ``False`` below Airflow 3.3 to avoid a second event for a
        session after a triggerer restart.
    :param push_only: make no request at all: the watcher only declares the asset that the webhook
        receiver (``POST /realtimekit/webhooks/{conn_id}``) feeds from ``meeting.started``
        deliveries. With ``False`` (default) it polls, and skips the sessions the receiver recorded.
    :param queue: Airflow 3.4+: the trigger queue whose triggerers run this watch (``[triggerer]
        queues_enabled`` and ``airflow triggerer --queues``); ``None``: any triggerer. Airflow reads it
        when it registers the watcher, so it is not part of ``serialize()``. Refused below 3.4,
        whose event triggers have no queue.
    """

    def __init__(
        self,
        meeting_ids: str | list[str] | None = None,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 30.0,
        report_sessions_live_at_start: bool = True,
        push_only: bool = False,
        queue: str | None = None,
    ) -> None:
        problem = None
        if queue is not None and (not isinstance(queue, str) or not queue.strip()):
            problem = "must be a non-empty string"
        elif queue is not None and not AIRFLOW_V_3_4_PLUS:
            problem = "needs Airflow 3.4 or later (event triggers have no queue before it)"
        if problem:
            raise RealtimeKitPayloadError([FieldError("queue", problem)], what="trigger argument")
        if AIRFLOW_V_3_4_PLUS:
            super().__init__(queue=queue)  # type: ignore[no-untyped-call,unused-ignore]
        else:
            super().__init__()  # type: ignore[no-untyped-call,unused-ignore]
        self.meeting_ids = _meeting_ids_argument(meeting_ids)
        self.realtimekit_conn_id = str(realtimekit_conn_id)
        #: the request budget: at least MIN_POLL_INTERVAL seconds (the error names the argument)
        interval = seconds_argument(
            "poll_interval", poll_interval, minimum=MIN_POLL_INTERVAL, what="trigger argument"
        )
        self.poll_interval = interval
        if not isinstance(report_sessions_live_at_start, bool):
            raise RealtimeKitPayloadError(
                [FieldError("report_sessions_live_at_start", "must be true or false")],
                what="trigger argument",
            )
        self.report_sessions_live_at_start = report_sessions_live_at_start
        if not isinstance(push_only, bool):
            raise RealtimeKitPayloadError(
                [FieldError("push_only", "must be true or false")], what="trigger argument"
            )
        self.push_only = push_only

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "meeting_ids": self.meeting_ids,
            "realtimekit_conn_id": self.realtimekit_conn_id,
            "poll_interval": self.poll_interval,
            "report_sessions_live_at_start": self.report_sessions_live_at_start,
        }
        if self.push_only:  # only when set: a polling watch keeps the kwargs (and stream) it had
            kwargs["push_only"] = True
        return (f"{type(self).__module__}.{type(self).__qualname__}", kwargs)

    def watches(self, meeting_id: str | None) -> bool:
        """Whether a session of ``meeting_id`` is one this watch reports."""
        return self.meeting_ids is None or meeting_id in self.meeting_ids

    @property
    def state_key(self) -> str:
        """The asset-state key of this watch (connection and meetings), so two watches of one asset
        keep separate memories."""
        scope = json.dumps([self.realtimekit_conn_id, self.meeting_ids])
        return f"realtimekit_live_sessions_{hashlib.sha256(scope.encode()).hexdigest()[:16]}"

    def _event(self, session: ActiveSession) -> TriggerEvent:
        # (here, not at the top: DAG files build this trigger, and the events module loads the models)
        from airflow_provider_rtk.triggers.events import LiveSessionEvent

        event = LiveSessionEvent.from_session(session)
        self.log.info(event.message)
        return TriggerEvent(event.to_payload())  # type: ignore[no-untyped-call]

    # ------------------------------------------------------- Airflow 3.3+: a shared stream in ack mode

    def shared_stream_key(self) -> Hashable | None:
        """One stream per watch (every argument in the key), where Airflow has ack mode."""
        if not ACK_MODE:
            return None
        classpath, kwargs = self.serialize()
        return (classpath, json.dumps(kwargs, sort_keys=True))

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> SharedStreamProducer:
        """The stream's producer: it polls, and learns from Airflow which events were saved."""
        return _LiveSessionProducer(cls(**kwargs))

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """One event per session of each batch of new sessions; the store goes to the producer."""
        async for raw in shared_stream:
            if isinstance(raw, _Hello):
                raw.answer(self.asset_state_store)
                continue
            for session in raw.sessions:
                yield self._event(session)

    # ------------------------------------------------------------------ below 3.3: run()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll for ever; yield one event per new live session. Marks nothing reported (it cannot
        learn whether an event was saved): after a restart, what is live fires again."""
        watch = _Watch(self, getattr(self, "asset_state_store", None))
        async for sessions in watch.new_sessions():
            for session in sessions:
                yield self._event(session)


# --------------------------------------------------------------------------------------------------
# The watch: the poll loop and what it remembers


@dataclass
class _Listing:
    """What one poll read: live sessions by id (listing order), ids seen ended, whether the listing
    was read to its end, and the error that cut it short (pages before it were read)."""

    live: dict[str, ActiveSession] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    complete: bool = False
    error: RealtimeKitAPIError | None = None


class _Watch:
    """One watch of live sessions. ``reported``: sessions whose event Airflow confirmed saved and
    that were not seen ended (kept in the asset state store, one write per change); ``fired``:
    sessions whose event went to the triggerer, not yet confirmed saved (memory only)."""

    def __init__(self, trigger: RealtimeKitLiveSessionTrigger, store: Any | None) -> None:
        self.trigger = trigger
        self.log = trigger.log
        self.store = store
        self.reported: set[str] = set()
        self.fired: set[str] = set()
        #: remembered sessions missing from the listing, in the order they are to be read
        self._to_read: deque[str] = deque()
        self._writing = asyncio.Lock()

    async def new_sessions(self) -> AsyncIterator[list[ActiveSession]]:
        """Poll for ever; yield the sessions of each poll that are neither reported nor fired, nor
        recorded by the webhook receiver. A push-only watch makes no request and yields nothing."""
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook

        if self.trigger.push_only:
            self.log.info("Push-only watch: no polling; the webhook receiver feeds this asset")
            await asyncio.Event().wait()
        hook = RealtimeKitAsyncHook(realtimekit_conn_id=self.trigger.realtimekit_conn_id)
        failures = 0
        first_listing = True
        try:
            stored = await self._load()
            while True:
                try:
                    listing = await self._list(hook)
                except RealtimeKitAPIError as error:
                    failures += 1
                    await self._back_off(failures, error)
                    continue
                if first_listing and not self.trigger.report_sessions_live_at_start and not stored:
                    self.reported.update(listing.live)  # what is live at start counts as reported
                    await self._save()
                first_listing = False
                await self._forget_ended(listing, hook)
                new = [
                    s for sid, s in listing.live.items() if sid not in self.reported and sid not in self.fired
                ]
                if new:
                    new = await self._not_pushed(new)
                if new:
                    self.fired.update(session.id for session in new)
                    yield new
                if listing.error is not None:
                    failures += 1
                    await self._back_off(failures, listing.error)
                    continue
                failures = 0
                await asyncio.sleep(self.trigger.poll_interval)
        finally:
            await hook.aclose()

    async def settle(self, saved: Iterable[str], unsaved: Iterable[str]) -> None:
        """Airflow's word on fired events: ``saved`` ones become reported (one store write),
        ``unsaved`` ones fire again at the next poll while they are live."""
        newly = [sid for sid in saved if sid in self.fired]
        self.fired.difference_update(newly)
        lost = [sid for sid in unsaved if sid in self.fired]
        self.fired.difference_update(lost)
        if lost:
            self.log.warning(
                "Airflow did not confirm that it saved the events of %d live session(s) (%s); "
                "they fire again while live",
                len(lost),
                ", ".join(sorted(lost)[:5]),
            )
        if newly:
            self.log.info(
                "Airflow saved the events of %d live session(s) (%s): marked reported",
                len(newly),
                ", ".join(sorted(newly)[:5]),
            )
            self.reported.update(newly)
            await self._save()

    # ---------------------------------------------------------------------------------- the store

    async def _not_pushed(self, sessions: list[ActiveSession]) -> list[ActiveSession]:
        """``sessions`` less those the webhook receiver already recorded (its marks, read now from the
        store); those count as reported (one store write). Without a store, all of them."""
        if self.store is None:
            return sessions
        try:
            marks = await self.store.aget(PUSHED_MARKS_KEY, default=None)
        except Exception as error:  # the marks are an optimisation: a failed read fires as before
            self.log.warning("Could not read the webhook receiver's marks (%s)", type(error).__name__)
            return sessions
        pushed = marks.get("sessions") if isinstance(marks, dict) else None
        if not isinstance(pushed, dict) or not pushed:
            return sessions
        skipped = {session.id for session in sessions if session.id in pushed}
        if not skipped:
            return sessions
        self.log.info(
            "%d live session(s) already delivered by webhook (%s): not fired again",
            len(skipped),
            ", ".join(sorted(skipped)[:5]),
        )
        self.reported.update(skipped)
        await self._save()
        return [session for session in sessions if session.id not in skipped]

    async def _load(self) -> bool:
        """Read the reported sessions from the store; whether it held any."""
        if self.store is None:
            return False
        try:
            stored = await self.store.aget(self.trigger.state_key, default=None)
        except ValueError as error:  # one trigger for several assets: the store wants one
            self.log.warning(
                "No asset state store for this watch (%s): a restart fires live sessions again", error
            )
            self.store = None
            return False
        if isinstance(stored, dict) and isinstance(stored.get("live"), list):
            self.reported = {str(item) for item in stored["live"]}
        return bool(self.reported)

    async def _save(self) -> None:
        """Write the reported sessions (one write; writes never overtake one another). A failed write
        is logged: the store then lags, and a restart fires again what it lacks."""
        if self.store is None:
            return
        async with self._writing:
            value = {"live": sorted(self.reported)}
            try:
                await self.store.aset(self.trigger.state_key, value)
            except Exception as error:
                self.log.warning(
                    "Could not store the reported live sessions (%s); after a restart they may fire again",
                    type(error).__name__,
                )

    # ---------------------------------------------------------------------------------- the API

    async def _back_off(self, failures: int, error: RealtimeKitAPIError) -> None:
        if error.status_code in ENDS_THE_WATCH:
            self.log.error(
                "Listing live sessions failed for a reason no wait heals; the watch ends: %s", error
            )
            raise error
        wait = min(self.trigger.poll_interval * 2 ** min(failures, MAX_DOUBLINGS), MAX_BACKOFF)
        self.log.warning("Listing live sessions failed (%s); next try in %.0fs", error, wait)
        await asyncio.sleep(wait)

    def _query(self, status: str) -> dict[str, Any]:
        """The filters of a listing of sessions in ``status``, newest first (one watched meeting is
        asked for by id; several are filtered here)."""
        filters: dict[str, Any] = {"status": status, "sort_by": "createdAt", "sort_order": "DESC"}
        meeting_ids = self.trigger.meeting_ids
        if meeting_ids is not None and len(meeting_ids) == 1:
            filters["associated_id"] = meeting_ids[0]
        return filters

    async def _list(self, hook: RealtimeKitAsyncHook) -> _Listing:
        """The live sessions of the watched meetings, newest first, page after page (at most
        ``MAX_PAGES``), each id once; an unreadable item is skipped, a page repeating earlier ones
        ends the listing. Newest first: a session that just started is on the first page, however
        many are live."""
        trigger = self.trigger
        filters = self._query("LIVE")
        wanted = None if trigger.meeting_ids is None else set(trigger.meeting_ids)
        listing = _Listing()
        seen: set[str] = set()
        total = 0
        for page_no in range(1, MAX_PAGES + 1):
            try:
                page = await hook.list_sessions(page_no=page_no, per_page=PER_PAGE, **filters)
            except RealtimeKitAPIError as error:
                if page_no == 1 or error.status_code in ENDS_THE_WATCH:
                    raise
                listing.error = error
                return listing
            total = page.paging.total_count
            for problem in page.skipped:
                self.log.warning("Skipped a session of page %d that could not be read: %s", page_no, problem)
            fresh = False
            for session in page.sessions:
                if session.id not in seen:  # (a page of skipped sessions is still no repeat)
                    seen.add(session.id)
                    fresh = True
                if not _ID_RE.fullmatch(session.id):  # it could not be read back by id
                    self.log.warning("Skipped a session of page %d whose id is not a valid id", page_no)
                    continue
                if not _ID_RE.fullmatch(session.associated_id or ""):  # no meeting a run could record
                    self.log.warning(
                        "Skipped session %s of page %d: its meeting id is missing or not a valid id",
                        session.id,
                        page_no,
                    )
                    continue
                if wanted is not None and session.associated_id not in wanted:
                    continue
                if session.is_ended:
                    listing.ended.add(session.id)
                    listing.live.pop(session.id, None)
                elif session.is_live and session.id not in listing.ended:
                    listing.live.setdefault(session.id, session)
            if page.is_last:
                listing.complete = True
                return listing
            if page.sessions and not fresh:
                self.log.warning(
                    "Page %d of the live sessions repeats earlier ones; read no further", page_no
                )
                return listing
        self.log.warning(
            "The app lists %d live sessions; only the %d newest were read (%d pages of %d)",
            total,
            len(seen),
            MAX_PAGES,
            PER_PAGE,
        )
        return listing

    async def _forget_ended(self, listing: _Listing, hook: RealtimeKitAsyncHook) -> None:
        """Forget the sessions seen ended: ``ENDED`` in the listing; and, when the listing (read
        without error) missed remembered sessions, those the newest page of ended sessions names, then
        up to ``MAX_READS_PER_POLL`` of the others read one by one, in turn. A session that could not
        be read stays (it is read again in its turn); so does one read live (a shifted page skipped
        it). One store write per poll that forgot a reported session."""
        ended = {sid for sid in listing.ended if sid in self.reported or sid in self.fired}
        if listing.error is None:
            known = itertools.chain(self.reported, self.fired)
            missing = {sid for sid in known if sid not in listing.live and sid not in listing.ended}
            if missing:
                listed = await self._listed_ended(hook) & missing
                ended |= listed
                missing -= listed
            ended |= await self._read_in_turn(hook, missing)
        if not ended:
            return
        self.fired.difference_update(ended)
        if not ended.isdisjoint(self.reported):
            self.reported.difference_update(ended)
            await self._save()

    async def _listed_ended(self, hook: RealtimeKitAsyncHook) -> set[str]:
        """The ids on the newest page of ended sessions (``status=ENDED``, newest first); none when
        it cannot be read (logged: the reads one by one still come)."""
        try:
            page = await hook.list_sessions(page_no=1, per_page=PER_PAGE, **self._query("ENDED"))
        except RealtimeKitAPIError as error:
            self.log.warning("Could not list the ended sessions (%s); reading them one by one", error)
            return set()
        return {session.id for session in page.sessions if session.is_ended}

    async def _read_in_turn(self, hook: RealtimeKitAsyncHook, missing: set[str]) -> set[str]:
        """Read up to ``MAX_READS_PER_POLL`` of the ``missing`` sessions, those waiting longest
        first; those that did not prove ended go to the back of the line. The ids it proved ended."""
        line = deque(sid for sid in self._to_read if sid in missing)  # what is still missing, in turn
        waiting = set(line)
        line.extend(sid for sid in missing if sid not in waiting)
        ended: set[str] = set()
        try:
            for _ in range(min(MAX_READS_PER_POLL, len(line))):
                session_id = line.popleft()
                if await self._has_ended(hook, session_id):
                    ended.add(session_id)
                else:
                    line.append(session_id)
        finally:
            self._to_read = line
        return ended

    async def _has_ended(self, hook: RealtimeKitAsyncHook, session_id: str) -> bool:
        """Whether a read of the session proves it ended (``ENDED``, or unknown to the service: 404)."""
        try:
            session = await hook.get_session(session_id)
        except RealtimeKitNotFoundError:
            return True
        except RealtimeKitAPIError as error:
            self.log.warning("Could not read session %s (%s); it stays reported", session_id, error)
            return False
        return session.is_ended


# --------------------------------------------------------------------------------------------------
# Airflow 3.3+: the shared stream's producer


class _Hello:
    """The stream's first raw event: the subscribing trigger answers with its asset state store (the
    producer is built from the trigger's kwargs alone, without it)."""

    def __init__(self) -> None:
        self.store: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def answer(self, store: Any) -> None:
        if not self.store.done():
            self.store.set_result(store)


@dataclass(frozen=True)
class _NewSessions:
    """A raw event of the stream: the new live sessions of one poll."""

    sessions: tuple[ActiveSession, ...]


class _LiveSessionProducer(SharedStreamProducer):
    """The watch as Airflow's ack-mode producer: ``open_stream`` polls; Airflow calls ``advance``
    with each poll's session ids once the triggerer stored their events in the metadata database
    (a clean outcome) or gave up on them; only then are they marked reported, or fired again."""

    def __init__(self, trigger: RealtimeKitLiveSessionTrigger) -> None:
        self.trigger = trigger
        self.watch: _Watch | None = None

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        hello = _Hello()
        yield hello, None
        self.watch = _Watch(self.trigger, await hello.store)
        async for sessions in self.watch.new_sessions():
            yield _NewSessions(tuple(sessions)), [session.id for session in sessions]

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        if self.watch is None:
            return
        saved: list[str] = []
        unsaved: list[str] = []
        for item in batch:
            if item.broker_payload is not None:
                (saved if item.outcome.is_clean else unsaved).extend(item.broker_payload)
        await self.watch.settle(saved, unsaved)
