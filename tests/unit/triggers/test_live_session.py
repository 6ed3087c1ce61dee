"""The live-session trigger's arguments, serialization and store key; the hooks' ``GET /sessions`` and
``GET /sessions/{id}`` calls (query checked before any request, pages read, unreadable items skipped)
against a respx-mocked API; and the watch against a hostile server on loopback (pages that overlap
and repeat, a session missing from one listing, items and answers that cannot be read)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx
from airflow.triggers.base import BaseEventTrigger

from airflow_provider_rtk.assets import sessions_from_asset_events
from airflow_provider_rtk.exceptions import RealtimeKitAPIError, RealtimeKitPayloadError
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook, RealtimeKitHook
from airflow_provider_rtk.triggers import live_session
from airflow_provider_rtk.triggers.events import LiveSessionEvent
from airflow_provider_rtk.triggers.live_session import (
    MAX_BACKOFF,
    MAX_READS_PER_POLL,
    MIN_POLL_INTERVAL,
    RealtimeKitLiveSessionTrigger,
)
from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS, AIRFLOW_V_3_4_PLUS
from tests.api_answers import APP_URL, set_conn
from tests.hostile_server import (
    Handler,
    HostileServer,
    Route,
    Seen,
    json_answer,
    query_of,
    raw_answer,
)
from tests.triggerer import Triggerer


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 2})


def _session(index: int, meeting: str = "m-1", status: str = "LIVE") -> dict[str, Any]:
    return {
        "id": f"s-{index}",
        "associated_id": meeting,
        "meeting_display_name": f"meeting {meeting}",
        "status": status,
        "started_at": "2026-12-01T09:00:00.000Z",
    }


def _page(sessions: list[dict[str, Any]], start: int, total: int) -> dict[str, Any]:
    return {
        "success": True,
        "data": {"sessions": sessions},
        "paging": {"start_offset": start, "end_offset": start + len(sessions) - 1, "total_count": total},
    }


def test_is_an_event_trigger_and_serializes_to_primitive_kwargs() -> None:
    trigger = RealtimeKitLiveSessionTrigger(meeting_ids=["b", "a", "b"], poll_interval="5")

    classpath, kwargs = trigger.serialize()

    assert isinstance(trigger, BaseEventTrigger)
    assert classpath == "airflow_provider_rtk.triggers.live_session.RealtimeKitLiveSessionTrigger"
    assert kwargs == {
        "meeting_ids": ["a", "b"],
        "realtimekit_conn_id": "realtimekit_default",
        "poll_interval": 5.0,
        "report_sessions_live_at_start": True,
    }
    json.dumps(kwargs)
    rebuilt = RealtimeKitLiveSessionTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*rebuilt.serialize())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"poll_interval": 0.5}, "poll_interval"),
        ({"poll_interval": "soon"}, "poll_interval"),
        ({"meeting_ids": []}, "meeting_ids"),
        ({"meeting_ids": ["ok", "../x"]}, "meeting_ids[1]"),
        ({"meeting_ids": 7}, "meeting_ids"),
        ({"report_sessions_live_at_start": "yes"}, "report_sessions_live_at_start"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        RealtimeKitLiveSessionTrigger(**kwargs)
    assert field in error.value.paths


@pytest.mark.parametrize("queue", ["", "  ", 7])
def test_a_queue_that_is_not_a_name_is_refused(queue: Any) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        RealtimeKitLiveSessionTrigger(queue=queue)
    assert error.value.paths == ["queue"]


def test_the_queue_goes_where_airflow_registers_the_watcher() -> None:
    """Airflow 3.4+: the queue is the core's (read when the watcher is registered), not one of the
    kwargs, so a watch keeps its hash with or without one. Below 3.4 a queue is refused, not ignored."""
    if not AIRFLOW_V_3_4_PLUS:
        with pytest.raises(RealtimeKitPayloadError, match=r"queue: needs Airflow 3\.4") as error:
            RealtimeKitLiveSessionTrigger(queue="recordings")
        assert error.value.paths == ["queue"]
        assert RealtimeKitLiveSessionTrigger(queue=None).serialize()  # no queue: as before
        return
    from airflow.serialization.encoders import encode_trigger

    trigger = RealtimeKitLiveSessionTrigger(meeting_ids=["m-1"], queue="recordings")
    assert trigger.queue == "recordings"
    assert encode_trigger(trigger)["queue"] == "recordings"
    assert "queue" not in encode_trigger(RealtimeKitLiveSessionTrigger(meeting_ids=["m-1"]))
    assert trigger.serialize() == RealtimeKitLiveSessionTrigger(meeting_ids=["m-1"]).serialize()


def test_the_minimum_interval_is_the_request_budget() -> None:
    assert RealtimeKitLiveSessionTrigger(poll_interval=MIN_POLL_INTERVAL).poll_interval == MIN_POLL_INTERVAL


def test_each_watch_has_its_own_store_key() -> None:
    every = RealtimeKitLiveSessionTrigger()
    some = RealtimeKitLiveSessionTrigger(meeting_ids=["m-1"])
    other_conn = RealtimeKitLiveSessionTrigger(realtimekit_conn_id="other")

    keys = {every.state_key, some.state_key, other_conn.state_key}

    assert len(keys) == 3
    assert RealtimeKitLiveSessionTrigger(poll_interval=60).state_key == every.state_key  # not the interval


def test_sessions_from_asset_events_reads_payloads_and_skips_others() -> None:
    class Event:
        def __init__(self, extra: Any) -> None:
            self.extra = extra

    payload = LiveSessionEvent(status="success", meeting_id="m", session_id="s").to_payload()

    found = sessions_from_asset_events({"asset": [Event({"payload": payload}), Event(None), Event({"x": 1})]})

    assert [(e.meeting_id, e.session_id) for e in found] == [("m", "s")]


def test_live_session_event_sits_with_the_other_events_and_its_old_path_works() -> None:
    from airflow_provider_rtk import assets

    assert assets.LiveSessionEvent is LiveSessionEvent
    assert "LiveSessionEvent" in assets.__all__


# --------------------------------------------------------------------------------------------------
# GET /sessions on the hooks


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"status": "ACTIVE"}, "status"),
        ({"per_page": 0}, "per_page"),
        ({"page_no": True}, "page_no"),
        ({"sort_by": "title"}, "sort_by"),
        ({"associated_id": "a/b"}, "associated_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_list_sessions_checks_the_query_before_any_request(filters: dict[str, Any], field: str) -> None:
    with respx.mock() as mock, RealtimeKitHook() as hook, pytest.raises(RealtimeKitPayloadError) as error:
        hook.list_sessions(**filters)
    assert field in error.value.paths
    assert not mock.calls


def test_iter_sessions_reads_every_page_oldest_first() -> None:
    with respx.mock(base_url=APP_URL) as mock, RealtimeKitHook() as hook:
        route = mock.get("/sessions").mock(
            side_effect=[
                httpx.Response(200, json=_page([_session(1), _session(2)], 1, 3)),
                httpx.Response(200, json=_page([_session(3)], 3, 3)),
            ]
        )
        sessions = list(hook.iter_sessions(per_page=2, status="live"))

    assert [s.id for s in sessions] == ["s-1", "s-2", "s-3"]
    queries = [dict(call.request.url.params) for call in route.calls]
    assert queries == [
        {"status": "LIVE", "sort_order": "ASC", "page_no": "1", "per_page": "2"},
        {"status": "LIVE", "sort_order": "ASC", "page_no": "2", "per_page": "2"},
    ]


def test_async_iter_sessions_and_a_wrongly_shaped_answer() -> None:
    async def scenario() -> list[str]:
        async with RealtimeKitAsyncHook() as hook:
            return [s.id async for s in hook.iter_sessions(associated_id="m-1")]

    with respx.mock(base_url=APP_URL) as mock:
        route = mock.get("/sessions").respond(200, json=_page([_session(1)], 1, 1))
        assert asyncio.run(scenario()) == ["s-1"]
        assert route.calls[0].request.url.params["associated_id"] == "m-1"

        route.respond(200, json={"success": True, "data": {"sessions": "nope"}, "paging": {}})
        with pytest.raises(RealtimeKitAPIError, match="unexpected shape"):
            asyncio.run(scenario())


def test_a_page_keeps_what_it_can_read_and_says_what_it_skipped() -> None:
    junk = [{"id": 5, "status": "LIVE"}, "junk", {"status": "LIVE"}]
    with respx.mock(base_url=APP_URL) as mock, RealtimeKitHook() as hook:
        mock.get("/sessions").respond(200, json=_page([_session(1), *junk], 1, 9))
        page = hook.list_sessions(per_page=4)

    assert [s.id for s in page.sessions] == ["s-1"]
    assert [problem.split(":")[0] for problem in page.skipped] == ["item 1", "item 2", "item 3"]
    assert not page.is_last  # unreadable items still count as items: the listing goes on


def test_get_session_reads_one_session_and_checks_its_id_first() -> None:
    async def read(session_id: str) -> str | None:
        async with RealtimeKitAsyncHook() as hook:
            return (await hook.get_session(session_id)).status

    with respx.mock(base_url=APP_URL) as mock:
        route = mock.get("/sessions/s-1").respond(
            200, json={"success": True, "data": _session(1, status="ENDED")}
        )
        assert asyncio.run(read("s-1")) == "ENDED"
        with RealtimeKitHook() as hook:
            assert hook.get_session("s-1").is_ended
        with pytest.raises(RealtimeKitPayloadError, match="session_id"):
            asyncio.run(read("../recordings"))
    assert route.call_count == 2


def test_the_trigger_fails_on_an_answer_no_retry_can_fix() -> None:
    """401: the token is wrong; watching on would only hammer the API."""

    async def scenario() -> None:
        async for _ in RealtimeKitLiveSessionTrigger(poll_interval=MIN_POLL_INTERVAL).run():
            raise AssertionError("no event expected")

    with respx.mock(base_url=APP_URL) as mock:
        mock.get("/sessions").respond(
            401, json={"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}
        )
        with pytest.raises(RealtimeKitAPIError, match="401"):
            asyncio.run(asyncio.wait_for(scenario(), 10))


# --------------------------------------------------------------------------------------------------
# Against a hostile server: pages that repeat and overlap, a session missing from one listing, items
# and answers that cannot be read. The trigger runs as Airflow's triggerer runs it.

#: The watches' poll interval here: below the product's floor (``MIN_POLL_INTERVAL``, 2 s, a real
#: watch's request budget), so a test's few polls and backoffs take seconds, not tens of them.
POLL = 0.5
Pages = list["list[Any] | Route"]


@pytest.fixture
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor lowered to ``POLL`` (the triggerer builds the watch anew from its arguments, which
    checks them again)."""
    monkeypatch.setattr(live_session, "MIN_POLL_INTERVAL", POLL)


class Listing:
    """``GET /sessions``, poll after poll (a poll begins at page 1; the last poll repeats). A poll is
    its pages: sessions, or a behaviour of its own; the paging says more follow until the last. A
    listing of ended sessions (``status=ENDED``) gets ``ended`` as its one page."""

    def __init__(self, *polls: Pages, ended: list[Any] | None = None) -> None:
        self.polls = polls
        self.ended = ended or []
        self.pages_asked: list[int] = []
        self.ended_asked: list[dict[str, str]] = []

    @property
    def begun(self) -> int:
        """How many polls began."""
        return self.pages_asked.count(1)

    def __call__(self, handler: Handler, seen: Seen) -> None:
        query = query_of(handler)
        if query.get("status") == "ENDED":
            self.ended_asked.append(query)
            json_answer(200, _page(self.ended, 1, len(self.ended)))(handler, seen)
            return
        page_no = int(query["page_no"])
        self.pages_asked.append(page_no)
        pages = self.polls[min(self.begun, len(self.polls)) - 1]
        page = pages[page_no - 1] if page_no <= len(pages) else []
        if callable(page):
            page(handler, seen)
            return
        json_answer(200, _page(page, page_no, len(pages)))(handler, seen)


async def _run_until(route: Listing, polls: int) -> list[str]:
    """Run a watch of every meeting until ``polls`` polls began; the session ids it fired."""
    watch = Triggerer(RealtimeKitLiveSessionTrigger(poll_interval=POLL))
    try:
        await watch.until(lambda: route.begun >= polls, seconds=60)
    finally:
        await watch.stop()
    return [event["session_id"] for event in watch.drained()]


def _watch(hostile: HostileServer, *polls: Pages, until_polls: int) -> list[str]:
    """Serve ``polls`` and run a watch until ``until_polls`` polls began; the session ids it fired."""
    route = Listing(*polls)
    hostile.route("GET", "/sessions", route)
    return asyncio.run(_run_until(route, until_polls))


def _reads(hostile: HostileServer) -> list[str]:
    """The session ids read one by one (``GET /sessions/{id}``), in order."""
    prefix = hostile.app_path("/sessions/")
    return [seen.path.removeprefix(prefix) for seen in hostile.seen if seen.path.startswith(prefix)]


def test_the_watch_runs_as_a_shared_stream_in_ack_mode_from_airflow_3_3() -> None:
    """Airflow 3.3's triggerer then tells the watch which events it saved (see the restart tests);
    below 3.3 it runs ``run()``."""
    trigger = RealtimeKitLiveSessionTrigger()
    key = trigger.shared_stream_key()

    assert (key is not None) is AIRFLOW_V_3_3_PLUS
    if key is not None:  # one stream per watch
        assert key == RealtimeKitLiveSessionTrigger().shared_stream_key()
        assert key != RealtimeKitLiveSessionTrigger(poll_interval=60).shared_stream_key()


def test_pages_that_overlap_and_repeat_fire_each_session_once(
    hostile: HostileServer, short_polls: None
) -> None:
    ended = _session(9, status="ENDED")  # a server that ignores the filter shows an ended one too
    again = [_session(2), _session(3), ended]
    pages: Pages = [[_session(1), _session(2)], [_session(2), _session(3), ended], again]

    fired = _watch(hostile, pages, until_polls=3)

    assert sorted(fired) == ["s-1", "s-2", "s-3"]


def test_a_title_cut_mid_emoji_fires_its_session_with_a_title_every_database_stores(
    hostile: HostileServer, short_polls: None
) -> None:
    """A client that cut a title mid-emoji makes the API answer a lone surrogate (``"\\ud83d"``):
    valid JSON, no character, and no UTF-8. The session still fires, its title storable."""
    cut = {**_session(1), "meeting_display_name": "stand-up \U0001f600\ud83d"}
    route = Listing([[cut]])
    hostile.route("GET", "/sessions", route)

    async def watch() -> list[dict[str, Any]]:
        running = Triggerer(RealtimeKitLiveSessionTrigger(poll_interval=POLL))
        try:
            await running.until(lambda: route.begun >= 2, seconds=60)
        finally:
            await running.stop()
        return list(running.drained())

    (event,) = asyncio.run(watch())

    assert (event["session_id"], event["title"]) == ("s-1", "stand-up \U0001f600\ufffd")
    json.dumps(event, ensure_ascii=False).encode()  # UTF-8, as a JSON column stores it


def test_a_page_that_repeats_earlier_ones_ends_the_listing(hostile: HostileServer, short_polls: None) -> None:
    """A server that ignores ``page_no`` (and says more pages follow) costs one page more, not 20."""
    route = Listing([[_session(1)], [_session(1)], [_session(1)], [_session(2)]])
    hostile.route("GET", "/sessions", route)

    asyncio.run(_run_until(route, polls=2))

    assert route.pages_asked[:3] == [1, 2, 1]


def test_a_reported_session_missing_from_one_listing_is_read_not_fired_again(
    hostile: HostileServer, short_polls: None
) -> None:
    """Offset paging shifts when a session ends between two page reads: s-1 is missing from the
    second listing, though it is live. A read of it says so; it fires no second time."""
    hostile.route("GET", "/sessions/s-1", json_answer(200, {"success": True, "data": _session(1)}))

    fired = _watch(
        hostile, [[_session(1), _session(2)]], [[_session(2)]], [[_session(1), _session(2)]], until_polls=4
    )

    assert sorted(fired) == ["s-1", "s-2"]
    assert hostile.calls("GET", "/sessions/s-1") >= 1


def test_an_unreadable_item_is_skipped_and_logged_without_its_content(
    hostile: HostileServer,
    short_polls: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "SECRET-in-an-item-0a9f"
    bad = [
        {"id": 7, "status": "LIVE", "note": secret},
        f"junk {secret}",
        {"status": "LIVE", "note": secret},
        {**_session(3), "id": "../s-3"},  # no id that can be read back
    ]

    fired = _watch(hostile, [[_session(1), *bad, _session(2)]], until_polls=2)

    assert sorted(fired) == ["s-1", "s-2"]
    logged = caplog.text + "".join(capsys.readouterr())
    assert logged.count("could not be read") >= 3
    assert "whose id is not a valid id" in logged
    assert "item 1: id" in logged
    assert secret not in logged


def test_a_session_with_no_valid_meeting_id_is_skipped_and_the_listing_reads_on(
    hostile: HostileServer,
    short_polls: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another client's odd record: no run could record it, and an event holding it (a lone surrogate)
    no database might store. Pages of only such sessions are no repeat: the listing reads on."""
    no_meeting = {**_session(1), "associated_id": None}
    odd_meeting = {**_session(2), "associated_id": "../m \ud83d"}

    fired = _watch(hostile, [[no_meeting], [odd_meeting], [_session(3)]], until_polls=2)

    assert fired == ["s-3"]
    logged = caplog.text + "".join(capsys.readouterr())
    assert "Skipped session s-1 of page 1: its meeting id is missing or not a valid id" in logged
    assert "Skipped session s-2 of page 2: its meeting id is missing or not a valid id" in logged


def test_a_200_that_is_not_json_backs_off_and_the_watch_goes_on(
    hostile: HostileServer,
    short_polls: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    maintenance = raw_answer(200, b"<html>down for maintenance</html>", "text/html")

    fired = _watch(hostile, [maintenance], [[_session(1)]], until_polls=3)

    assert fired == ["s-1"]
    logged = caplog.text + "".join(capsys.readouterr())
    assert f"next try in {2 * POLL:.0f}s" in logged  # the wait doubles from poll_interval


def test_an_unreadable_second_page_fires_the_first_and_backs_off(
    hostile: HostileServer, short_polls: None
) -> None:
    broken = raw_answer(200, b"not json", "text/plain")

    fired = _watch(hostile, [[_session(1)], broken], [[_session(1)], [_session(2)]], until_polls=3)

    assert sorted(fired) == ["s-1", "s-2"]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_what_no_wait_heals_ends_the_watch_and_says_why(
    hostile: HostileServer,
    short_polls: None,
    status: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refusal = json_answer(status, {"success": False, "error": {"code": status, "message": "no"}})
    route = Listing([refusal])
    hostile.route("GET", "/sessions", route)

    with pytest.raises(RealtimeKitAPIError, match=str(status)):
        asyncio.run(_run_until(route, polls=99))
    assert route.pages_asked == [1]
    assert "the watch ends" in caplog.text + "".join(capsys.readouterr())


def test_missing_sessions_are_read_in_turn_when_reads_keep_failing(
    hostile: HostileServer, short_polls: None
) -> None:
    """More remembered sessions are missing than one poll reads, and every read fails (a 5xx): the
    next poll reads the others, not the same ones again, so each is read within a few polls."""
    hostile.fallback = json_answer(500, {"success": False, "errors": [{"code": 500, "message": "down"}]})
    sessions = [_session(index) for index in range(1, MAX_READS_PER_POLL + 3)]

    fired = _watch(hostile, [sessions], [[]], until_polls=4)

    assert len(fired) == len(sessions)
    reads = _reads(hostile)
    assert set(reads) == {session["id"] for session in sessions}  # each one, not the same ten again
    assert len(reads) >= 2 * MAX_READS_PER_POLL  # two polls of reads, ten each


def test_sessions_on_the_newest_page_of_ended_ones_are_forgotten_at_once(
    hostile: HostileServer, short_polls: None
) -> None:
    """Live sessions end: the listing of live ones misses them, and one page of ended sessions
    (newest first) forgets them all, without a read of each."""
    hostile.fallback = json_answer(500, {"success": False, "errors": [{"code": 500, "message": "down"}]})
    sessions = [_session(index) for index in range(1, 16)]
    ended = [{**session, "status": "ENDED"} for session in sessions]
    route = Listing([sessions], [[]], ended=ended)
    hostile.route("GET", "/sessions", route)

    fired = asyncio.run(_run_until(route, polls=4))

    assert len(fired) == len(sessions)
    assert _reads(hostile) == []
    assert len(route.ended_asked) == 1  # then nothing is missing: no more pages of ended ones
    assert route.ended_asked[0]["sort_order"] == "DESC"
    assert route.ended_asked[0]["per_page"] == "100"


class LiveApp:
    """``GET /sessions`` of an app whose live sessions are ``live`` (oldest first), paged as the API
    pages (``page_no``, ``per_page``, ``sort_order``: newest first unless ``ASC``); a read of one by
    id (the server's fallback) finds it live."""

    def __init__(self, live: list[dict[str, Any]]) -> None:
        self.live = live
        self.polls = 0

    def __call__(self, handler: Handler, seen: Seen) -> None:
        query = query_of(handler)
        if query.get("status") == "ENDED":
            json_answer(200, _page([], 1, 0))(handler, seen)
            return
        page_no, per_page = int(query["page_no"]), int(query["per_page"])
        self.polls += page_no == 1
        ordered = self.live if query.get("sort_order") == "ASC" else self.live[::-1]
        start = (page_no - 1) * per_page
        json_answer(200, _page(ordered[start : start + per_page], start + 1, len(ordered)))(handler, seen)

    def read(self, handler: Handler, seen: Seen) -> None:
        session_id = seen.path.rsplit("/", 1)[-1]
        found = [session for session in self.live if session["id"] == session_id]
        json_answer(200, {"success": True, "data": found[0]})(handler, seen)


def test_a_new_session_fires_however_many_are_live(
    hostile: HostileServer,
    short_polls: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """More sessions are live than the pages a poll reads: the one that just started is on the first
    page (newest first), and the log says how many were listed and how many read."""
    monkeypatch.setattr(live_session, "MAX_PAGES", 2)  # 200 sessions, not 2,000
    app = LiveApp([_session(index) for index in range(1, 201)])
    hostile.route("GET", "/sessions", app)
    hostile.fallback = app.read

    async def scenario() -> list[str]:
        watch = Triggerer(RealtimeKitLiveSessionTrigger(poll_interval=POLL))
        try:
            await watch.until(lambda: app.polls >= 2, seconds=60)
            app.live.append(_session(201))  # a meeting goes live with 200 others live
            await watch.until(lambda: app.polls >= 4, seconds=60)
        finally:
            await watch.stop()
        return [event["session_id"] for event in watch.drained()]

    fired = asyncio.run(scenario())

    assert sorted(fired) == sorted(session["id"] for session in app.live)
    logged = caplog.text + "".join(capsys.readouterr())
    assert "The app lists 201 live sessions; only the 200 newest were read" in logged


def test_a_long_outage_caps_the_wait_instead_of_overflowing(
    short_polls: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """After thousands of failed polls in a row the wait is still ``MAX_BACKOFF``
    (``2 ** failures`` alone overflows a float after about 1,020)."""
    watch = live_session._Watch(RealtimeKitLiveSessionTrigger(poll_interval=POLL), None)
    error = RealtimeKitAPIError("down", status_code=503)

    with pytest.raises(TimeoutError):  # it waits (ten minutes): the test does not
        asyncio.run(asyncio.wait_for(watch._back_off(5000, error), 0.1))

    logged = caplog.text + "".join(capsys.readouterr())
    assert f"next try in {MAX_BACKOFF:.0f}s" in logged


# --------------------------------------------------------------------------------------------------
# push_only: the watch only declares the asset the webhook receiver feeds


def test_a_push_only_watch_makes_no_request_and_fires_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)
    trigger = RealtimeKitLiveSessionTrigger(push_only=True)

    async def watch_a_while() -> list[Any]:
        fired: list[Any] = []

        async def collect() -> None:
            async for event in trigger.run():
                fired.append(event)

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(collect(), timeout=0.5)
        return fired

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as api:
        fired = asyncio.run(watch_a_while())

    assert fired == []
    assert api.calls.call_count == 0


def test_push_only_is_serialized_only_when_set() -> None:
    polling = RealtimeKitLiveSessionTrigger().serialize()[1]
    pushed = RealtimeKitLiveSessionTrigger(push_only=True).serialize()[1]

    assert "push_only" not in polling
    assert pushed["push_only"] is True
    assert RealtimeKitLiveSessionTrigger(**pushed).push_only is True
    with pytest.raises(RealtimeKitPayloadError, match="push_only"):
        RealtimeKitLiveSessionTrigger(push_only="yes")  # type: ignore[arg-type]
