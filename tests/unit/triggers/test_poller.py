"""The shared poller: many recording triggers of one connection, few requests, one budget."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.triggers import poller as poller_module
from airflow_provider_rtk.triggers.poller import WAKE_AT_ONCE, RecordingPoller, RequestBudget
from tests.api_answers import APP_URL, set_conn


@pytest.fixture(autouse=True)
def _connection(monkeypatch):
    set_conn(
        monkeypatch,
        password="TOKEN-poller-1",
        extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 2},
    )


@pytest.fixture
def api():
    with respx.mock(base_url=APP_URL, assert_all_called=False) as mock:
        yield mock


def page(recordings: list[dict[str, Any]], total: int | None = None, start: int = 0) -> httpx.Response:
    paging = {
        "total_count": total or len(recordings),
        "start_offset": start,
        "end_offset": start + len(recordings),
    }
    return httpx.Response(200, json={"success": True, "data": recordings, "paging": paging})


def rec(n: int, status: str = "RECORDING") -> dict[str, Any]:
    return {"id": f"R{n}", "status": status, "meeting_id": f"M{n}"}


def test_many_waiters_are_answered_by_one_list_request(api):
    listing = api.get("/recordings").mock(return_value=page([rec(n) for n in range(50)]))
    single = api.get(url__regex=r".*/recordings/R\d+$").mock(return_value=httpx.Response(500))

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        return await asyncio.gather(*(poller.read(f"R{n}") for n in range(50))), poller.requests

    recordings, requests = asyncio.run(go())
    assert [r.id for r in recordings] == [f"R{n}" for n in range(50)]
    assert listing.call_count == 1
    assert requests == 1
    assert single.call_count == 0
    assert "status=INVOKED%2CRECORDING%2CPAUSED%2CUPLOADING" in str(listing.calls.last.request.url)


def test_pages_are_read_until_every_waiter_is_seen_and_finished_ones_are_read_alone(api):
    first = [rec(n) for n in range(100)]
    second = [rec(n) for n in range(100, 150)]
    api.get("/recordings", params={"page_no": "1"}).mock(return_value=page(first, total=150))
    api.get("/recordings", params={"page_no": "2"}).mock(return_value=page(second, total=150, start=100))
    done = api.get("/recordings/R999").mock(
        return_value=httpx.Response(200, json={"success": True, "data": rec(999, "UPLOADED")})
    )

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        found = await asyncio.gather(poller.read("R3"), poller.read("R140"), poller.read("R999"))
        return [r.status.value for r in found], poller.requests

    statuses, requests = asyncio.run(go())
    assert statuses == ["RECORDING", "RECORDING", "UPLOADED"]
    assert requests == 3
    assert done.call_count == 1


def test_the_budget_spaces_requests_out(monkeypatch):
    """On the budget's own clock, moved by its sleeps alone: the spacing is exact however busy the
    machine is (a bound on the real clock fails when the machine stalls long enough). A rate of 16
    keeps the clock's figures exact in binary."""
    now = [0.0]
    monkeypatch.setattr(poller_module, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await real_sleep(0)

    monkeypatch.setattr(poller_module.asyncio, "sleep", sleep)

    async def go():
        budget = RequestBudget(rate=16)
        for _ in range(30):
            await budget.spend()
        return now[0]

    # one second's worth at once, then one every 1/16 s
    assert asyncio.run(asyncio.wait_for(go(), 5)) == 14 / 16


def test_a_failing_api_fails_no_waiter(api, fast_backoff):
    """503s (the hook's connection allows 2 attempts) are the poller's to wait out: both waiters are
    answered once the API is back, and nothing failed."""
    down = httpx.Response(503, json={"message": "down"})
    listing = api.get("/recordings").mock(side_effect=[down] * 5 + [page([rec(1), rec(2)])])

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        found = await asyncio.gather(poller.read("R1"), poller.read("R2"))
        return [r.id for r in found], poller.outage

    assert asyncio.run(asyncio.wait_for(go(), 20)) == (["R1", "R2"], None)
    assert listing.call_count == 6


def test_a_watch_of_an_id_the_hook_refuses_fails_only_that_watch(api):
    """An id the service may return but no request can carry (``rec.1``) fails its own watch when it
    is read alone; another trigger's watch goes on and gets its news."""
    readings = iter([page([rec(1)])] * 3)
    api.get("/recordings").mock(side_effect=lambda request: next(readings, page([rec(1, "UPLOADED")])))

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        healthy = poller.watch("R1", unlike=RecordingStatus.RECORDING, interval=0.1)
        odd = poller.read("rec.1")
        odd_outcome = await asyncio.gather(odd, return_exceptions=True)
        return odd_outcome[0], (await healthy).status

    odd_error, healthy_status = asyncio.run(asyncio.wait_for(go(), 20))
    assert "rec.1" in str(odd_error)
    assert healthy_status is RecordingStatus.UPLOADED


def test_a_429_slows_the_shared_poller_once_for_everyone(api):
    api.get("/recordings").mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "1"},
                json={"success": False, "errors": [{"code": 971, "message": "slow down"}]},
            ),
            page([rec(1), rec(2)]),
        ]
    )

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        began = time.monotonic()
        await asyncio.gather(poller.read("R1"), poller.read("R2"))
        return time.monotonic() - began, poller.requests, poller.budget.rate

    waited, requests, rate = asyncio.run(asyncio.wait_for(go(), 20))
    assert 1.0 <= waited < 10.0
    assert requests == 2  # the poller's own retry, after the Retry-After, for everyone at once
    assert 50 <= rate < 100  # halved, and climbing back (additively) since


def test_each_loop_has_its_own_poller_per_connection():
    async def pollers():
        return RecordingPoller.shared("a"), RecordingPoller.shared("a"), RecordingPoller.shared("b")

    a1, a2, b = asyncio.run(pollers())
    (a3, _, _) = asyncio.run(pollers())
    assert a1 is a2
    assert a1 is not b
    assert a3 is not a1


def test_many_finishing_at_once_are_read_from_the_finished_list_not_one_by_one(api):
    """150 recordings end together: the next sweep finds them in the newest-first list of finished
    recordings (2 pages), instead of 150 single reads that the budget would spread over 15 s."""
    invoked = "2026-12-01T10:00:00Z"
    running = [{**rec(n), "invoked_time": invoked} for n in range(150)]
    done = [{**rec(n, "UPLOADED"), "invoked_time": invoked} for n in range(150)]
    unfinished = api.get("/recordings", params={"status": "INVOKED,RECORDING,PAUSED,UPLOADING"}).mock(
        side_effect=[page(running[:100], total=150), page(running[100:], total=150, start=100), page([])]
    )
    api.get("/recordings", params={"status": "UPLOADED,ERRORED", "page_no": "1"}).mock(
        return_value=page(done[:100], total=150)
    )
    api.get("/recordings", params={"status": "UPLOADED,ERRORED", "page_no": "2"}).mock(
        return_value=page(done[100:], total=150, start=100)
    )
    single = api.get(url__regex=r".*/recordings/R\d+$").mock(return_value=httpx.Response(500))

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=1000)
        ids = [f"R{n}" for n in range(150)]
        first = await asyncio.gather(*(poller.read(i) for i in ids))
        before = poller.requests
        second = await asyncio.gather(*(poller.read(i) for i in ids))
        return first, second, poller.requests - before

    first, second, requests = asyncio.run(go())
    assert {r.status.value for r in first} == {"RECORDING"}
    assert {r.status.value for r in second} == {"UPLOADED"}
    assert requests == 3  # the (now empty) unfinished list, then two pages of finished ones
    assert unfinished.call_count == 3
    assert single.call_count == 0


def test_each_pages_waiters_are_answered_as_it_arrives(api):
    """5,000 triggers are not woken in one go at a sweep's end: page 1's waiters have their answer
    while page 2 is still being read."""
    release = asyncio.Event()

    async def slow_second_page(request):
        await release.wait()
        return page([rec(n) for n in range(100, 150)], total=150, start=100)

    api.get("/recordings", params={"page_no": "1"}).mock(
        return_value=page([rec(n) for n in range(100)], total=150)
    )
    api.get("/recordings", params={"page_no": "2"}).mock(side_effect=slow_second_page)

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        early = asyncio.ensure_future(poller.read("R3"))
        late = asyncio.ensure_future(poller.read("R140"))
        for _ in range(200):
            if early.done():
                break
            await asyncio.sleep(0.005)
        answered_early, late_pending = early.done(), not late.done()
        release.set()
        return answered_early, late_pending, (await early).id, (await late).id

    assert asyncio.run(go()) == (True, True, "R3", "R140")


def test_a_reading_from_an_earlier_sweep_is_not_handed_out_again(api):
    """A trigger asking again gets a reading taken after it asked (or by the sweep under way), never
    an older one, not even one a sweep took for other triggers while this one slept."""
    listing = api.get("/recordings").mock(
        side_effect=[
            page([rec(1), rec(2)]),  # sweep 1: both asked
            page([rec(1, "UPLOADING"), rec(2, "UPLOADING")]),  # sweep 2: only R1 asked; R2 sleeps
            page([rec(1, "UPLOADED"), rec(2, "UPLOADED")]),  # sweep 3: R2 asks again
        ]
    )

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        await asyncio.gather(poller.read("R1"), poller.read("R2"))
        await asyncio.sleep(0.01)
        await poller.read("R1")
        await asyncio.sleep(0.01)  # sweep 2 is over: its reading of R2 is older than R2's next ask
        return (await poller.read("R2")).status.value

    assert asyncio.run(go()) == "UPLOADED"
    assert listing.call_count == 3


def test_a_watch_sleeps_through_readings_of_the_status_it_knows(api):
    """A trigger watching a RECORDING recording is woken once, by the reading that shows it changed,
    though every sweep reads it."""
    listing = api.get("/recordings").mock(
        side_effect=[page([rec(1)]), page([rec(1)]), page([rec(1)]), page([rec(1, "UPLOADING")])]
    )

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=1000)
        woken = []
        watching = poller.watch("R1", unlike=RecordingStatus.RECORDING, interval=0.01)
        watching.add_done_callback(lambda future: woken.append(future.result().status.value))
        await watching
        return woken

    assert asyncio.run(go()) == ["UPLOADING"]
    assert listing.call_count == 4


def test_a_status_that_changed_while_nobody_watched_is_read_again_at_once(api):
    """One trigger saw R1 become UPLOADED; another, still knowing it as RECORDING, begins watching
    with a long interval: it is not made to wait that interval for a change the poller knows of."""
    listing = api.get("/recordings").mock(
        side_effect=[page([rec(1)]), page([rec(1, "UPLOADED")]), page([rec(1, "UPLOADED")])]
    )

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=1000)
        await poller.read("R1")
        await poller.read("R1")
        began = time.monotonic()
        found = await poller.watch("R1", unlike=RecordingStatus.RECORDING, interval=60)
        return found.status.value, time.monotonic() - began

    status, waited = asyncio.run(go())
    assert status == "UPLOADED"
    assert waited < 30  # not the 60 s interval (generous: a busy machine)
    assert listing.call_count == 3


def test_a_page_wakes_its_watches_a_few_at_a_time(api):
    """100 recordings finish on one page: their triggers are woken at most WAKE_AT_ONCE per turn of
    the event loop (each then builds its event), not all 100 in one turn."""
    api.get("/recordings").mock(return_value=page([rec(n, "UPLOADED") for n in range(100)]))

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=1000)
        turn = 0
        woken_in_turn: list[int] = []

        async def ticker():
            nonlocal turn
            while True:
                turn += 1
                await asyncio.sleep(0)

        async def wait(n: int) -> None:
            await poller.watch(f"R{n}", unlike=RecordingStatus.RECORDING, interval=0.01)
            woken_in_turn.append(turn)

        ticking = asyncio.ensure_future(ticker())
        await asyncio.gather(*(wait(n) for n in range(100)))
        ticking.cancel()
        return woken_in_turn

    woken_in_turn = asyncio.run(go())
    per_turn = {t: woken_in_turn.count(t) for t in set(woken_in_turn)}
    assert len(woken_in_turn) == 100
    assert max(per_turn.values()) <= WAKE_AT_ONCE
    assert len(per_turn) >= 100 // WAKE_AT_ONCE


def test_a_cancelled_watch_is_forgotten(api):
    listing = api.get("/recordings").mock(return_value=page([rec(1)]))

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=1000)
        await poller.read("R1")
        watching = poller.watch("R1", unlike=RecordingStatus.RECORDING, interval=0.01)
        await asyncio.sleep(0.05)
        watching.cancel()
        await asyncio.sleep(0.05)
        calls = listing.call_count
        await asyncio.sleep(0.1)
        return calls, listing.call_count, dict(poller._watches)

    before, after, watches = asyncio.run(go())
    assert before >= 2  # it was read while watched
    assert after == before  # and no more once nobody watches it
    assert watches == {}


def test_a_watch_begun_as_the_idle_poller_times_out_is_still_answered(api, monkeypatch):
    """The idle wait times out in the same turn of the loop as a new watch begins: the poller
    carries on for it (it used to exit, leaving the watch unanswered and the next poller broken)."""
    monkeypatch.setattr(poller_module, "IDLE_SECONDS", 0.1)
    api.get("/recordings").mock(return_value=page([rec(1), rec(2)]))

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=1000)
        await poller.read("R1")  # the poller now waits IDLE_SECONDS for a new watch
        watches = []
        asyncio.get_running_loop().call_later(
            0.15, lambda: watches.append(poller.watch("R1", unlike=None, interval=1))
        )
        time.sleep(0.3)  # a busy loop: the idle timeout and the new watch fall in one turn
        while not watches:
            await asyncio.sleep(0)
        done, _ = await asyncio.wait([watches[0]], timeout=1)
        answered_first = bool(done)
        later = poller.watch("R2", unlike=None, interval=1)
        done, _ = await asyncio.wait([watches[0], later], timeout=1)
        return answered_first, len(done), poller._task.done()

    assert asyncio.run(go()) == (True, 2, False)


def test_the_poller_logs_in_its_own_context_not_its_first_triggers(api):
    """What the shared poller logs (retries, 429s) is about every trigger of the connection: it runs
    in a context of its own, not in that of the trigger that happened to start it (the triggerer
    sends a line to the task log of the trigger whose context wrote it)."""
    import contextvars

    asked_by: contextvars.ContextVar[str] = contextvars.ContextVar("asked_by", default="nobody")
    seen_by_the_poller = []

    def listing(request):
        seen_by_the_poller.append(asked_by.get())
        return page([rec(1)])

    api.get("/recordings").mock(side_effect=listing)

    async def go():
        asked_by.set("trigger 1")
        await RecordingPoller("realtimekit_default", requests_per_second=1000).read("R1")

    asyncio.run(go())
    assert seen_by_the_poller == ["nobody"]


def test_a_few_recordings_among_many_listed_are_read_alone(api):
    """The app has 300 unfinished recordings (three pages) and this triggerer follows two of the
    oldest: once a listing has cost three requests, the next sweep reads the two alone (two)."""
    everyone = [rec(n) for n in range(300)]
    for number in (1, 2, 3):
        api.get("/recordings", params={"page_no": str(number)}).mock(
            return_value=page(
                everyone[(number - 1) * 100 : number * 100], total=300, start=(number - 1) * 100
            )
        )
    alone = api.get(url__regex=r".*/recordings/R2[58]0$").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"success": True, "data": rec(int(request.url.path.rsplit("R", 1)[1]), "UPLOADED")}
        )
    )

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=1000)
        first = await asyncio.gather(poller.read("R250"), poller.read("R280"))
        listed = poller.requests
        second = await asyncio.gather(
            poller.watch("R250", unlike=RecordingStatus.RECORDING, interval=0.01),
            poller.watch("R280", unlike=RecordingStatus.RECORDING, interval=0.01),
        )
        return [r.status.value for r in first + second], listed, poller.requests - listed

    statuses, listed, afterwards = asyncio.run(asyncio.wait_for(go(), 10))
    assert statuses == ["RECORDING", "RECORDING", "UPLOADED", "UPLOADED"]
    assert listed == 3
    assert afterwards == 2
    assert alone.call_count == 2


# --------------------------------------------------------------------------------------------------
# Rate limits the service announces, and the budget's AIMD


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"RateLimit": '"default";r=50;t=30'}, (50, 30, None, None)),
        (
            {"RateLimit": '"a";r=9;t=5, "b";r=2;t=40', "RateLimit-Policy": '"burst";q=100;w=60'},
            (2, 40, 100, 60),
        ),
        (
            {"RateLimit-Remaining": "3", "RateLimit-Reset": "12", "RateLimit-Limit": "1200"},
            (3, 12, 1200, None),
        ),
        ({"X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "4"}, (7, 4, None, None)),
        ({"RateLimit": '"default";r=abc;t=-1'}, None),
        ({"Content-Type": "application/json"}, None),
    ],
)
def test_rate_limit_headers_are_read_in_either_form(headers, expected):
    from airflow_provider_rtk.hooks._api import parse_rate_limit

    hint = parse_rate_limit(headers)
    found = None if hint is None else (hint.remaining, hint.reset, hint.quota, hint.window)
    assert found == expected


def test_a_429_halves_the_budget_which_climbs_back_additively(monkeypatch):
    """On the budget's own clock, moved by hand: the figures hold however busy the machine is."""
    monkeypatch.setattr(poller_module, "RECOVER_SECONDS", 1.0)
    now = [1000.0]
    monkeypatch.setattr(poller_module, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))

    async def go():
        budget = RequestBudget(rate=8)
        budget.slow_down()
        halved = budget.rate
        budget.slow_down()
        quartered = budget.rate
        now[0] += 0.25  # a quarter of RECOVER_SECONDS: a quarter of the ceiling back
        await budget.spend()
        climbing = budget.rate
        now[0] += 1.0
        await budget.spend()
        return halved, quartered, climbing, budget.rate

    halved, quartered, climbing, back = asyncio.run(asyncio.wait_for(go(), 5))
    assert (halved, quartered, climbing, back) == (4, 2, 4, 8)


def test_a_budget_below_one_a_second_still_spends():
    """(A token bucket holding one second's worth never reached one token below 1/s.)"""

    async def go():
        budget = RequestBudget(rate=4)
        for _ in range(3):
            budget.slow_down()  # 0.5 a second
        await budget.spend()

    asyncio.run(asyncio.wait_for(go(), 5))


def test_the_default_budget_fits_the_global_limit_with_room_for_starts_and_stops():
    assert poller_module.DEFAULT_REQUESTS_PER_SECOND * 300 <= 1200 / 2


def test_a_page_is_read_item_by_item():
    from airflow_provider_rtk.models import RecordingPage

    items = [
        rec(1),
        {"id": "F1", "status": ["STOPPING"]},  # a status that is no text (an unknown text one is read)
        {"id": "F2", "status": "RECORDING", "recording_duration": 1.5},
        {"status": "RECORDING"},
        {"id": "../../etc", "status": 7},
        "not an object",
    ]
    page = RecordingPage.from_answer(items, {"total_count": 6})
    assert [r.id for r in page.recordings] == ["R1"]
    assert [u.id for u in page.unreadable] == ["F1", "F2", None, None, None]
    assert "status" in page.unreadable[0].problem
    assert "STOPPING" not in page.unreadable[0].problem  # no values, only where and why
    assert "recording_duration" in page.unreadable[1].problem
    with pytest.raises(ValueError, match="more than the 2 asked for"):
        RecordingPage.from_answer(items, {}, most=2)


# --------------------------------------------------------------------------------------------------
# Against a hostile server on loopback: the poller and its triggers, a shared failure at a time.
# The connection allows one attempt per request (extra max_attempts=1), so what the hook used to
# retry on its own shows within a unit test's seconds; today's code ended every waiting trigger
# in error on each of these (and the deferred start task then stopped its healthy recording).


@pytest.fixture
def hostile(monkeypatch):
    from tests.hostile_server import HostileServer

    with HostileServer() as server:
        conn = {
            "conn_type": "realtimekit",
            "password": "TOKEN-hostile-poller-1",
            "host": server.base_url,
            "extra": {"account_id": "ACC", "app_id": "APP", "max_attempts": 1},
        }
        monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))
        yield server


def uploaded(*numbers: int) -> list[dict[str, Any]]:
    return [{**rec(n, "UPLOADED"), "invoked_time": "2026-12-01T10:00:00Z"} for n in numbers]


def started_triggers(*numbers: int, deadline: float = 60.0, poll_interval: float = 0.1) -> list[Any]:
    """Triggers of deferred start tasks: each follows a recording its task started (so it may stop it
    at the deadline, and only then)."""
    from airflow_provider_rtk.triggers import RealtimeKitRecordingTrigger

    return [
        RealtimeKitRecordingTrigger(
            f"R{n}",
            poll_interval=poll_interval,
            end_time=time.time() + deadline,
            stop_on_kill=True,
            knowledge="started",
            stop_at_end_time=True,
        )
        for n in numbers
    ]


async def first_event(trigger: Any) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("no event")


def run_together(triggers: list[Any], limit: float = 40.0) -> list[dict[str, Any]]:
    """Run triggers in one event loop (so they share one poller); each one's only event."""

    async def everyone():
        return await asyncio.gather(*(first_event(trigger) for trigger in triggers))

    return asyncio.run(asyncio.wait_for(everyone(), limit))


def stops(server) -> int:
    return sum(1 for seen in server.seen if seen.method == "PUT")


def outage_lines(caplog) -> tuple[int, int]:
    messages = [r.getMessage() for r in caplog.records if r.name == poller_module.__name__]
    return (
        sum("failed (" in m and "keep waiting" in m for m in messages),
        sum("answers again" in m for m in messages),
    )


@pytest.mark.parametrize("misbehaviour", ["503", "dropped connections"])
def test_hostile_an_outage_shorter_than_the_deadline_fails_no_trigger(
    hostile, fast_backoff, caplog, misbehaviour
):
    from tests.hostile_server import drop_connection, for_a_while, json_answer, recording_list

    bad = json_answer(503, {"success": False, "error": {"code": 503, "message": "down"}})
    if misbehaviour == "dropped connections":
        bad = drop_connection
    hostile.route("GET", "/recordings", for_a_while(1.0, bad, recording_list(uploaded(1, 2, 3))))

    with caplog.at_level("INFO", logger=poller_module.__name__):
        events = run_together(started_triggers(1, 2, 3))

    assert [e["status"] for e in events] == ["success"] * 3
    assert stops(hostile) == 0
    assert hostile.calls("GET", "/recordings") >= 3  # it failed, and was retried with backoff
    assert outage_lines(caplog) == (1, 1)  # logged when it began and when it ended, not per trigger


def test_hostile_a_429_with_a_long_retry_after_holds_the_poller_until_each_deadline(hostile, caplog):
    from tests.hostile_server import in_turn, rate_limited, recording_list

    hostile.route("GET", "/recordings", in_turn(rate_limited("3600"), recording_list(uploaded(1, 2))))
    triggers = started_triggers(1, 2, deadline=1.5)
    for trigger in triggers:
        trigger.stop_at_end_time = False  # (the deadline's stop of its own recording is not the point)

    with caplog.at_level("INFO", logger=poller_module.__name__):
        events = run_together(triggers)

    assert [e["status"] for e in events] == ["timeout"] * 2  # their own deadline; not an error
    assert [e["recording_status"] for e in events] == [None, None]
    assert hostile.calls("GET", "/recordings") == 1  # nothing sent during the Retry-After
    assert stops(hostile) == 0
    assert outage_lines(caplog) == (1, 0)


def test_hostile_429s_slow_the_poller_and_every_trigger_then_succeeds(hostile, fast_backoff, generous_budget):
    """(Each 429 halves the budget: at the default of 2 a second the third cost 4 s more.)"""
    from tests.hostile_server import in_turn, rate_limited, recording_list

    hostile.route(
        "GET",
        "/recordings",
        in_turn(rate_limited("0.5"), rate_limited("0.5"), rate_limited(), recording_list(uploaded(1, 2))),
    )
    began = time.monotonic()
    events = run_together(started_triggers(1, 2))

    assert [e["status"] for e in events] == ["success"] * 2
    assert time.monotonic() - began >= 1.0  # both Retry-Afters were honoured
    assert hostile.calls("GET", "/recordings") == 4
    assert stops(hostile) == 0


def test_hostile_another_clients_unreadable_recordings_concern_only_themselves(hostile, caplog):
    from tests.hostile_server import recording_list

    foreign = [
        {"id": "F1", "status": "RECORDING", "recording_duration": "long", "meeting_id": "M-other"},
        {"id": "F2", "status": "RECORDING", "recording_duration": 12.5},  # a fractional duration
        {"status": "RECORDING"},  # no id
    ]
    hostile.route("GET", "/recordings", recording_list([*foreign, *uploaded(1, 2)]))

    with caplog.at_level("INFO", logger=poller_module.__name__):
        events = run_together(started_triggers(1, 2))

    assert [e["status"] for e in events] == ["success"] * 2
    assert stops(hostile) == 0
    skipped = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(skipped) == 3
    assert any("F1" in line and "recording_duration" in line for line in skipped)
    assert not any("long" in line.split("recording_duration")[-1] for line in skipped)


def test_hostile_the_watched_recording_unreadable_waits_until_its_deadline(hostile, caplog, monkeypatch):
    """The followed recording itself cannot be read (a duration of text): it is not finished, not
    failed; its trigger keeps waiting (here until its deadline, then through its last look, which gets
    no reading either: shortened from 15 s), and another is unaffected."""
    from airflow_provider_rtk.triggers import recording as recording_module
    from tests.hostile_server import json_answer, recording_list

    monkeypatch.setattr(recording_module, "LAST_LOOK_SECONDS", 0.5)

    strange = {"id": "R1", "status": "RECORDING", "meeting_id": "M1", "recording_duration": "long"}
    hostile.route("GET", "/recordings", recording_list([strange, *uploaded(2)]))
    hostile.route("GET", "/recordings/R1", json_answer(200, {"success": True, "data": strange}))
    triggers = started_triggers(1, 2, deadline=1.5)
    triggers[0].stop_at_end_time = False

    with caplog.at_level("INFO", logger=poller_module.__name__):
        events = run_together(triggers)

    assert [e["status"] for e in events] == ["timeout", "success"]
    assert stops(hostile) == 0
    assert sum("R1 cannot be read" in r.getMessage() for r in caplog.records) == 1


def test_hostile_a_status_it_does_not_know_keeps_the_trigger_waiting_until_it_finishes(hostile, caplog):
    """Issue 21: a newer service's status (read, not refused) neither ends nor fails a wait; the
    trigger waits through it, nothing is stopped, and the recording's later UPLOADED ends the wait."""
    from tests.hostile_server import for_a_while, json_answer, recording_list

    strange = {"id": "R1", "status": "ARCHIVING", "meeting_id": "M1", "invoked_time": "2026-12-01T10:00:00Z"}
    hostile.route("GET", "/recordings", recording_list([*uploaded(2)]))
    hostile.route(
        "GET",
        "/recordings/R1",
        for_a_while(
            1.5,
            json_answer(200, {"success": True, "data": strange}),
            json_answer(200, {"success": True, "data": uploaded(1)[0]}),
        ),
    )

    with caplog.at_level("INFO", logger=poller_module.__name__):
        events = run_together(started_triggers(1, 2, deadline=30.0))

    assert [e["status"] for e in events] == ["success", "success"]
    assert events[0]["recording_status"] == "UPLOADED"
    assert stops(hostile) == 0
    assert hostile.calls("GET", "/recordings/R1") >= 2  # read in ARCHIVING, then again until UPLOADED
    assert not any("R1 cannot be read" in r.getMessage() for r in caplog.records)


def test_hostile_a_huge_page_is_refused_before_its_items_are_read(hostile, fast_backoff, monkeypatch):
    """A 4 MiB answer of ~120,000 tiny recordings to a page of 100: refused before any item is read
    (so no turn of the event loop reads more than a page's worth), waited out like any bad answer,
    and the next answer serves the trigger. Counted, not timed: recordings read per turn of the loop."""
    from airflow_provider_rtk.models import Recording
    from tests.hostile_server import in_turn, recording_list, tiny_recordings_page

    hostile.route(
        "GET",
        "/recordings",
        in_turn(tiny_recordings_page(4 * 1024 * 1024 - 4096), recording_list(uploaded(1))),
    )
    turn = 0
    read_in_turn: dict[int, int] = {}
    validate = Recording.model_validate

    def counting(obj: Any, *args: Any, **kwargs: Any) -> Recording:
        read_in_turn[turn] = read_in_turn.get(turn, 0) + 1
        return validate(obj, *args, **kwargs)

    monkeypatch.setattr(Recording, "model_validate", counting)

    async def go():
        nonlocal turn

        async def ticker():
            nonlocal turn
            while True:
                turn += 1
                await asyncio.sleep(0)

        ticking = asyncio.ensure_future(ticker())
        try:
            (trigger,) = started_triggers(1)
            return await first_event(trigger)
        finally:
            ticking.cancel()

    event = asyncio.run(asyncio.wait_for(go(), 40))
    assert event["status"] == "success"
    assert max(read_in_turn.values()) <= poller_module.PAGE_SIZE
    assert stops(hostile) == 0


def test_hostile_rate_limit_headers_hold_the_poller_until_the_reset(hostile):
    """The service says no request is left for 1.5 s (IETF ``RateLimit``) and announces its policy:
    the poller sends nothing before the reset, and never polls faster than half the policy's rate."""
    from tests.hostile_server import recording_list

    sent_at: list[float] = []
    answer = recording_list(
        [rec(1)], headers={"RateLimit": '"default";r=0;t=1.5', "RateLimit-Policy": '"default";q=120;w=60'}
    )

    def listing(handler, seen):
        sent_at.append(time.monotonic())
        answer(handler, seen)

    hostile.route("GET", "/recordings", listing)

    async def go():
        poller = RecordingPoller("realtimekit_default", requests_per_second=100)
        await poller.read("R1")
        await poller.read("R1")
        return poller.budget.ceiling

    ceiling = asyncio.run(asyncio.wait_for(go(), 20))
    assert len(sent_at) == 2
    assert sent_at[1] - sent_at[0] >= 1.4
    assert ceiling == 1.0  # 120 a minute, half of it


def test_hostile_pages_too_large_to_read_are_asked_for_shorter(hostile, fast_backoff):
    """100 recordings with 15 KiB each (another client's long download lists): the page is over the
    poller's PAGE_MAX_BYTES, refused unread, and the poller asks for pages half as long; the trigger
    is then served (no error, no stop)."""
    from tests.hostile_server import recording_list

    bulky = [{**rec(n), "download_url": "x" * 15_000} for n in range(100, 200)]
    asked: list[str] = []
    long_page, short_page = recording_list([*uploaded(1), *bulky[:99]]), recording_list(uploaded(1))

    def listing(handler, seen):
        per_page = handler.path.split("per_page=")[1].split("&")[0]
        asked.append(per_page)
        (long_page if per_page == "100" else short_page)(handler, seen)

    hostile.route("GET", "/recordings", listing)
    (event,) = run_together(started_triggers(1))

    assert event["status"] == "success"
    assert asked == ["100", "50"]
    assert stops(hostile) == 0


def test_hostile_a_refused_token_is_waited_out_until_it_is_rotated(hostile, fast_backoff, monkeypatch):
    """The API refuses the token (401) until the connection gets a new one: the triggers keep
    waiting, the poller looks the connection up again after each failure, and they succeed."""
    from tests.hostile_server import json_answer, recording_list

    refused = json_answer(
        401, {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}
    )
    served = recording_list(uploaded(1, 2))

    def listing(handler, seen):
        (served if seen.headers.get("Authorization") == "Bearer TOKEN-rotated-2" else refused)(handler, seen)

    hostile.route("GET", "/recordings", listing)
    rotated = json.loads(os.environ["AIRFLOW_CONN_REALTIMEKIT_DEFAULT"])
    rotated["password"] = "TOKEN-rotated-2"

    async def go():
        asyncio.get_running_loop().call_later(
            1.0, lambda: monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(rotated))
        )
        return await asyncio.gather(*(first_event(t) for t in started_triggers(1, 2)))

    events = asyncio.run(asyncio.wait_for(go(), 30))
    assert [e["status"] for e in events] == ["success"] * 2
    assert hostile.calls("GET", "/recordings") >= 2
    assert stops(hostile) == 0


def test_hostile_text_cut_mid_emoji_is_read_and_fires_an_event_the_triggerer_can_send(hostile, caplog):
    """A client cut a file name, a layer name, a storage path mid-emoji: the API answers lone surrogates
    (``"\\ud83d"``, valid JSON but no character). Before, the shared poller handed the watch a reading
    that crashed its trigger (``UnicodeEncodeError`` dumping it) and its task failed though the
    recording was fine; had it got through, Airflow's triggerer could not have sent the event to its
    supervisor (msgpack refuses such text, and the runner then stops for every trigger). Now the text
    reads as U+FFFD where answers are decoded, every watch succeeds with an event Airflow can send, and
    an id holding one stays no id (another client's item, matched by no watch)."""
    from airflow.sdk.execution_time.comms import _new_encoder
    from airflow.triggers.base import TriggerEvent

    from tests.hostile_server import recording_list

    cut, fine = uploaded(1, 2)
    cut.update(
        output_file_name="cut\ud83d.mp4",
        download_url=[
            {"layer_name": "cam \ud83d", "download_urls": {"f\ud83d.mp4": {"download_url": "https://x/y"}}}
        ],
        file_name_prefix="p\ud83d",
        storage_config={"type": "aws", "path": "in\ud83d"},
    )
    foreign = {**uploaded(3)[0], "id": "R3\ud83d"}
    hostile.route("GET", "/recordings", recording_list([foreign, cut, fine]))

    with caplog.at_level("INFO", logger=poller_module.__name__):
        events = run_together(started_triggers(1, 2))

    assert [e["status"] for e in events] == ["success", "success"], events[0]["message"]
    recording = events[0]["recording"]
    assert recording["output_file_name"] == "cut\ufffd.mp4"
    assert recording["file_name_prefix"] == "p\ufffd"
    assert recording["storage_config"]["path"] == "in\ufffd"
    for event in events:
        _new_encoder().encode(TriggerEvent(event))  # what the triggerer sends its supervisor
    assert stops(hostile) == 0
