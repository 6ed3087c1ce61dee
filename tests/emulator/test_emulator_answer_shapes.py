"""Every answer of every operation matches the project's schema of Cloudflare's description
(:mod:`tests.emulator.api_schema`): nothing is null that the description does not allow to be null."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import jsonschema
import pytest

from tests.emulator.api_schema import REFERENCE_SUCCESS, SUCCESS, answer_schema, operation_of

SECRETS = {"access_key": "AKIA-shape", "secret": "shape-secret", "password": "pw", "private_key": "key"}


class Recorder:
    """Keeps (operation, status, body) of every API answer an httpx client receives."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, int, Any]] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        operation = operation_of(response.request.method, response.request.url.path)
        if operation is not None:
            body = response.json() if response.content else None
            self.answers.append((operation, response.status_code, body))


def check_all(answers: list[tuple[str, int, Any]]) -> None:
    for operation, status, body in answers:
        try:
            jsonschema.validate(body, answer_schema(operation, status))
        except jsonschema.ValidationError as error:
            where = "/".join(str(part) for part in error.absolute_path)
            pytest.fail(f"{operation} {status} at {where or '(top)'}: {error.message}\n{body}")


@pytest.fixture
def recorded(make_emulator, fake_clock):
    """An emulator on a fake clock (1 s delays), a recording client, a plain client, and the clock."""
    emulator = make_emulator(invoke_delay=1, upload_delay=1, clock=fake_clock)
    recorder = Recorder()
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    with httpx.Client(
        base_url=emulator.app_url, headers=headers, event_hooks={"response": [recorder]}, verify=False
    ) as api:
        yield emulator, api, recorder, fake_clock


def test_every_operation_answers_in_the_described_shape(recorded, web):
    emulator, api, recorder, clock = recorded
    control = f"{emulator.origin}/_emulator"

    titled = api.post("/meetings", json={"title": "standup", "record_on_start": False}).json()["data"]
    untitled = api.post("/meetings", json={}).json()["data"]
    assert "title" not in untitled  # a string when present, never null
    api.get("/meetings")
    api.get(f"/meetings/{untitled['id']}")
    assert api.get(f"/meetings/{titled['id']}/active-session").status_code == 404

    web.post(f"{control}/meetings/{titled['id']}/session", json={"participants": ["ann", "bob"]})
    live = api.get(f"/meetings/{titled['id']}/active-session").json()["data"]
    assert "ended_at" not in live  # a string once it ended, never null
    api.get("/sessions", params={"status": "LIVE"})
    api.get(f"/sessions/{live['id']}")

    track = api.post(
        "/recordings/track",
        json={
            "meeting_id": titled["id"],
            "layers": {"voices": {"file_name_prefix": "v"}},
            "user_ids": ["ann"],
        },
    ).json()["data"]["recording"]
    assert track["status"] == "INVOKED"
    assert "stop_reason" not in track  # an object once it stopped, never null
    assert api.post("/recordings/track", json={"meeting_id": titled["id"]}).status_code == 409
    api.get(f"/recordings/active-recording/{titled['id']}")
    clock.advance(1)
    api.get(f"/recordings/{track['id']}")
    api.put(f"/recordings/{track['id']}", json={"action": "pause"})
    api.put(f"/recordings/{track['id']}", json={"action": "resume"})
    stopping = api.put(f"/recordings/{track['id']}", json={"action": "stop"}).json()["data"]
    assert stopping["stop_reason"]["reason"] == "API_CALL"
    clock.advance(1)
    uploaded = api.get(f"/recordings/{track['id']}").json()["data"]
    assert isinstance(uploaded["download_url"], list)

    storage = {"type": "sftp", "host": "h", "username": "u", "auth_method": "PASSWORD", **SECRETS}
    legacy = api.post(
        "/recordings/track",
        json={
            "meeting_id": titled["id"],
            "max_seconds": 600,
            "layers": {"default": {"outputs": [{"type": "STORAGE_CONFIG", "storage_config": storage}]}},
        },
    ).json()["data"]["recording"]
    assert legacy["storage_config"] == {
        "type": "sftp",
        "host": "h",
        "username": "u",
        "auth_method": "PASSWORD",
    }
    web.delete(f"{control}/meetings/{titled['id']}/session")
    clock.advance(1)
    api.get("/recordings", params={"meeting_id": titled["id"], "status": "UPLOADED"})
    api.get("/sessions", params={"status": "ENDED"})

    web.post(f"{control}/meetings/{untitled['id']}/session")
    composite = api.post("/recordings", json={"meeting_id": untitled["id"], "max_seconds": 120}).json()[
        "data"
    ]
    clock.advance(1)
    api.put(f"/recordings/{composite['id']}", json={"action": "stop"})
    clock.advance(1)
    assert isinstance(api.get(f"/recordings/{composite['id']}").json()["data"]["download_url"], str)
    api.get("/recordings", params={"per_page": 2, "page_no": 2})

    assert api.post("/recordings/track", json={"meeting_id": ""}).status_code == 400
    assert api.get("/recordings/no-such-recording").status_code == 404
    assert api.get(f"/recordings/active-recording/{titled['id']}").status_code == 404
    assert api.get("/recordings", headers={"Authorization": "Bearer wrong"}).status_code == 401
    web.post(f"{control}/rate-limit", json={"requests": 1, "window_seconds": 60})
    api.get("/meetings")
    assert api.get("/meetings").status_code == 429

    check_all(recorder.answers)
    succeeded = {operation for operation, status, _ in recorder.answers if 200 <= status < 300}
    assert succeeded == set(SUCCESS)
    assert {status for _, status, _ in recorder.answers} >= {200, 201, 400, 401, 404, 409, 429}


def test_webhook_and_transcript_operations_answer_in_the_reference_shape(recorded, web):
    emulator, api, recorder, clock = recorded
    body = {"name": "n", "url": "https://example.com/hook", "events": ["meeting.started"]}
    webhook = api.post("/webhooks", json=body).json()["data"]
    api.get("/webhooks")
    api.get(f"/webhooks/{webhook['id']}")
    api.patch(f"/webhooks/{webhook['id']}", json={"enabled": False})
    api.put(f"/webhooks/{webhook['id']}", json=body)
    api.delete(f"/webhooks/{webhook['id']}")
    assert api.post("/webhooks", json={}).status_code == 400

    meeting = api.post("/meetings", json={"transcribe_on_end": True}).json()["data"]
    emulator.start_session(meeting["id"])
    session_id = emulator.end_session(meeting["id"])["id"]
    assert api.get(f"/sessions/{session_id}/transcript").status_code == 404
    clock.advance(60)
    api.get(f"/sessions/{session_id}/transcript")
    api.post(f"/sessions/{session_id}/summary")
    clock.advance(60)
    api.get(f"/sessions/{session_id}/summary")

    check_all(recorder.answers)
    succeeded = {operation for operation, status, _ in recorder.answers if 200 <= status < 300}
    assert succeeded - set(SUCCESS) == set(REFERENCE_SUCCESS)


def test_legacy_mode_start_has_no_body_and_the_rest_keeps_its_shape(make_emulator):
    emulator = make_emulator(legacy_track=True)
    recorder = Recorder()
    meeting_id = emulator.create_meeting()["id"]
    emulator.start_session(meeting_id)
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    with httpx.Client(
        base_url=emulator.app_url, headers=headers, event_hooks={"response": [recorder]}, verify=False
    ) as api:
        started = api.post("/recordings/track", json={"meeting_id": meeting_id, "layers": {"default": {}}})
        assert (started.status_code, started.content) == (200, b"")
        api.get(f"/recordings/active-recording/{meeting_id}")
        api.get("/recordings")
    check_all(recorder.answers[1:])
    assert len(recorder.answers) == 3


@pytest.mark.parametrize(
    ("operation", "answer", "spoil"),
    [
        (
            "get_one_recording",
            {
                "success": True,
                "data": {
                    "id": "r",
                    "status": "RECORDING",
                    "invoked_time": "2026-12-01T10:00:00.000Z",
                    "started_time": None,
                    "stopped_time": None,
                    "output_file_name": "f.webm",
                    "file_size": None,
                    "download_url": None,
                    "download_url_expiry": None,
                    "audio_download_url": None,
                    "session_id": "s",
                },
            },
            lambda data: data["data"].update(stop_reason=None),
        ),
        (
            "GetActiveSession",
            {
                "success": True,
                "data": {
                    "id": "s",
                    "associated_id": "m",
                    "meeting_display_name": "",
                    "type": "meeting",
                    "status": "LIVE",
                    "live_participants": 1,
                    "max_concurrent_participants": 1,
                    "minutes_consumed": 0,
                    "organization_id": "o",
                    "started_at": "2026-12-01T10:00:00.000Z",
                    "created_at": "2026-12-01T10:00:00.000Z",
                    "updated_at": "2026-12-01T10:00:00.000Z",
                },
            },
            lambda data: data["data"].update(ended_at=None),
        ),
        (
            "get_meeting",
            {"success": True, "data": {"id": "m", "created_at": "2026-12-01T10:00:00Z", "updated_at": "x"}},
            lambda data: data["data"].update(title=None),
        ),
    ],
)
def test_the_schema_refuses_nulls_the_description_does_not_allow(operation, answer, spoil):
    good = copy.deepcopy(answer)
    if operation == "get_meeting":
        good["data"]["updated_at"] = good["data"]["created_at"]
    jsonschema.validate(good, answer_schema(operation, 200))
    spoil(good)
    with pytest.raises(jsonschema.ValidationError, match="None is not"):
        jsonschema.validate(good, answer_schema(operation, 200))
