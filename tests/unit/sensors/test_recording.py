"""The sensors in poke, reschedule and deferrable mode, against a respx-mocked RealtimeKit API."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.arguments import WAITABLE_STATUSES
from airflow_provider_rtk.exceptions import RealtimeKitAPIError, RealtimeKitError, RealtimeKitPayloadError
from airflow_provider_rtk.models import RecordingStatus
from airflow_provider_rtk.sensors import (
    RealtimeKitActiveSessionSensor,
    RealtimeKitRecordingFailedNoRetryError,
    RealtimeKitRecordingSensor,
)
from airflow_provider_rtk.triggers import RealtimeKitActiveSessionTrigger, RealtimeKitRecordingTrigger
from airflow_provider_rtk.triggers.events import parse_target_status
from tests.api_answers import APP_URL, set_conn

try:  # Airflow 3.1+
    from airflow.sdk.exceptions import (
        AirflowFailException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
except ImportError:  # Airflow 3.0
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowFailException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )


@pytest.fixture(autouse=True)
def _connection(monkeypatch):
    set_conn(monkeypatch, password="TOKEN")


@pytest.fixture
def api():
    """The API; deferred, the recording trigger's shared poller first lists unfinished recordings
    (none here), then reads the followed one on its own."""
    with respx.mock(base_url=APP_URL, assert_all_called=False) as mock:
        paging = {"total_count": 0, "start_offset": 0, "end_offset": 0}
        empty = {"success": True, "data": [], "paging": paging}
        mock.get("/recordings").mock(return_value=httpx.Response(200, json=empty))
        yield mock


def recording_answer(status: str, rid: str = "REC", **fields: Any) -> httpx.Response:
    data = {"id": rid, "status": status, "meeting_id": "MEET", **fields}
    return httpx.Response(200, json={"success": True, "data": data})


def session_answer(status: str, sid: str = "SESS") -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": {"id": sid, "status": status}})


def not_found() -> httpx.Response:
    return httpx.Response(
        404, json={"success": False, "error": {"code": 404, "message": "no active session"}}
    )


def server_error() -> httpx.Response:
    return httpx.Response(
        503, headers={"Retry-After": "0"}, json={"success": False, "error": {"code": 503, "message": "down"}}
    )


def recording_sensor(**kwargs: Any) -> RealtimeKitRecordingSensor:
    kwargs.setdefault("recording_id", "REC")
    kwargs.setdefault("poke_interval", 0.01)
    return RealtimeKitRecordingSensor(task_id="wait_recording", **kwargs)


def session_sensor(**kwargs: Any) -> RealtimeKitActiveSessionSensor:
    kwargs.setdefault("meeting_id", "MEET")
    kwargs.setdefault("poke_interval", 0.01)
    return RealtimeKitActiveSessionSensor(task_id="wait_session", **kwargs)


class _StubTI:
    """The bits of a runtime task instance the sensors and templates touch."""

    def __init__(self, xcoms: dict[str, Any] | None = None) -> None:
        self.xcoms = xcoms or {}

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get(key)

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return None


# --------------------------------------------------------------------------------------------------
# RealtimeKitRecordingSensor: poke


@pytest.mark.parametrize("status", ["INVOKED", "RECORDING", "PAUSED", "UPLOADING"])
def test_recording_poke_keeps_waiting(api, status):
    route = api.get("/recordings/REC").mock(return_value=recording_answer(status))
    result = recording_sensor().poke({})
    assert not result
    assert result.is_done is False
    assert route.call_count == 1


@pytest.mark.parametrize("target", WAITABLE_STATUSES)
def test_recording_poke_in_a_status_it_does_not_know_keeps_waiting(api, target):
    """A newer service's status is neither finished nor failed: the sensor pokes again, whatever it
    waits for (it failed on the answer before)."""
    route = api.get("/recordings/REC").mock(return_value=recording_answer("ARCHIVING"))
    result = recording_sensor(target_status=target).poke({})
    assert not result
    assert result.is_done is False
    assert route.call_count == 1


def test_recording_poke_done_returns_the_recording(api):
    api.get("/recordings/REC").mock(
        return_value=recording_answer(
            "UPLOADED",
            download_url="https://files.test/a.webm",
            storage_config={"type": "sftp", "host": "h", "password": "SECRET"},
        )
    )
    result = recording_sensor().poke({})
    assert result.is_done is True
    assert result.xcom_value["id"] == "REC"
    assert result.xcom_value["status"] == "UPLOADED"
    assert "download_url" not in result.xcom_value  # a pre-signed link is a bearer credential
    assert "password" not in result.xcom_value["storage_config"]
    json.dumps(result.xcom_value)


def test_recording_sensor_keeps_fresh_links_only_when_asked(api):
    route = api.get("/recordings/REC").mock(
        return_value=recording_answer("UPLOADED", download_url="https://files.test/a.webm")
    )
    sensor = RealtimeKitRecordingSensor(task_id="wait", recording_id="REC", xcom_download_links=True)
    result = sensor.poke({})
    assert result.xcom_value["download_url"] == "https://files.test/a.webm"
    assert route.call_count == 2  # the wait's read, then fresh links


def test_recording_poke_target_recording_is_passed_by_uploaded(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("UPLOADED"))
    assert recording_sensor(target_status="RECORDING").poke({}).is_done


def test_recording_poke_fails_fast_on_errored(api):
    api.get("/recordings/REC").mock(
        return_value=recording_answer("ERRORED", stop_reason={"reason": "INTERNAL_ERROR"})
    )
    with pytest.raises(RealtimeKitRecordingFailedNoRetryError, match=r"REC.*INTERNAL_ERROR") as caught:
        recording_sensor().poke({})
    assert isinstance(caught.value, AirflowFailException)


def test_recording_poke_fails_when_the_target_can_no_longer_be_reached(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("UPLOADED"))
    with pytest.raises(AirflowFailException, match="can no longer reach PAUSED"):
        recording_sensor(target_status="PAUSED").poke({})


def test_recording_poke_api_failure_is_an_ordinary_retryable_error(api):
    route = api.get("/recordings/REC").mock(return_value=server_error())
    with pytest.raises(RealtimeKitAPIError, match="503") as caught:
        recording_sensor().poke({})
    assert not isinstance(caught.value, AirflowFailException)
    assert route.call_count == 5  # the sync hook retried first


def test_recording_poke_transient_failure_is_retried(api):
    api.get("/recordings/REC").mock(side_effect=[server_error(), recording_answer("UPLOADED")])
    assert recording_sensor().poke({}).is_done


@pytest.mark.parametrize("rendered", ["", "None", "  "])
def test_recording_id_rendered_empty_is_refused(api, rendered):
    with pytest.raises(RealtimeKitPayloadError, match="recording_id"):
        recording_sensor(recording_id=rendered).poke({})


def test_recording_id_is_templated_from_an_upstream_xcom(api):
    route = api.get("/recordings/FROM-XCOM").mock(return_value=recording_answer("UPLOADED", rid="FROM-XCOM"))
    sensor = recording_sensor(recording_id="{{ ti.xcom_pull(task_ids='start', key='recording_id') }}")
    sensor.render_template_fields({"ti": _StubTI({"recording_id": "FROM-XCOM"})})
    assert sensor.recording_id == "FROM-XCOM"
    assert sensor.poke({}).xcom_value["id"] == "FROM-XCOM"
    assert route.call_count == 1


@pytest.mark.parametrize("target", ["ERRORED", "FINISHED", ""])
def test_invalid_target_status_is_refused_when_the_dag_is_parsed(target):
    with pytest.raises(ValueError, match="target_status"):
        recording_sensor(target_status=target)


def test_waitable_statuses_match_the_trigger_rules():
    accepted = set()
    for status in RecordingStatus:
        with contextlib.suppress(ValueError):
            accepted.add(parse_target_status(status.value).value)
    assert set(WAITABLE_STATUSES) == accepted
    assert recording_sensor(target_status=" uploading ").target_status == "UPLOADING"


# --------------------------------------------------------------------------------------------------
# RealtimeKitRecordingSensor: execute in poke and reschedule mode


def test_execute_poke_mode_returns_the_recording_and_closes_the_hook(api):
    route = api.get("/recordings/REC").mock(
        side_effect=[
            recording_answer("RECORDING"),
            recording_answer("UPLOADING"),
            recording_answer("UPLOADED"),
        ]
    )
    sensor = recording_sensor(timeout=30)
    value = sensor.execute({})
    assert value["status"] == "UPLOADED"
    assert route.call_count == 3
    assert "hook" not in sensor.__dict__


def test_execute_poke_mode_times_out(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    with pytest.raises(AirflowSensorTimeout):
        recording_sensor(timeout=0.05).execute({})


def test_execute_poke_mode_soft_fail_skips_on_errored(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("ERRORED"))
    with pytest.raises(AirflowSkipException):
        recording_sensor(soft_fail=True).execute({})


def test_execute_reschedule_mode_gives_the_slot_back(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("RECORDING"))
    sensor = recording_sensor(mode="reschedule", poke_interval=60, timeout=600)
    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as caught:
        sensor.execute({"ti": _StubTI()})
    assert caught.value.reschedule_date >= before + timedelta(seconds=59)


def test_execute_reschedule_mode_done(api):
    api.get("/recordings/REC").mock(return_value=recording_answer("UPLOADED"))
    sensor = recording_sensor(mode="reschedule", poke_interval=60)
    assert sensor.execute({"ti": _StubTI()})["id"] == "REC"


# --------------------------------------------------------------------------------------------------
# RealtimeKitRecordingSensor: deferrable


def test_deferrable_recording_sensor_defers_to_the_trigger(api):
    route = api.get("/recordings/REC").mock(return_value=recording_answer("UPLOADED"))
    sensor = recording_sensor(deferrable=True, timeout=100, poke_interval=7, target_status="recording")
    before = time.time()
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute({})
    deferred = caught.value
    trigger = deferred.trigger
    assert isinstance(trigger, RealtimeKitRecordingTrigger)
    assert trigger.recording_id == "REC"
    assert trigger.target_status == "RECORDING"
    assert trigger.poll_interval == 7.0
    assert trigger.realtimekit_conn_id == "realtimekit_default"
    assert before + 100 <= trigger.end_time <= time.time() + 100
    assert trigger.stop_on_kill is False
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=100 + 7 + 60)
    assert route.call_count == 0  # the worker does not poll


def test_deferred_trigger_event_completes_the_sensor(api, generous_budget):
    api.get("/recordings/REC").mock(side_effect=[recording_answer("UPLOADING"), recording_answer("UPLOADED")])
    sensor = recording_sensor(deferrable=True, poke_interval=0.01)
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute({})

    async def first_event():
        return [event.payload async for event in caught.value.trigger.run()]

    (event,) = asyncio.run(first_event())
    value = sensor.resume_execution(caught.value.method_name, {"event": event}, context={})
    assert value["status"] == "UPLOADED"


def _recording_event(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "status": status,
        "recording_id": "REC",
        "recording_status": fields.pop("recording_status", "UPLOADED"),
        "message": fields.pop("message", f"event {status}"),
        "recording": fields.pop("recording", {"id": "REC", "status": "UPLOADED"}),
    }


def test_execute_complete_success_returns_the_recording():
    assert recording_sensor().execute_complete({}, _recording_event("success")) == {
        "id": "REC",
        "status": "UPLOADED",
    }


def test_execute_complete_errored_recording_fails_without_retry():
    event = _recording_event(
        "error", recording_status="ERRORED", message="Recording REC ended in ERRORED (stop reason: X)."
    )
    failed = RealtimeKitRecordingFailedNoRetryError
    with pytest.raises(failed, match=r"REC ended in ERRORED \(stop reason: X\)"):
        recording_sensor().execute_complete({}, event)


def test_execute_complete_api_failure_is_retryable():
    event = _recording_event("error", recording=None, message="Could not read recording REC: HTTP 503")
    with pytest.raises(RealtimeKitError, match="HTTP 503") as caught:
        recording_sensor().execute_complete({}, event)
    assert not isinstance(caught.value, AirflowFailException)


def test_execute_complete_timeout():
    with pytest.raises(AirflowSensorTimeout, match="event timeout"):
        recording_sensor().execute_complete({}, _recording_event("timeout"))


def test_execute_complete_timeout_soft_fail_skips():
    with pytest.raises(AirflowSkipException):
        recording_sensor(soft_fail=True).execute_complete({}, _recording_event("timeout"))


def test_resume_execution_timeout_goes_through_airflow():
    with pytest.raises(AirflowSensorTimeout):
        recording_sensor().resume_execution("execute_complete", {"event": _recording_event("timeout")}, {})


@pytest.mark.parametrize("event", [None, {"status": "weird"}, {"status": "success"}])
def test_execute_complete_rejects_a_malformed_event(event):
    with pytest.raises(RealtimeKitError, match="Unexpected trigger event"):
        recording_sensor().execute_complete({}, event)


# --------------------------------------------------------------------------------------------------
# RealtimeKitActiveSessionSensor


def test_session_poke_without_session_waits(api):
    api.get("/meetings/MEET/active-session").mock(return_value=not_found())
    assert session_sensor().poke({}).is_done is False


def test_session_poke_ended_session_waits(api):
    api.get("/meetings/MEET/active-session").mock(return_value=session_answer("ENDED"))
    assert session_sensor().poke({}).is_done is False


def test_session_poke_live_session_returns_ids(api):
    api.get("/meetings/MEET/active-session").mock(return_value=session_answer("LIVE", "S-1"))
    result = session_sensor().poke({})
    assert result.is_done is True
    assert result.xcom_value == {"meeting_id": "MEET", "session_id": "S-1"}


def test_session_meeting_id_is_templated(api):
    route = api.get("/meetings/M-9/active-session").mock(return_value=session_answer("LIVE"))
    sensor = session_sensor(meeting_id="{{ params.meeting }}")
    sensor.render_template_fields({"params": {"meeting": "M-9"}})
    assert sensor.poke({}).xcom_value["meeting_id"] == "M-9"
    assert route.call_count == 1


def test_session_execute_poke_mode(api):
    api.get("/meetings/MEET/active-session").mock(side_effect=[not_found(), session_answer("LIVE", "S-2")])
    assert session_sensor(timeout=30).execute({}) == {"meeting_id": "MEET", "session_id": "S-2"}


@pytest.mark.parametrize("deferrable", [False, True])
def test_session_meeting_id_rendered_empty_is_refused(api, deferrable):
    route = api.get(url__regex=r".*").mock(return_value=session_answer("LIVE"))
    with pytest.raises(RealtimeKitPayloadError, match="meeting_id"):
        session_sensor(meeting_id="None", deferrable=deferrable).execute({})
    assert route.call_count == 0


def test_session_poke_api_failure_raises(api):
    api.get("/meetings/MEET/active-session").mock(return_value=server_error())
    with pytest.raises(RealtimeKitAPIError):
        session_sensor().poke({})


def test_deferrable_session_sensor_defers_to_the_trigger(api):
    route = api.get("/meetings/MEET/active-session").mock(return_value=session_answer("LIVE"))
    before = time.time()
    with pytest.raises(TaskDeferred) as caught:
        session_sensor(deferrable=True, timeout=50, poke_interval=5).execute({})
    trigger = caught.value.trigger
    assert isinstance(trigger, RealtimeKitActiveSessionTrigger)
    assert (trigger.meeting_id, trigger.poll_interval) == ("MEET", 5.0)
    assert before + 50 <= trigger.end_time <= time.time() + 50
    assert caught.value.method_name == "execute_complete"
    assert route.call_count == 0


def test_session_execute_complete_each_kind():
    sensor = session_sensor()
    success = {"status": "success", "meeting_id": "MEET", "session_id": "S", "message": "live"}
    assert sensor.execute_complete({}, success) == {"meeting_id": "MEET", "session_id": "S"}
    with pytest.raises(AirflowSensorTimeout, match="no live session"):
        sensor.execute_complete({}, {"status": "timeout", "meeting_id": "MEET", "message": "no live session"})
    with pytest.raises(RealtimeKitError, match="HTTP 401") as caught:
        sensor.execute_complete({}, {"status": "error", "meeting_id": "MEET", "message": "HTTP 401"})
    assert not isinstance(caught.value, AirflowFailException)


# --------------------------------------------------------------------------------------------------
# Declarations


@pytest.mark.parametrize(
    ("cls", "templated"),
    [
        (RealtimeKitRecordingSensor, {"recording_id", "realtimekit_conn_id"}),
        (RealtimeKitActiveSessionSensor, {"meeting_id", "realtimekit_conn_id"}),
    ],
)
def test_declarations_and_documented_params(cls, templated):
    assert set(cls.template_fields) == templated
    assert re.fullmatch(r"#[0-9a-f]{6}", cls.ui_color)
    documented = set(re.findall(r":param (\w+):", cls.__doc__ or ""))
    params = {
        name
        for klass in cls.__mro__
        if klass.__module__.startswith("airflow_provider_rtk")
        for name in inspect.signature(klass.__init__).parameters
        if name != "self"
    }
    assert params <= documented, params - documented
