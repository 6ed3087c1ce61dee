"""Bodies and queries the emulator refuses: 400 in RealtimeKit's envelope, naming the field path."""

from __future__ import annotations

from typing import Any

import pytest

MEETING = "6bf2b8be-04dd-4191-b602-1128921a306b"


def sftp_output(**storage: Any) -> dict[str, Any]:
    return {"outputs": [{"type": "STORAGE_CONFIG", "storage_config": {"type": "sftp", **storage}}]}


PREFIX = "Invalid track recording request: "


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        pytest.param({"layers": {"default": {}}}, "meeting_id: is required", id="missing-meeting"),
        pytest.param(
            {"meeting_id": MEETING, "layers": {"default": {"media_kind": "video"}}},
            "layers.default.media_kind: must be one of audio",
            id="current-media-kind",
        ),
        pytest.param(
            {"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": "a/b"}}},
            r"layers.default.file_name_prefix: must match ^[-\w\s]+$ (letters, digits, _, -, spaces)",
            id="current-prefix",
        ),
        pytest.param(
            {"meeting_id": MEETING, "user_ids": []},
            "user_ids: must hold 1 to 100 items",
            id="current-empty-user-ids",
        ),
        pytest.param(
            {"meeting_id": MEETING, "user_ids": ["x" * 257]},
            "user_ids[0]: must be at most 256 characters long",
            id="current-long-user-id",
        ),
        pytest.param(
            {"meeting_id": MEETING, "layers": {"default": sftp_output(username="u")}},
            "layers.default.outputs[0].storage_config.host: is required for sftp storage",
            id="legacy-sftp-host",
        ),
        pytest.param(
            {
                "meeting_id": MEETING,
                "layers": {
                    "default": {
                        "outputs": [{"type": "STORAGE_CONFIG", "storage_config": {"type": "dropbox"}}]
                    }
                },
            },
            "layers.default.outputs[0].storage_config.type: "
            "must be one of aws, azure, digitalocean, gcs, sftp",
            id="legacy-storage-type",
        ),
        pytest.param(
            {"meeting_id": MEETING, "max_seconds": 0, "layers": {"default": {}}},
            "max_seconds: must be a number above 0 and at most 86400",
            id="legacy-max-seconds",
        ),
        pytest.param(
            {"meeting_id": MEETING, "max_seconds": 60, "user_ids": ["u"], "layers": {"d": {}}},
            "user_ids: is not a field of this object (the legacy body has max_seconds and "
            "layers.*.outputs, not user_ids or media_kind)",
            id="mixed-generations",
        ),
        pytest.param(
            {"meeting_id": MEETING, "surprise": 1},
            "surprise: is not a field of this object",
            id="unknown-field",
        ),
        pytest.param(["not", "an", "object"], "(body): must be an object", id="not-an-object"),
        pytest.param(
            {"meeting_id": "", "user_ids": ["", 3], "layers": {"a": {"x": 1}, "b": []}},
            "meeting_id: must not be empty; layers.a.x: is not a field of this object; "
            "layers.b: must be an object; user_ids[0]: must not be empty; user_ids[1]: must be a string",
            id="every-problem-listed",
        ),
        pytest.param(
            {
                "meeting_id": MEETING,
                "max_seconds": True,
                "layers": {
                    "default": {
                        "outputs": [
                            {
                                "type": "STORAGE_CONFIG",
                                "storage_config": {
                                    "type": "sftp",
                                    "host": "h",
                                    "username": "u",
                                    "auth_method": "KEY",
                                    "port": 70000,
                                },
                            },
                            {"storage_config": {"type": "aws"}},
                            5,
                        ]
                    }
                },
            },
            "layers.default.outputs[0].storage_config.port: must be a whole number at least 1 and at most "
            "65535; layers.default.outputs[0].storage_config.private_key: is required when auth_method is "
            "KEY; layers.default.outputs[1].storage_config: is only for a STORAGE_CONFIG output; "
            "layers.default.outputs[2]: must be an object; max_seconds: must be a number",
            id="legacy-outputs",
        ),
        pytest.param(
            {
                "meeting_id": MEETING,
                "layers": {
                    "default": {
                        "outputs": [
                            {
                                "type": "STORAGE_CONFIG",
                                "storage_config": {"type": "aws", "auth_method": "KEY"},
                            }
                        ]
                    }
                },
            },
            "layers.default.outputs[0].storage_config.auth_method: is only for sftp storage, not aws",
            id="auth-method-not-sftp",
        ),
    ],
)
def test_invalid_track_body_is_400_naming_every_field(emulator, api, body, problems):
    response = api.post("/recordings/track", json=body)

    assert response.status_code == 400
    assert response.json() == {"success": False, "error": {"code": 400, "message": PREFIX + problems}}
    assert emulator.recordings() == []


def test_unknown_fields_can_be_ignored(make_emulator, client_for):
    emulator = make_emulator(unknown_fields="ignore")
    api = client_for(emulator)
    meeting_id = emulator.create_meeting("standup")["id"]
    emulator.start_session(meeting_id)
    body = {"meeting_id": meeting_id, "surprise": 1, "layers": {"default": {"colour": "red"}}}

    started = api.post("/recordings/track", json=body)

    assert started.status_code == 200, started.text
    assert emulator.recordings()[0]["request_body"] == body
    bad = api.post("/recordings/track", json={"meeting_id": meeting_id, "user_ids": [], "x": 1})
    assert bad.json()["error"]["message"] == PREFIX + "user_ids: must hold 1 to 100 items"


def test_validation_comes_before_existence(api):
    response = api.post(
        "/recordings/track", json={"meeting_id": "no-such-meeting", "layers": {"x": {"media_kind": "v"}}}
    )
    assert response.status_code == 400
    assert "layers.x.media_kind" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{not json", "not valid JSON"), (b"", "a JSON body is required"), (b"\xc3\x28", "not UTF-8")],
)
def test_malformed_body_is_400(api, content, fragment):
    response = api.post("/recordings/track", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_valid_bodies_of_both_generations_are_accepted(emulator, api, live_meeting):
    current = api.post("/recordings/track", json={"meeting_id": live_meeting, "user_ids": ["user-1"]})
    assert current.status_code == 200
    api.put(f"/recordings/{current.json()['data']['recording']['id']}", json={"action": "stop"})
    legacy = api.post(
        "/recordings/track",
        json={
            "meeting_id": live_meeting,
            "max_seconds": 3600,
            "layers": {"default": sftp_output(host="h", username="u")},
        },
    )
    assert legacy.status_code == 200
    assert [r["generation"] for r in emulator.recordings()] == ["current", "legacy"]


@pytest.mark.parametrize(
    ("body", "path"),
    [({"action": "explode"}, "action"), ({}, "action"), ({"action": "stop", "extra": 1}, "extra")],
)
def test_invalid_action_is_400(api, live_meeting, body, path):
    recording_id = api.post("/recordings/track", json={"meeting_id": live_meeting}).json()["data"][
        "recording"
    ]["id"]
    response = api.put(f"/recordings/{recording_id}", json=body)
    assert response.status_code == 400
    assert f"{path}:" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"meeting_id": MEETING, "max_seconds": 30}, "max_seconds"),
        ({"max_seconds": 120}, "meeting_id"),
        ({"meeting_id": MEETING, "storage_config": {"type": "sftp", "username": "u"}}, "storage_config.host"),
    ],
)
def test_invalid_composite_body_is_400(api, body, path):
    response = api.post("/recordings", json=body)
    assert response.status_code == 400
    assert f"{path}:" in response.json()["error"]["message"]


def test_invalid_meeting_body_is_400(api):
    response = api.post("/meetings", json={"title": ["not", "text"]})
    assert response.status_code == 400
    assert "title:" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"page_no": "abc"}, "page_no"),
        ({"per_page": "-1"}, "per_page"),
        ({"status": "RECORDING,BOGUS"}, "status"),
        ({"sort_order": "SIDEWAYS"}, "sort_order"),
        ({"sort_by": "title"}, "sort_by"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"expired": "maybe"}, "expired"),
    ],
)
def test_invalid_query_is_400(api, params, name):
    response = api.get("/recordings", params=params)
    assert response.status_code == 400
    assert f"{name}:" in response.json()["error"]["message"]
