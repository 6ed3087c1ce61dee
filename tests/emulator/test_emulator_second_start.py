"""The second-start option: a track start while the meeting is already being recorded is refused (409 by
default, status and message configurable) or accepted (two recordings at once), as the user chooses."""

from __future__ import annotations

import pytest

from airflow_provider_rtk.emulator.emulator import RealtimeKitEmulator


def live_meeting_of(emulator: RealtimeKitEmulator) -> str:
    meeting_id: str = emulator.create_meeting("standup")["id"]
    emulator.start_session(meeting_id)
    return meeting_id


def test_refuse_is_the_default_with_409_and_already_being_recorded(make_emulator, client_for):
    emulator = make_emulator()
    assert emulator.settings.second_start == "refuse"
    api, meeting_id = client_for(emulator), live_meeting_of(emulator)
    first = api.post("/recordings/track", json={"meeting_id": meeting_id}).json()["data"]["recording"]

    refused = api.post("/recordings/track", json={"meeting_id": meeting_id})

    assert refused.status_code == 409
    message = refused.json()["error"]["message"]
    assert "already being recorded" in message
    assert meeting_id in message
    assert first["id"] in message
    assert len(emulator.recordings()) == 1


def test_refusal_status_and_message_are_options(make_emulator, client_for):
    emulator = make_emulator(
        second_start_status=400, second_start_message="busy: {meeting_id} has {recording_id} {other}"
    )
    api, meeting_id = client_for(emulator), live_meeting_of(emulator)
    first = api.post("/recordings/track", json={"meeting_id": meeting_id}).json()["data"]["recording"]

    refused = api.post("/recordings/track", json={"meeting_id": meeting_id})

    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": 400,
        "message": f"busy: {meeting_id} has {first['id']} {{other}}",
    }


def test_accept_records_twice_and_active_recording_is_the_earliest(make_emulator, client_for):
    emulator = make_emulator(second_start="accept")
    api, meeting_id = client_for(emulator), live_meeting_of(emulator)
    first = api.post("/recordings/track", json={"meeting_id": meeting_id})
    second = api.post("/recordings/track", json={"meeting_id": meeting_id})

    assert (first.status_code, second.status_code) == (200, 200)
    ids = [answer.json()["data"]["recording"]["id"] for answer in (first, second)]
    assert ids[0] != ids[1]
    assert [r["status"] for r in emulator.recordings()] == ["RECORDING", "RECORDING"]
    assert api.get(f"/recordings/active-recording/{meeting_id}").json()["data"]["id"] == ids[0]

    api.put(f"/recordings/{ids[0]}", json={"action": "stop"})
    assert api.get(f"/recordings/active-recording/{meeting_id}").json()["data"]["id"] == ids[1]
    emulator.end_session(meeting_id)
    assert api.get(f"/recordings/active-recording/{meeting_id}").status_code == 404
    assert {r["stop_reason"] for r in emulator.recordings()} == {"API_CALL", "ALL_PEERS_LEFT"}


def test_accept_still_needs_a_live_session(make_emulator, client_for):
    emulator = make_emulator(second_start="accept")
    api = client_for(emulator)
    meeting_id = emulator.create_meeting("empty")["id"]
    assert api.post("/recordings/track", json={"meeting_id": meeting_id}).status_code == 400


def test_composite_follows_its_documented_allow_multiple_in_both_modes(make_emulator, client_for):
    for mode in ("refuse", "accept"):
        emulator = make_emulator(second_start=mode, second_start_status=423)
        api, meeting_id = client_for(emulator), live_meeting_of(emulator)
        assert api.post("/recordings", json={"meeting_id": meeting_id}).status_code == 200
        assert api.post("/recordings", json={"meeting_id": meeting_id}).status_code == 423
        multiple = {"meeting_id": meeting_id, "allow_multiple_recordings": True}
        assert api.post("/recordings", json=multiple).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"second_start": "sometimes"}, "second_start must be one of refuse, accept"),
        ({"second_start_status": 200}, "second_start_status must be an HTTP error status"),
        ({"second_start_status": True}, "second_start_status must be an HTTP error status"),
        ({"second_start_message": "  "}, "second_start_message must be a non-empty string"),
    ],
)
def test_bad_second_start_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        RealtimeKitEmulator(**options)
