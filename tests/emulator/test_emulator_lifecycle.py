"""The recording state machine over real HTTP: statuses, timestamps, files, and what stops a recording."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

FILE_NAME = re.compile(
    r"^(?P<prefix>[-\w\s]+)_(?P<user>[\w-]+)_(?P<peer>[0-9a-f-]{36})_audio_audio_(?P<ms>\d{13})\.webm$"
)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def file_name_parts(name: str) -> dict[str, str]:
    """prefix, user, peer and ms of a track file name (which must have the documented form)."""
    match = FILE_NAME.match(name)
    assert match is not None, name
    return match.groupdict()


def start_track(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/recordings/track", json=body)
    assert response.status_code == 200, response.text
    recording: dict[str, Any] = response.json()["data"]["recording"]
    return recording


def test_track_recording_goes_through_every_status(make_emulator, client_for, wait_for_status, web):
    emulator = make_emulator(invoke_delay=0.15, upload_delay=0.15)
    client = client_for(emulator)
    meeting_id = emulator.create_meeting("standup")["id"]
    session = emulator.start_session(meeting_id)

    started = start_track(
        client,
        {
            "meeting_id": meeting_id,
            "layers": {"default": {"file_name_prefix": "standup", "media_kind": "audio"}},
        },
    )
    assert started["status"] == "INVOKED"
    assert started["meeting_id"] == meeting_id
    assert started["session_id"] == session["id"]
    assert started["started_time"] is None
    assert started["download_url"] is None
    assert started["start_reason"]["reason"] == "API_CALL"
    assert "stop_reason" not in started

    recording_id = started["id"]
    assert wait_for_status(client, recording_id, "RECORDING")["started_time"] is not None
    paused = client.put(f"/recordings/{recording_id}", json={"action": "pause"}).json()["data"]
    assert paused["status"] == "PAUSED"
    resumed = client.put(f"/recordings/{recording_id}", json={"action": "resume"}).json()["data"]
    assert resumed["status"] == "RECORDING"
    stopped = client.put(f"/recordings/{recording_id}", json={"action": "stop"}).json()["data"]
    assert stopped["status"] == "UPLOADING"
    assert stopped["stop_reason"]["reason"] == "API_CALL"
    assert stopped["download_url"] is None

    uploaded = wait_for_status(client, recording_id, "UPLOADED")
    [layer] = uploaded["download_url"]
    assert layer["layer_name"] == "default"
    names = sorted(layer["download_urls"])
    assert [file_name_parts(name)["user"] for name in names] == ["user-1", "user-2"]
    assert all(file_name_parts(name)["prefix"] == "standup" for name in names)
    assert uploaded["output_file_name"] in names
    expiry = parse_time(uploaded["download_url_expiry"])
    stopped_at = parse_time(uploaded["stopped_time"])
    assert timedelta(days=7) <= expiry - stopped_at <= timedelta(days=7, seconds=1)
    assert parse_time(uploaded["invoked_time"]) < parse_time(uploaded["started_time"]) < stopped_at
    assert all(link["download_url"].startswith(emulator.origin) for link in layer["download_urls"].values())

    link = layer["download_urls"][names[0]]["download_url"]
    assert link.startswith(f"{emulator.origin}/files/")
    download = web.get(link)
    assert download.status_code == 200
    assert download.content.startswith(b"\x1a\x45\xdf\xa3")
    assert len(download.content) * len(names) == uploaded["file_size"]

    [snapshot] = emulator.recordings()
    assert [step["status"] for step in snapshot["status_history"]] == [
        "INVOKED",
        "RECORDING",
        "PAUSED",
        "RECORDING",
        "UPLOADING",
        "UPLOADED",
    ]
    assert snapshot["generation"] == "current"
    assert snapshot["kind"] == "track"


def test_zero_delays_move_on_at_once(emulator, api, live_meeting):
    started = start_track(api, {"meeting_id": live_meeting})
    assert started["status"] == "RECORDING"
    assert started["started_time"] == started["invoked_time"]
    assert (
        api.put(f"/recordings/{started['id']}", json={"action": "stop"}).json()["data"]["status"]
        == "UPLOADING"
    )
    assert api.get(f"/recordings/{started['id']}").json()["data"]["status"] == "UPLOADED"
    statuses = [step["status"] for step in emulator.recordings()[0]["status_history"]]
    assert statuses == ["INVOKED", "RECORDING", "UPLOADING", "UPLOADED"]


def test_durations_leave_pauses_out(make_emulator, client_for, fake_clock):
    emulator = make_emulator(invoke_delay=2, upload_delay=5, clock=fake_clock)
    client = client_for(emulator)
    meeting_id = emulator.create_meeting()["id"]
    emulator.start_session(meeting_id)
    recording_id = start_track(client, {"meeting_id": meeting_id})["id"]

    fake_clock.advance(12)  # 2 s invoked, then 10 s recording
    assert (
        client.put(f"/recordings/{recording_id}", json={"action": "pause"}).json()["data"][
            "recording_duration"
        ]
        == 10
    )
    fake_clock.advance(100)
    assert (
        client.put(f"/recordings/{recording_id}", json={"action": "resume"}).json()["data"][
            "recording_duration"
        ]
        == 10
    )
    fake_clock.advance(5)
    stopped = client.put(f"/recordings/{recording_id}", json={"action": "stop"}).json()["data"]
    assert stopped["recording_duration"] == 15
    fake_clock.advance(4.9)
    assert client.get(f"/recordings/{recording_id}").json()["data"]["status"] == "UPLOADING"
    fake_clock.advance(0.1)
    uploaded = client.get(f"/recordings/{recording_id}").json()["data"]
    assert uploaded["status"] == "UPLOADED"
    assert parse_time(uploaded["started_time"]) - parse_time(uploaded["invoked_time"]) == timedelta(seconds=2)


@pytest.mark.parametrize(
    ("actions", "refused", "message"),
    [
        ([], "pause", "cannot be paused: status is INVOKED"),
        ([], "resume", "cannot be resumed: status is INVOKED"),
        (["stop"], "stop", "already stopped"),
        (["stop"], "pause", "cannot be paused: status is UPLOADING"),
    ],
)
def test_invalid_transitions_are_400(make_emulator, client_for, actions, refused, message):
    emulator = make_emulator(invoke_delay=60, upload_delay=60)
    client = client_for(emulator)
    meeting_id = emulator.create_meeting()["id"]
    emulator.start_session(meeting_id)
    recording_id = start_track(client, {"meeting_id": meeting_id})["id"]
    for action in actions:
        assert client.put(f"/recordings/{recording_id}", json={"action": action}).status_code == 200

    response = client.put(f"/recordings/{recording_id}", json={"action": refused})
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == 400
    assert message in response.json()["error"]["message"]


def test_resume_while_recording_is_400(emulator, api, live_meeting):
    recording_id = start_track(api, {"meeting_id": live_meeting})["id"]
    response = api.put(f"/recordings/{recording_id}", json={"action": "resume"})
    assert response.status_code == 400
    assert "status is RECORDING, not PAUSED" in response.json()["error"]["message"]


def test_session_end_stops_the_recording_with_all_peers_left(emulator, api, live_meeting, web):
    recording_id = start_track(api, {"meeting_id": live_meeting})["id"]
    assert api.get(f"/recordings/active-recording/{live_meeting}").json()["data"]["id"] == recording_id

    ended = web.delete(f"{emulator.origin}/_emulator/meetings/{live_meeting}/session")
    assert ended.status_code == 200
    assert ended.json()["data"]["status"] == "ENDED"

    recording = api.get(f"/recordings/{recording_id}").json()["data"]
    assert recording["stop_reason"] == {"reason": "ALL_PEERS_LEFT"}
    assert recording["status"] == "UPLOADED"  # upload delay 0
    assert emulator.recordings()[0]["stop_reason"] == "ALL_PEERS_LEFT"
    assert api.get(f"/recordings/active-recording/{live_meeting}").status_code == 404
    assert api.get(f"/meetings/{live_meeting}/active-session").status_code == 404
    assert api.post("/recordings/track", json={"meeting_id": live_meeting}).status_code == 400


def test_max_seconds_stops_the_recording(make_emulator, client_for, fake_clock):
    emulator = make_emulator(invoke_delay=1, upload_delay=3, clock=fake_clock)
    client = client_for(emulator)
    meeting_id = emulator.create_meeting()["id"]
    emulator.start_session(meeting_id)
    body = {
        "meeting_id": meeting_id,
        "max_seconds": 60,
        "layers": {"default": {"outputs": [{"type": "REALTIMEKIT_BUCKET"}]}},
    }
    recording_id = start_track(client, body)["id"]

    fake_clock.advance(60.9)  # 1 s invoked + 59.9 s recording
    assert client.get(f"/recordings/{recording_id}").json()["data"]["status"] == "RECORDING"
    fake_clock.advance(0.1)
    expired = client.get(f"/recordings/{recording_id}").json()["data"]
    assert expired["status"] == "UPLOADING"
    assert expired["recording_duration"] == 60
    assert parse_time(expired["stopped_time"]) - parse_time(expired["started_time"]) == timedelta(seconds=60)
    fake_clock.advance(3)
    assert client.get(f"/recordings/{recording_id}").json()["data"]["status"] == "UPLOADED"


def test_max_seconds_elapses_in_real_time(emulator, api, live_meeting, wait_for_status):
    body = {
        "meeting_id": live_meeting,
        "max_seconds": 1,
        "layers": {"default": {"file_name_prefix": "short"}},
    }
    recording_id = start_track(api, body)["id"]
    assert api.get(f"/recordings/{recording_id}").json()["data"]["status"] == "RECORDING"
    uploaded = wait_for_status(api, recording_id, "UPLOADED")
    assert parse_time(uploaded["stopped_time"]) - parse_time(uploaded["started_time"]) == timedelta(seconds=1)


def test_one_active_recording_per_meeting(emulator, api, live_meeting):
    first = start_track(api, {"meeting_id": live_meeting})
    duplicate = api.post("/recordings/track", json={"meeting_id": live_meeting})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == {"code": 409, "message": duplicate.json()["error"]["message"]}
    assert first["id"] in duplicate.json()["error"]["message"]
    assert len(emulator.recordings()) == 1

    api.put(f"/recordings/{first['id']}", json={"action": "stop"})
    second = start_track(api, {"meeting_id": live_meeting})
    assert second["id"] != first["id"]
    assert api.get(f"/recordings/active-recording/{live_meeting}").json()["data"]["id"] == second["id"]


def test_user_ids_and_layers_name_the_files(emulator, api):
    meeting_id = emulator.create_meeting("interview")["id"]
    emulator.start_session(meeting_id, participants=["alice", "bob"])
    body = {
        "meeting_id": meeting_id,
        "user_ids": ["alice", "carol"],
        "layers": {"voices": {"file_name_prefix": "iv"}, "backup": {"media_kind": "audio"}},
    }
    recording_id = start_track(api, body)["id"]
    api.put(f"/recordings/{recording_id}", json={"action": "stop"})
    layers = api.get(f"/recordings/{recording_id}").json()["data"]["download_url"]

    assert [layer["layer_name"] for layer in layers] == ["voices", "backup"]
    voices = {file_name_parts(name)["user"]: file_name_parts(name) for name in layers[0]["download_urls"]}
    backup = {file_name_parts(name)["user"]: file_name_parts(name) for name in layers[1]["download_urls"]}
    assert set(voices) == set(backup) == {"alice", "carol"}
    assert {match["prefix"] for match in voices.values()} == {"iv"}
    assert {match["prefix"] for match in backup.values()} == {"default"}
    [session] = emulator.state()["sessions"]
    alice_peer = next(p["peer_id"] for p in session["participants"] if p["user_id"] == "alice")
    assert voices["alice"]["peer"] == alice_peer


def test_composite_recording_has_a_string_download_url(emulator, api, live_meeting, web):
    response = api.post(
        "/recordings", json={"meeting_id": live_meeting, "file_name_prefix": "all", "max_seconds": 120}
    )
    assert response.status_code == 200, response.text
    recording = response.json()["data"]
    assert recording["output_file_name"].startswith("all_")
    assert recording["output_file_name"].endswith(".mp4")
    assert api.post("/recordings/track", json={"meeting_id": live_meeting}).status_code == 409

    also = api.post("/recordings", json={"meeting_id": live_meeting, "allow_multiple_recordings": True})
    assert also.status_code == 200

    api.put(f"/recordings/{recording['id']}", json={"action": "stop"})
    uploaded = api.get(f"/recordings/{recording['id']}").json()["data"]
    assert uploaded["download_url"] == f"{emulator.origin}/files/{uploaded['output_file_name']}"
    assert web.get(uploaded["download_url"]).status_code == 200
    assert emulator.recordings()[0]["kind"] == "composite"
    page = web.get(
        f"{emulator.origin}/_emulator/recordings/{recording['id']}", headers={"Accept": "text/html"}
    )
    assert f'<a href="{uploaded["download_url"]}">{uploaded["output_file_name"]}</a>' in page.text


def test_storage_secrets_are_never_echoed(emulator, api, live_meeting, web):
    secrets = ["s3cr3t-password", "-----BEGIN KEY-----xyz", "AKIA-access", "aws-secret-value"]
    body = {
        "meeting_id": live_meeting,
        "layers": {
            "default": {
                "outputs": [
                    {
                        "type": "STORAGE_CONFIG",
                        "storage_config": {
                            "type": "sftp",
                            "host": "sftp.example.com",
                            "username": "rec",
                            "auth_method": "KEY",
                            "private_key": secrets[1],
                            "password": secrets[0],
                        },
                    }
                ]
            }
        },
    }
    started = api.post("/recordings/track", json=body)
    composite_body = {
        "meeting_id": live_meeting,
        "allow_multiple_recordings": True,
        "storage_config": {"type": "aws", "bucket": "b", "access_key": secrets[2], "secret": secrets[3]},
    }
    composite = api.post("/recordings", json=composite_body)
    assert started.status_code == composite.status_code == 200
    recording = started.json()["data"]["recording"]
    assert recording["storage_config"] == {
        "type": "sftp",
        "host": "sftp.example.com",
        "username": "rec",
        "auth_method": "KEY",
    }
    assert composite.json()["data"]["storage_config"] == {"type": "aws", "bucket": "b"}

    answers = [
        started.text,
        composite.text,
        api.get(f"/recordings/{recording['id']}").text,
        api.get("/recordings").text,
        api.put(f"/recordings/{recording['id']}", json={"action": "stop"}).text,
        web.get(f"{emulator.origin}/_emulator/state").text,
        web.get(f"{emulator.origin}/_emulator/recordings").text,
    ]
    for answer in answers:
        for secret in secrets:
            assert secret not in answer
    assert '"private_key": "***"' in answers[-1]
    # In-process, the exact body is kept for assertions.
    assert emulator.recordings()[0]["request_body"] == body
    assert emulator.recordings()[0]["generation"] == "legacy"


def test_concurrent_starts_record_once(emulator, api, live_meeting):
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: api.post("/recordings/track", json={"meeting_id": live_meeting}).status_code,
                range(16),
            )
        )
    assert sorted(statuses) == [200] + [409] * 15
    assert len(emulator.recordings()) == 1
