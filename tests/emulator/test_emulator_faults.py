"""Injected faults (status, delay, dropped connections, ``times``) and the rate limit."""

from __future__ import annotations

import time

import httpx
import pytest


@pytest.fixture(
    params=[("refuse", "asyncio"), ("accept", "asyncio"), ("refuse", "threads")],
    ids=["second-start-refused", "second-start-accepted", "threaded-server"],
)
def emulator(make_emulator, request):
    """The fault suite runs against both second-start modes, and on the threaded server too."""
    second_start, server = request.param
    return make_emulator(second_start=second_start, server=server)


RATE_LIMITED = {
    "success": False,
    "errors": [{"code": 971, "message": "Please wait and consider throttling your request speed"}],
    "messages": [],
    "result": None,
}


def test_status_fault_answers_in_the_realtimekit_envelope_once(emulator, api, live_meeting):
    recording_id = api.post("/recordings/track", json={"meeting_id": live_meeting}).json()["data"][
        "recording"
    ]["id"]
    emulator.add_fault("get_one_recording", "status", status=503, retry_after=2)

    failed = api.get(f"/recordings/{recording_id}")
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "2"
    assert failed.json()["success"] is False
    assert failed.json()["error"]["code"] == 503
    assert "Service Unavailable" in failed.json()["error"]["message"]
    assert api.get(f"/recordings/{recording_id}").status_code == 200
    assert emulator.faults() == []


def test_status_faults_for_gateway_statuses_use_the_gateway_envelope(emulator, api):
    emulator.add_fault("get_all_recordings", "status", status=429, retry_after=7)
    emulator.add_fault("get_all_recordings", "status", status=403)
    limited = api.get("/recordings")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json() == RATE_LIMITED
    forbidden = api.get("/recordings")
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["code"] == 10000
    assert "Retry-After" not in forbidden.headers


def test_status_fault_has_no_effect(emulator, api, live_meeting):
    emulator.add_fault("startTrackRecordingForAMeeting", "status", status=500)
    assert api.post("/recordings/track", json={"meeting_id": live_meeting}).status_code == 500
    assert emulator.recordings() == []


def test_delay_fault_waits_then_answers(emulator, api):
    emulator.add_fault("get_all_recordings", "delay", seconds=0.3)
    began = time.monotonic()
    assert api.get("/recordings").status_code == 200
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    assert api.get("/recordings").status_code == 200
    assert time.monotonic() - began < 0.3


def test_drop_before_closes_without_answer_or_effect(emulator, api, live_meeting):
    emulator.add_fault("startTrackRecordingForAMeeting", "drop_before")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/recordings/track", json={"meeting_id": live_meeting})
    assert emulator.recordings() == []
    assert api.post("/recordings/track", json={"meeting_id": live_meeting}).status_code == 200
    assert len(emulator.recordings()) == 1


def test_drop_after_takes_effect_but_loses_the_answer(emulator, api, live_meeting):
    emulator.add_fault("startTrackRecordingForAMeeting", "drop_after")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/recordings/track", json={"meeting_id": live_meeting})

    [recording] = emulator.recordings()
    assert recording["status"] == "RECORDING"
    assert recording["request_body"] == {"meeting_id": live_meeting}
    assert api.get(f"/recordings/active-recording/{live_meeting}").json()["data"]["id"] == recording["id"]
    again = api.post("/recordings/track", json={"meeting_id": live_meeting})
    assert again.status_code == (409 if emulator.settings.second_start == "refuse" else 200)
    assert api.get(f"/recordings/active-recording/{live_meeting}").json()["data"]["id"] == recording["id"]


def test_drop_after_on_stop(emulator, api, live_meeting):
    recording_id = api.post("/recordings/track", json={"meeting_id": live_meeting}).json()["data"][
        "recording"
    ]["id"]
    emulator.add_fault("pause_resume_stop_recording", "drop_after")
    with pytest.raises(httpx.TransportError):
        api.put(f"/recordings/{recording_id}", json={"action": "stop"})
    assert emulator.recordings()[0]["stop_reason"] == "API_CALL"


def test_times_is_honoured(emulator, api):
    emulator.add_fault("get_all_recordings", "status", status=502, times=2)
    assert [api.get("/recordings").status_code for _ in range(3)] == [502, 502, 200]

    emulator.add_fault("get_all_recordings", "status", status=500, times=None)
    assert [api.get("/recordings").status_code for _ in range(4)] == [500] * 4
    assert emulator.faults()[0]["hits"] == 4
    emulator.clear_faults()
    assert api.get("/recordings").status_code == 200


def test_fault_only_hits_its_operation_and_star_hits_all(emulator, api):
    emulator.add_fault("get_meeting", "status", status=500)
    assert api.get("/recordings").status_code == 200
    assert api.get("/meetings/whatever").status_code == 500
    emulator.add_fault("*", "status", status=504, times=2)
    assert [api.get("/recordings").status_code, api.get("/meetings").status_code] == [504, 504]
    assert api.get("/meetings").status_code == 200


def test_faults_over_http(emulator, api, web):
    control = f"{emulator.origin}/_emulator/faults"
    spec = {"operation": "get_all_meetings", "kind": "status", "status": 503, "retry_after": 1, "times": 1}
    created = web.post(control, json=spec)
    assert created.status_code == 201
    assert created.json()["data"]["operation"] == "get_all_meetings"
    assert web.get(control).json()["data"][0]["kind"] == "status"
    assert api.get("/meetings").status_code == 503
    assert api.get("/meetings").status_code == 200

    web.post(control, json={"operation": "get_all_meetings", "kind": "drop_before", "times": 5})
    assert web.delete(control).status_code == 200
    assert api.get("/meetings").status_code == 200


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"operation": "no_such_operation", "kind": "status", "status": 500}, "operation"),
        ({"operation": "get_meeting", "kind": "explode"}, "kind"),
        ({"operation": "get_meeting", "kind": "status"}, "status"),
        ({"operation": "get_meeting", "kind": "status", "status": 200}, "status"),
        ({"operation": "get_meeting", "kind": "delay"}, "seconds"),
        ({"operation": "get_meeting", "kind": "drop_after", "times": 0}, "times"),
        ({"operation": "get_meeting", "kind": "drop_after", "colour": "red"}, "colour"),
    ],
)
def test_invalid_fault_is_400(emulator, spec, field, web):
    response = web.post(f"{emulator.origin}/_emulator/faults", json=spec)
    assert response.status_code == 400
    assert f"{field}:" in response.json()["error"]["message"]
    if field != "colour":  # the method has no such argument at all
        with pytest.raises(ValueError, match=f"{field}:"):
            emulator.add_fault(**spec)


def test_rate_limit_answers_429_with_retry_after(make_emulator, client_for, web):
    emulator = make_emulator(rate_limit=3, rate_window=30)
    client = client_for(emulator)
    assert [client.get("/recordings").status_code for _ in range(3)] == [200, 200, 200]

    limited = client.get("/recordings")
    assert limited.status_code == 429
    assert limited.json() == RATE_LIMITED
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert web.get(f"{emulator.origin}/_emulator/state").status_code == 200  # control is never limited

    assert web.delete(f"{emulator.origin}/_emulator/rate-limit").status_code == 200
    assert client.get("/recordings").status_code == 200


def test_rate_limit_window_slides(emulator, api, web):
    set_limit = web.post(
        f"{emulator.origin}/_emulator/rate-limit", json={"requests": 2, "window_seconds": 0.3}
    )
    assert set_limit.json()["data"] == {"requests": 2, "window_seconds": 0.3}
    assert [api.get("/recordings").status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert api.get("/recordings").status_code == 200


def test_invalid_rate_limit_is_400(emulator, web):
    for body in ({"requests": 0}, {"requests": "many"}, {"requests": 5, "window_seconds": 0}):
        assert web.post(f"{emulator.origin}/_emulator/rate-limit", json=body).status_code == 400
