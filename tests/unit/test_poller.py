"""The shared poller: many recording triggers of one connection, few requests, one budget."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.triggers import poller as poller_module
from airflow_provider_rtk.triggers.poller import WAKE_AT_ONCE, RecordingPoller, RequestBudget

APP_URL = "http://rtk.test/client/v4/accounts/ACC/realtime/kit/APP"
CONN = {
    "conn_type": "realtimekit",
    "password": "TOKEN-poller-1",
    "host": "http://rtk.test/client/v4",
    "extra": {"account_id": "ACC", "app_id": "APP", "max_attempts": 2},
}


@pytest.fixture(autouse=True)
def _connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(CONN))


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


def test_the_budget_spaces_requests_out():
    async def go():
        budget = RequestBudget(rate=10)
        began = time.monotonic()
        for _ in range(25):
            await budget.spend()
        return time.monotonic() - began

    # one second's worth at once, then one every 0.1 s
    assert 1.2 <= asyncio.run(go()) < 3.0


@pytest.fixture
def fast_backoff(monkeypatch):
    """The poller's backoff knobs shortened, so an outage of a few seconds is many failures."""
    monkeypatch.setattr(poller_module, "BACKOFF_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(poller_module, "BACKOFF_MAX_SECONDS", 0.2)


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
    assert waited < 5
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
