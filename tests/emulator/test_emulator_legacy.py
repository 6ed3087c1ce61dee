"""``legacy_track``: the older API, whose start-track answer is 200 with an empty body."""

from __future__ import annotations

LEGACY_BODY_LAYERS = {
    "default": {
        "file_name_prefix": "standup",
        "outputs": [
            {"type": "STORAGE_CONFIG", "storage_config": {"type": "aws", "bucket": "rec", "secret": "shh"}}
        ],
    }
}


def test_legacy_start_answers_200_with_an_empty_body(make_emulator, client_for):
    emulator = make_emulator(legacy_track=True)
    client = client_for(emulator)
    meeting_id = emulator.create_meeting("legacy")["id"]
    emulator.start_session(meeting_id)
    body = {"meeting_id": meeting_id, "max_seconds": 600, "layers": LEGACY_BODY_LAYERS}

    response = client.post("/recordings/track", json=body)

    assert response.status_code == 200
    assert response.content == b""
    [recording] = emulator.recordings()
    assert recording["request_body"] == body
    assert recording["generation"] == "legacy"
    assert recording["answered_with_empty_body"] is True
    assert recording["max_seconds"] == 600
    found = client.get("/recordings", params={"meeting_id": meeting_id}).json()["data"]
    assert [r["id"] for r in found] == [recording["id"]]
    assert client.get(f"/recordings/active-recording/{meeting_id}").json()["data"]["id"] == recording["id"]
    assert client.post("/recordings/track", json=body).status_code == 409


def test_legacy_mode_still_validates(make_emulator, client_for):
    emulator = make_emulator(legacy_track=True)
    client = client_for(emulator)
    meeting_id = emulator.create_meeting()["id"]
    emulator.start_session(meeting_id)

    no_layers = client.post("/recordings/track", json={"meeting_id": meeting_id})
    assert no_layers.status_code == 400
    assert no_layers.json()["error"]["message"] == "Invalid track recording request: layers: is required"
    bad_storage = client.post(
        "/recordings/track",
        json={"meeting_id": meeting_id, "layers": {"default": {"outputs": [{"type": "STORAGE_CONFIG"}]}}},
    )
    assert bad_storage.status_code == 400
    assert "layers.default.outputs[0].storage_config:" in bad_storage.json()["error"]["message"]
    assert emulator.recordings() == []


def test_legacy_body_in_current_mode_answers_with_the_recording(emulator, api, live_meeting):
    response = api.post("/recordings/track", json={"meeting_id": live_meeting, "layers": LEGACY_BODY_LAYERS})
    assert response.status_code == 200
    recording = response.json()["data"]["recording"]
    assert recording["output_file_name"].startswith("standup_user-1_")
    assert recording["storage_config"] == {"type": "aws", "bucket": "rec"}
    assert emulator.recordings()[0]["answered_with_empty_body"] is False
