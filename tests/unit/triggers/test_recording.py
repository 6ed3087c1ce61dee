"""Triggers driven directly with asyncio against a respx-mocked RealtimeKit API (nothing else is faked)."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import itertools
import json
import time
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.exceptions import RealtimeKitError
from airflow_provider_rtk.models import Recording, RecordingStatus
from airflow_provider_rtk.triggers import (
    ActiveSessionEvent,
    RealtimeKitActiveSessionTrigger,
    RealtimeKitRecordingTrigger,
    RecordingEvent,
)
from airflow_provider_rtk.triggers.events import parse_target_status, target_reached, target_unreachable
from airflow_provider_rtk.triggers.poller import RecordingPoller
from tests.api_answers import APP_URL, set_conn

FAST = 0.01

#: (the shared poller's reads not spaced at the default 2 a second, nor a failed sweep followed by a
#: second of backoff: the readings, not the budget, are what these tests are about)
pytestmark = pytest.mark.usefixtures("generous_budget", "fast_backoff")


@pytest.fixture(autouse=True)
def _connection(monkeypatch):
    set_conn(monkeypatch, password="TOKEN-abcdef")


@pytest.fixture
def api():
    """The API; the recording triggers' shared poller first lists the unfinished recordings (none
    here, unless a test says otherwise), then reads each followed recording on its own."""
    with respx.mock(base_url=APP_URL, assert_all_called=False) as mock:
        mock.get("/recordings").mock(return_value=list_answer([]))
        yield mock


def list_answer(recordings: list[dict[str, Any]]) -> httpx.Response:
    paging = {"total_count": len(recordings), "start_offset": 0, "end_offset": len(recordings)}
    return httpx.Response(200, json={"success": True, "data": recordings, "paging": paging})


def recording_answer(status: str, rid: str = "REC", **fields: Any) -> httpx.Response:
    data = {"id": rid, "status": status, "meeting_id": "MEET", **fields}
    return httpx.Response(200, json={"success": True, "data": data})


def session_answer(status: str, sid: str = "SESS") -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": {"id": sid, "status": status}})


def server_error(status: int = 503) -> httpx.Response:
    # Retry-After: 0 makes the hook's own (default) retry policy retry at once.
    return httpx.Response(
        status,
        headers={"Retry-After": "0"},
        json={"success": False, "error": {"code": status, "message": "upstream unavailable"}},
    )


def not_found() -> httpx.Response:
    return httpx.Response(404, json={"success": False, "error": {"code": 404, "message": "not found"}})


def run_trigger(trigger) -> list[dict[str, Any]]:
    async def collect():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), timeout=30))


def only_event(trigger) -> dict[str, Any]:
    events = run_trigger(trigger)
    assert len(events) == 1, events
    return events[0]


#: a deadline the first answer replaces (``deadline_from_first_answer``)
LATER = 600.0


def deadline_from_first_answer(trigger, seconds: float, answers: Iterable[httpx.Response]) -> Any:
    """A route's side effect: ``answers`` in turn, the first of which also sets the trigger's deadline
    ``seconds`` from then. A deadline set before the run (``time.time() + 0.1``) passes before the
    first reading when a busy machine stalls that long first, and the trigger then rightly makes
    the one look of a trigger restarted after its deadline, which is not what these tests are about.
    """
    answers = iter(answers)
    first = True

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal first
        if first:
            trigger.end_time, first = time.time() + seconds, False
        return next(answers)

    return answer


# --------------------------------------------------------------------------------------------------
# RealtimeKitRecordingTrigger


def test_success_after_polling_until_uploaded(api):
    route = api.get("/recordings/REC").mock(
        side_effect=[
            recording_answer("RECORDING"),
            recording_answer("UPLOADING"),
            recording_answer("UPLOADED", download_url="https://files.test/rec.webm"),
        ]
    )
    event = only_event(RealtimeKitRecordingTrigger("REC", poll_interval=FAST))

    assert event["status"] == "success"
    assert event["recording_id"] == "REC"
    assert event["recording_status"] == "UPLOADED"
    assert "download_url" not in event["recording"]  # a pre-signed link never travels in an event
    assert set(event) == {
        "status",
        "recording_id",
        "recording_status",
        "message",
        "recording",
        "knowledge",
        "stopped",
        "end_reason",
    }
    assert (event["knowledge"], event["stopped"]) == ("foreign", False)
    assert route.call_count == 3
    assert route.calls.last.request.headers["Authorization"] == "Bearer TOKEN-abcdef"


@pytest.mark.parametrize("status", ["RECORDING", "PAUSED", "UPLOADING", "UPLOADED"])
def test_target_recording_is_reached_or_passed(api, status):
    api.get("/recordings/REC").mock(return_value=recording_answer(status))
    event = only_event(RealtimeKitRecordingTrigger("REC", target_status="RECORDING", poll_interval=FAST))
    assert event["status"] == "success"
    assert event["recording_status"] == status


def test_target_uploaded_is_not_satisfied_by_uploading(api):
    trigger = RealtimeKitRecordingTrigger("REC", poll_interval=FAST, end_time=time.time() + LATER)
    uploading = (recording_answer("UPLOADING") for _ in itertools.count())
    route = api.get("/recordings/REC").mock(side_effect=deadline_from_first_answer(trigger, 0.1, uploading))
    event = only_event(trigger)
    assert event["status"] == "timeout"
    assert event["recording_status"] == "UPLOADING"
    assert route.call_count >= 2


def test_errored_recording_yields_error_with_stop_reason(api):
    api.get("/recordings/REC").mock(
        side_effect=[
            recording_answer("RECORDING"),
            recording_answer("ERRORED", stop_reason={"reason": "INTERNAL_ERROR"}),
        ]
    )
    event = only_event(RealtimeKitRecordingTrigger("REC", poll_interval=FAST))

    assert event["status"] == "error"
    assert event["recording_status"] == "ERRORED"
    assert "REC" in event["message"]
    assert "INTERNAL_ERROR" in event["message"]
    assert event["recording"]["id"] == "REC"
    assert RecordingEvent.parse(event).recording_failed


@pytest.mark.parametrize("status", ["UPLOADING", "UPLOADED"])
def test_target_that_can_no_longer_be_reached_yields_error(api, status):
    api.get("/recordings/REC").mock(return_value=recording_answer(status))
    event = only_event(RealtimeKitRecordingTrigger("REC", target_status="PAUSED", poll_interval=FAST))
    assert event["status"] == "error"
    assert "can no longer reach PAUSED" in event["message"]


def test_past_end_time_yields_timeout_after_one_look(api):
    route = api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    event = only_event(RealtimeKitRecordingTrigger("REC", poll_interval=FAST, end_time=time.time() - 5))

    assert event["status"] == "timeout"
    assert event["recording_status"] == "RECORDING"
    assert event["recording"]["status"] == "RECORDING"
    assert "did not reach UPLOADED" in event["message"]
    assert route.call_count == 1


def test_deadline_is_not_overslept(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    started = time.monotonic()
    event = only_event(RealtimeKitRecordingTrigger("REC", poll_interval=60, end_time=time.time() + 0.2))
    assert event["status"] == "timeout"
    assert time.monotonic() - started < 30  # not the 60 s poll interval (generous: a busy machine)


def test_one_transient_503_is_retried_not_reported(api):
    route = api.get("/recordings/REC").mock(side_effect=[server_error(503), recording_answer("UPLOADED")])
    event = only_event(RealtimeKitRecordingTrigger("REC", poll_interval=FAST))
    assert event["status"] == "success"
    assert route.call_count == 2


def test_transient_429_then_success(api):
    route = api.get("/recordings/REC").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}, json={"success": False, "errors": []}),
            recording_answer("UPLOADED"),
        ]
    )
    assert only_event(RealtimeKitRecordingTrigger("REC", poll_interval=FAST))["status"] == "success"
    assert route.call_count == 2


def test_persistent_5xx_is_waited_out_until_the_deadline_and_logged_once(api, caplog):
    """The API keeps answering 502: no error event (the failure is the shared poller's, not the
    recording's); the trigger times out at its own deadline with what it knew (nothing), and the
    outage is logged once, not once per failed request."""
    route = api.get("/recordings/REC").mock(return_value=server_error(502))
    with caplog.at_level("WARNING", logger="airflow_provider_rtk.triggers.poller"):
        event = only_event(RealtimeKitRecordingTrigger("REC", poll_interval=FAST, end_time=time.time() + 1.5))

    assert event["status"] == "timeout"
    assert event["recording"] is None
    assert event["recording_status"] is None
    assert "last status unknown" in event["message"]
    assert route.call_count >= 2  # retried
    assert not RecordingEvent.parse(event).recording_failed
    outage_lines = [r for r in caplog.records if "failed (get_one_recording: HTTP 502" in r.getMessage()]
    assert len(outage_lines) == 1


def test_an_outage_after_a_reading_times_out_with_that_reading_and_stops_only_at_the_deadline(api):
    """RECORDING is read, then the API fails for good: the trigger sleeps through the poller's
    backoff, and its own deadline ends the wait with the reading it had; the recording its task
    started is stopped then (the deadline is the trigger's own), not before."""
    api.get("/recordings/REC").mock(side_effect=[recording_answer("RECORDING")] + [server_error(503)] * 500)
    stop = api.put("/recordings/REC").mock(return_value=recording_answer("UPLOADING"))
    trigger = RealtimeKitRecordingTrigger(
        "REC",
        poll_interval=FAST,
        end_time=time.time() + 1.5,
        stop_on_kill=True,
        knowledge="started",
        stop_at_end_time=True,
    )
    event = only_event(trigger)

    assert event["status"] == "timeout"
    assert event["recording_status"] == "RECORDING"
    assert event["recording"]["status"] == "RECORDING"
    assert event["stopped"] is True
    assert stop.call_count == 1


def test_unknown_recording_yields_error_without_retrying(api):
    route = api.get("/recordings/REC").mock(return_value=not_found())
    event = only_event(RealtimeKitRecordingTrigger("REC", poll_interval=FAST))
    assert event["status"] == "error"
    assert "404" in event["message"]
    assert route.call_count == 1


def test_incomplete_connection_yields_error(api, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_RTK_BROKEN", json.dumps({"conn_type": "realtimekit", "password": "T0KEN"})
    )
    event = only_event(RealtimeKitRecordingTrigger("REC", realtimekit_conn_id="rtk_broken"))
    assert event["status"] == "error"
    assert "extra.account_id" in event["message"]
    assert "T0KEN" not in event["message"]


class _CountingChecks(RealtimeKitRecordingTrigger):
    """Observes (does not replace) how often the trigger wakes to look at a reading."""

    checks = 0

    def _reading(self, recording):
        self.checks += 1
        return super()._reading(recording)


def test_the_trigger_wakes_only_when_the_status_changes(api):
    """Six readings, three statuses: the trigger wakes three times (the poller reads every
    poll_interval; a reading of the status the trigger knows does not wake it)."""
    route = api.get("/recordings/REC").mock(
        side_effect=[
            recording_answer(status)
            for status in ["RECORDING", "RECORDING", "RECORDING", "UPLOADING", "UPLOADING", "UPLOADED"]
        ]
    )
    trigger = _CountingChecks("REC", poll_interval=FAST)
    event = only_event(trigger)
    assert event["status"] == "success"
    assert route.call_count == 6
    assert trigger.checks == 3


def test_a_timeout_reports_the_newest_reading_not_the_first_of_its_status(api):
    """Readings of a status the trigger knows do not wake it, but the deadline's last look does: the
    timeout event tells how the recording is at the deadline."""
    trigger = RealtimeKitRecordingTrigger("REC", poll_interval=0.05, end_time=time.time() + LATER)
    answers = itertools.chain(
        [recording_answer("RECORDING", recording_duration=1)],
        (recording_answer("RECORDING", recording_duration=42) for _ in itertools.count()),
    )
    api.get("/recordings/REC").mock(side_effect=deadline_from_first_answer(trigger, 0.5, answers))
    event = only_event(trigger)
    assert event["status"] == "timeout"
    assert event["recording"]["recording_duration"] == 42
    assert "last status RECORDING" in event["message"]


def test_a_deadline_shorter_than_the_poll_interval_still_looks_at_the_deadline(api):
    """The recording is UPLOADED before the deadline, sooner than the next poll: the last look at the
    deadline sees it (success, not a timeout, and nothing stopped)."""
    trigger = RealtimeKitRecordingTrigger("REC", poll_interval=2.0, end_time=time.time() + LATER)
    answers = [recording_answer("UPLOADING"), recording_answer("UPLOADED")]
    api.get("/recordings/REC").mock(side_effect=deadline_from_first_answer(trigger, 0.5, answers))
    event = only_event(trigger)
    assert event["status"] == "success", event


def test_a_reading_that_lands_with_the_deadline_is_kept(monkeypatch):
    """The poller hands UPLOADED in the same turn of a busy loop as the deadline passes: the trigger
    reports it (a ``wait_for`` that cancels on the deadline, as Python 3.12's does, would drop it)."""

    async def wait_for_as_in_312(future, timeout):
        async with asyncio.timeout(timeout):
            return await future

    monkeypatch.setattr(asyncio, "wait_for", wait_for_as_in_312)
    trigger = RealtimeKitRecordingTrigger("REC", poll_interval=60, end_time=time.time() + 0.1)
    trigger._last_status = RecordingStatus.UPLOADING

    def watch(self, recording_id, *, unlike, interval):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        loop.call_later(0.09, future.set_result, Recording(id="REC", status="UPLOADED"))
        loop.call_soon(time.sleep, 0.2)  # a busy triggerer: both timers fire in one turn
        return future

    monkeypatch.setattr(RecordingPoller, "watch", watch)
    assert only_event(trigger)["status"] == "success"


def test_a_cancelled_trigger_stops_watching(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    trigger = RealtimeKitRecordingTrigger("REC", poll_interval=0.05, end_time=time.time() + 60)

    async def cancel_while_waiting():
        task = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.sleep(0.2)  # past its first reading: waiting with a deadline
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        poller = RecordingPoller.shared("realtimekit_default")
        return [w for watches in poller._watches.values() for w in watches if not w.future.done()]

    assert asyncio.run(cancel_while_waiting()) == []


def test_triggers_of_a_class_share_one_logger_named_after_it():
    class MyRecordingTrigger(RealtimeKitRecordingTrigger):
        pass

    first, second = RealtimeKitRecordingTrigger("R1"), RealtimeKitRecordingTrigger("R2")
    assert first.log is second.log
    mine = MyRecordingTrigger("R3")
    assert mine.log is not first.log  # a subclass logs under its own name, not its parent's
    assert mine.log is MyRecordingTrigger("R4").log


class _CountingHooks:
    """Observes (does not replace) the hooks a trigger makes."""

    def make_hook(self, **kwargs):
        hook = super().make_hook(**kwargs)
        self.hooks = [*getattr(self, "hooks", []), hook]
        return hook


class _CountingRecordingHooks(_CountingHooks, RealtimeKitRecordingTrigger):
    pass


class _CountingSessionHooks(_CountingHooks, RealtimeKitActiveSessionTrigger):
    pass


def test_the_recording_trigger_makes_no_hook_of_its_own_to_wait(api):
    """The shared poller reads the recording: a run makes no hook (it made one per run, never used)."""
    api.get("/recordings/REC").mock(
        side_effect=[recording_answer("INVOKED"), recording_answer("RECORDING"), recording_answer("UPLOADED")]
    )
    trigger = _CountingRecordingHooks("REC", poll_interval=FAST)
    assert only_event(trigger)["status"] == "success"
    assert getattr(trigger, "hooks", []) == []


def test_the_deadline_stop_uses_one_hook_closed_before_the_event(api):
    api.put("/recordings/REC").mock(return_value=recording_answer("UPLOADING"))
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    trigger = _CountingRecordingHooks(
        "REC", poll_interval=FAST, end_time=time.time() - 1, stop_on_kill=True, stop_at_end_time=True
    )
    event = only_event(trigger)
    assert (event["status"], event["stopped"]) == ("timeout", True)
    assert len(trigger.hooks) == 1
    assert trigger.hooks[0]._client is None


def test_one_hook_per_run_closed_before_the_event(api):
    api.get("/meetings/MEET/active-session").mock(
        side_effect=[not_found(), session_answer("ENDED", "OLD"), session_answer("LIVE", "SESS")]
    )
    trigger = _CountingSessionHooks("MEET", poll_interval=FAST)

    async def first_event():
        agen = trigger.run()
        event = await agen.__anext__()
        closed_before_yield = trigger.hooks[0]._client is None
        await agen.aclose()
        return event, closed_before_yield

    event, closed_before_yield = asyncio.run(first_event())
    assert event.payload["status"] == "success"
    assert len(trigger.hooks) == 1
    assert closed_before_yield


def test_hook_closed_when_the_run_is_cancelled(api):
    api.get("/meetings/MEET/active-session").mock(return_value=not_found())
    trigger = _CountingSessionHooks("MEET", poll_interval=60)

    async def cancel_while_sleeping():
        task = asyncio.ensure_future(trigger.run().__anext__())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_while_sleeping())
    assert trigger.hooks[0]._client is None


def test_serialize_holds_only_primitives_and_a_stable_classpath():
    trigger = RealtimeKitRecordingTrigger(
        "REC", target_status="recording", poll_interval=3, end_time=1_800_000_000, stop_on_kill=True
    )
    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_rtk.triggers.recording.RealtimeKitRecordingTrigger"
    assert kwargs == {
        "recording_id": "REC",
        "realtimekit_conn_id": "realtimekit_default",
        "target_status": "RECORDING",
        "poll_interval": 3.0,
        "end_time": 1_800_000_000.0,
        "stop_on_kill": True,
        # a trigger of an earlier version had stop_on_kill only for a recording the task started
        "knowledge": "started",
        "stop_at_end_time": False,
        "end_reason": "timeout",
    }
    assert all(value is None or type(value) in (str, float, bool) for value in kwargs.values())
    assert json.loads(json.dumps(kwargs)) == kwargs


def _rebuild(trigger):
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    kwargs = json.loads(json.dumps(kwargs))  # as stored in the metadata database
    return getattr(importlib.import_module(module), name)(**kwargs)


def test_round_trip_keeps_behaviour_and_deadline(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    deadline = time.time() - 1
    original = RealtimeKitRecordingTrigger(
        "REC", target_status="UPLOADED", poll_interval=FAST, end_time=deadline
    )
    rebuilt = _rebuild(original)

    assert type(rebuilt) is RealtimeKitRecordingTrigger
    assert rebuilt.serialize() == original.serialize()
    assert rebuilt.end_time == deadline
    first, second = only_event(original), only_event(rebuilt)
    assert first["status"] == second["status"] == "timeout"
    assert {**first, "message": ""} == {**second, "message": ""}


def test_round_trip_success(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    rebuilt = _rebuild(RealtimeKitRecordingTrigger("REC", target_status="RECORDING", poll_interval=FAST))
    assert only_event(rebuilt)["status"] == "success"


def test_on_kill_stops_the_recording_when_asked(api):
    stop = api.put("/recordings/REC").mock(return_value=recording_answer("UPLOADING"))
    asyncio.run(RealtimeKitRecordingTrigger("REC", stop_on_kill=True).on_kill())
    assert stop.call_count == 1
    assert json.loads(stop.calls.last.request.content) == {"action": "stop"}


def test_on_kill_leaves_the_recording_alone_by_default(api):
    stop = api.put("/recordings/REC").mock(return_value=recording_answer("UPLOADING"))
    asyncio.run(RealtimeKitRecordingTrigger("REC").on_kill())
    assert stop.call_count == 0


def test_on_kill_on_a_stopped_recording_is_a_no_op(api):
    stop = api.put("/recordings/REC").mock(
        return_value=httpx.Response(
            400, json={"success": False, "error": {"code": 400, "message": "recording not running"}}
        )
    )
    read = api.get("/recordings/REC").mock(return_value=recording_answer("UPLOADED"))
    asyncio.run(RealtimeKitRecordingTrigger("REC", stop_on_kill=True).on_kill())
    assert stop.call_count == 1
    assert read.call_count == 1


def test_on_kill_failure_is_logged_not_raised(api, caplog, capsys):
    stop = api.put("/recordings/REC").mock(return_value=server_error(500))
    asyncio.run(RealtimeKitRecordingTrigger("REC", stop_on_kill=True).on_kill())
    assert stop.call_count == 3  # on_kill's own short retry policy
    captured = capsys.readouterr()
    # Airflow 3.3 logs through structlog (stdout), 3.0 through logging.
    assert "Could not stop recording REC" in caplog.text + captured.out + captured.err


@pytest.mark.parametrize("knowledge", ["believed", "foreign"])
def test_only_a_recording_the_task_started_is_ever_stopped(api, knowledge):
    """``stop_on_kill`` and ``stop_at_end_time`` are rights that only ``started`` carries."""
    stop = api.put("/recordings/REC").mock(return_value=recording_answer("UPLOADING"))
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    trigger = RealtimeKitRecordingTrigger(
        "REC", stop_on_kill=True, stop_at_end_time=True, knowledge=knowledge, end_time=time.time() - 1
    )
    assert (trigger.stop_on_kill, trigger.stop_at_end_time) == (False, False)
    asyncio.run(trigger.on_kill())
    event = only_event(trigger)
    assert (event["status"], event["stopped"], event["knowledge"]) == ("timeout", False, knowledge)
    assert stop.call_count == 0


def test_the_deadline_stops_a_recording_the_task_started(api):
    """An ``execution_timeout`` folded into the deadline: the triggerer itself stops the recording."""
    stop = api.put("/recordings/REC").mock(return_value=recording_answer("UPLOADING"))
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    trigger = RealtimeKitRecordingTrigger(
        "REC",
        poll_interval=FAST,
        end_time=time.time() + 0.1,
        knowledge="started",
        stop_at_end_time=True,
        end_reason="execution_timeout",
    )
    event = only_event(_rebuild(trigger))
    assert (event["status"], event["stopped"], event["end_reason"]) == ("timeout", True, "execution_timeout")
    assert "execution_timeout" in event["message"]
    assert stop.call_count == 1
    assert json.loads(stop.calls.last.request.content) == {"action": "stop"}


def test_cleanup_never_stops_the_recording(api):
    stop = api.put("/recordings/REC").mock(return_value=recording_answer("UPLOADING"))
    asyncio.run(RealtimeKitRecordingTrigger("REC", stop_on_kill=True).cleanup())
    assert stop.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target_status": "ERRORED"}, "cannot be ERRORED"),
        ({"target_status": "DONE"}, "not one of"),
        ({"poll_interval": -1}, "must not be negative"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RealtimeKitRecordingTrigger("REC", **kwargs)


# --------------------------------------------------------------------------------------------------
# RealtimeKitActiveSessionTrigger


def test_session_trigger_waits_for_a_live_session(api):
    route = api.get("/meetings/MEET/active-session").mock(
        side_effect=[not_found(), session_answer("ENDED", "OLD"), session_answer("LIVE", "SESS")]
    )
    event = only_event(RealtimeKitActiveSessionTrigger("MEET", poll_interval=FAST))

    assert event == {
        "status": "success",
        "meeting_id": "MEET",
        "session_id": "SESS",
        "message": "Meeting MEET has the live session SESS.",
    }
    assert route.call_count == 3


def test_session_trigger_times_out(api):
    trigger = RealtimeKitActiveSessionTrigger("MEET", poll_interval=FAST, end_time=time.time() + LATER)
    missing = (not_found() for _ in itertools.count())
    route = api.get("/meetings/MEET/active-session").mock(
        side_effect=deadline_from_first_answer(trigger, 0.1, missing)
    )
    event = only_event(trigger)
    assert event["status"] == "timeout"
    assert event["session_id"] is None
    assert route.call_count >= 2


def test_session_trigger_retries_then_reports_persistent_failure(api):
    route = api.get("/meetings/MEET/active-session").mock(return_value=server_error(503))
    event = only_event(RealtimeKitActiveSessionTrigger("MEET", poll_interval=FAST))
    assert event["status"] == "error"
    assert "503" in event["message"]
    assert route.call_count == 5


def test_session_trigger_transient_failure_then_live(api):
    api.get("/meetings/MEET/active-session").mock(side_effect=[server_error(500), session_answer("LIVE")])
    assert only_event(RealtimeKitActiveSessionTrigger("MEET", poll_interval=FAST))["status"] == "success"


def test_session_trigger_round_trip(api):
    api.get("/meetings/MEET/active-session").mock(return_value=session_answer("LIVE", "S1"))
    original = RealtimeKitActiveSessionTrigger("MEET", poll_interval=2, end_time=1_900_000_000)
    classpath, kwargs = original.serialize()
    assert classpath == "airflow_provider_rtk.triggers.active_session.RealtimeKitActiveSessionTrigger"
    assert kwargs == {
        "meeting_id": "MEET",
        "realtimekit_conn_id": "realtimekit_default",
        "poll_interval": 2.0,
        "end_time": 1_900_000_000.0,
    }
    rebuilt = _rebuild(original)
    assert rebuilt.serialize() == original.serialize()
    event = only_event(rebuilt)
    assert (event["status"], event["session_id"]) == ("success", "S1")


# --------------------------------------------------------------------------------------------------
# Event models and the status rules


def test_event_models_parse_payloads():
    payload = {
        "status": "success",
        "recording_id": "R",
        "recording_status": "UPLOADED",
        "message": "ok",
        "recording": {"id": "R"},
        "knowledge": "started",
        "stopped": False,
        "end_reason": "timeout",
    }
    event = RecordingEvent.model_validate(payload)
    assert event.is_success
    assert event.to_payload() == payload
    assert ActiveSessionEvent.parse({"status": "timeout", "meeting_id": "M", "message": "m"}).is_timeout


@pytest.mark.parametrize("garbage", [None, {}, {"status": "done", "recording_id": "R"}, "success"])
def test_event_parse_rejects_garbage(garbage):
    with pytest.raises(RealtimeKitError, match="Unexpected trigger event"):
        RecordingEvent.parse(garbage)


@pytest.mark.parametrize(
    ("status", "target"),
    list(
        itertools.product(RecordingStatus, [s for s in RecordingStatus if s is not RecordingStatus.ERRORED])
    ),
)
def test_status_rules_are_consistent(status, target):
    reached, unreachable = target_reached(status, target), target_unreachable(status, target)
    assert not (reached and unreachable)
    if status is target:
        assert reached
    if status is RecordingStatus.ERRORED:
        assert unreachable
    if status.is_terminal:
        assert reached or unreachable  # a terminal recording always settles the wait
    if target is RecordingStatus.UPLOADED:
        assert reached == (status is RecordingStatus.UPLOADED)


@pytest.mark.parametrize("target", [s for s in RecordingStatus if s is not RecordingStatus.ERRORED])
def test_a_status_it_does_not_know_neither_reaches_nor_misses_a_target(target):
    """A newer service's status settles no wait: not reached, not unreachable (the wait goes on)."""
    status = RecordingStatus("ARCHIVING")
    assert not target_reached(status, target)
    assert not target_unreachable(status, target)


def test_parse_target_status_accepts_any_case():
    assert parse_target_status(" uploaded ") is RecordingStatus.UPLOADED


def test_package_exports_lazily():
    import airflow_provider_rtk.triggers as triggers
    from airflow_provider_rtk.triggers.recording import RealtimeKitRecordingTrigger as direct

    assert triggers.RealtimeKitRecordingTrigger is direct
    assert "RecordingEvent" in dir(triggers)
    with pytest.raises(AttributeError):
        _ = triggers.NoSuchTrigger


# --------------------------------------------------------------------------------------------------
# The lazy packages' exports


@pytest.mark.parametrize("package", ["airflow_provider_rtk.triggers", "airflow_provider_rtk.sensors"])
def test_a_lazy_package_exports_what_it_lists_and_types(package):
    """``_EXPORTS``, ``__all__`` and the ``TYPE_CHECKING`` imports name the same things, each found
    in the submodule ``_EXPORTS`` gives."""
    module = importlib.import_module(package)
    tree = ast.parse(inspect.getsource(module))
    (type_checking,) = [
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    typed = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(type_checking)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    exports = {f"{package}.{submodule}.{name}" for name, submodule in module._EXPORTS.items()}
    assert sorted(module.__all__) == sorted(module._EXPORTS) == module.__all__
    assert typed == exports
    for name in module.__all__:
        assert getattr(module, name) is not None
