"""An event trigger for ``AssetWatcher``: one event each time a watched meeting gets a new live session.

It lists the app's live sessions (``GET /sessions?status=LIVE``, paged, oldest first) every
``poll_interval`` seconds and fires once per session id it has not seen live before. A session that
stays live fires nothing more (a condition that stays true would schedule the DAG forever).

What it has seen survives a triggerer restart through Airflow 3.3's asset state store (the
triggerer gives an ``AssetWatcher``'s trigger ``asset_state_store``): after a restart, a session
already reported stays quiet. Below Airflow 3.3 there is no store: a restarted trigger reports the
sessions that are live at that moment once more (the DAG's start operator with ``if_active="attach"``
then follows the recording it already has instead of starting a second one), unless
``report_sessions_live_at_start=False``, which skips whatever is live when the trigger starts (and so
misses a meeting that went live while the triggerer was down).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_rtk._arguments import seconds_argument
from airflow_provider_rtk.exceptions import (
    FieldError,
    RealtimeKitAPIError,
    RealtimeKitPayloadError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
    from airflow_provider_rtk.models import ActiveSession

#: The shortest interval between two polls (Cloudflare allows 1,200 requests per 5 minutes per token).
MIN_POLL_INTERVAL = 2.0
#: The longest wait after the API kept failing (the wait doubles from ``poll_interval`` up to this).
MAX_BACKOFF = 600.0
#: Sessions read per request, and the most pages read per poll.
PER_PAGE = 100
MAX_PAGES = 20
#: ``models.ID_PATTERN``, kept here so that parsing a DAG file does not import the models (a test
#: checks that the two agree).
MEETING_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
_ID_RE = re.compile(MEETING_ID_PATTERN)


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

    Each event's payload is :class:`~airflow_provider_rtk.assets.LiveSessionEvent` as a dict
    (``meeting_id``, ``session_id``, ``title``, ``started_at``); Airflow puts it in the asset event's
    ``extra["payload"]``, and :func:`~airflow_provider_rtk.assets.meetings_from_asset_events` reads
    it back from a run's ``triggering_asset_events``.

    :param meeting_ids: one meeting id, a list of them, or ``None`` for every meeting of the app.
    :param realtimekit_conn_id: the RealtimeKit connection (its app is the one watched).
    :param poll_interval: seconds between two polls, at least ``MIN_POLL_INTERVAL`` (2); each poll
        is one request per page of live sessions. A 429 waits for ``Retry-After`` (in the hook);
        when the API keeps failing, the wait doubles up to ten minutes and the watch goes on.
    :param report_sessions_live_at_start: fire for sessions already live when the trigger starts
        with nothing stored (default). Set ``False`` below Airflow 3.3 to avoid a second event for a
        session after a triggerer restart.
    """

    def __init__(
        self,
        meeting_ids: str | list[str] | None = None,
        realtimekit_conn_id: str = "realtimekit_default",
        poll_interval: float = 30.0,
        report_sessions_live_at_start: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
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

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "meeting_ids": self.meeting_ids,
                "realtimekit_conn_id": self.realtimekit_conn_id,
                "poll_interval": self.poll_interval,
                "report_sessions_live_at_start": self.report_sessions_live_at_start,
            },
        )

    # ---------------------------------------------------------------------------------- the store

    @property
    def state_key(self) -> str:
        """The asset-state key of this watch (connection and meetings), so two watches of one asset
        keep separate memories."""
        scope = json.dumps([self.realtimekit_conn_id, self.meeting_ids])
        return f"realtimekit_live_sessions_{hashlib.sha256(scope.encode()).hexdigest()[:16]}"

    async def load_reported(self) -> set[str] | None:
        """Session ids already reported (still live when last stored), or ``None`` with no store."""
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return None
        stored = await store.aget(self.state_key, default=None)
        if isinstance(stored, dict) and isinstance(stored.get("live"), list):
            return {str(item) for item in stored["live"]}
        return set()

    async def save_reported(self, live: Iterable[str]) -> None:
        """Store the reported sessions that are still live (ended ones never come back, so the set
        stays as small as the number of live sessions)."""
        store = getattr(self, "asset_state_store", None)
        if store is not None:
            await store.aset(self.state_key, {"live": sorted(live)})

    # ---------------------------------------------------------------------------------- polling

    async def live_sessions(self, hook: RealtimeKitAsyncHook) -> list[ActiveSession]:
        """The live sessions of the watched meetings (one request per page, at most ``MAX_PAGES``)."""
        filters: dict[str, Any] = {"status": "LIVE"}
        if self.meeting_ids is not None and len(self.meeting_ids) == 1:
            filters["associated_id"] = self.meeting_ids[0]
        found: list[ActiveSession] = []
        pages = 0
        page_no = 1
        while pages < MAX_PAGES:
            page = await hook.list_sessions(page_no=page_no, per_page=PER_PAGE, sort_order="ASC", **filters)
            found.extend(page.sessions)
            pages += 1
            if page.is_last:
                break
            page_no += 1
        else:
            self.log.warning("More than %d live sessions: only the first %d read", len(found), len(found))
        wanted = None if self.meeting_ids is None else set(self.meeting_ids)
        return [
            session
            for session in found
            if session.is_live and (wanted is None or session.associated_id in wanted)
        ]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll for ever; yield one event per new live session."""
        from airflow_provider_rtk.assets import LiveSessionEvent
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook

        reported = await self.load_reported()
        first_poll = True
        failures = 0
        hook = RealtimeKitAsyncHook(realtimekit_conn_id=self.realtimekit_conn_id)
        try:
            while True:
                try:
                    sessions = await self.live_sessions(hook)
                except RealtimeKitAPIError as error:
                    if not error.is_retryable:
                        raise  # 401, 403, 404, a bad answer: watching on will not help
                    failures += 1
                    wait = min(self.poll_interval * 2**failures, MAX_BACKOFF)
                    self.log.warning("Listing live sessions failed (%s); next try in %.0fs", error, wait)
                    await asyncio.sleep(wait)
                    continue
                failures = 0
                live = {session.id for session in sessions}
                if reported is None:  # nothing stored, and no store: decide what counts as seen
                    reported = set() if self.report_sessions_live_at_start else set(live)
                elif first_poll and not self.report_sessions_live_at_start and not reported:
                    reported = set(live)
                first_poll = False
                new = [session for session in sessions if session.id not in reported]
                for session in new:
                    event = LiveSessionEvent.from_session(session)
                    self.log.info(event.message)
                    yield TriggerEvent(event.to_payload())  # type: ignore[no-untyped-call]
                    reported.add(session.id)
                    await self.save_reported(reported & live)
                if reported - live:  # sessions that ended: forget them
                    reported &= live
                    await self.save_reported(reported)
                await asyncio.sleep(self.poll_interval)
        finally:
            await hook.aclose()
