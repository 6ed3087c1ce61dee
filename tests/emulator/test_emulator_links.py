"""Download links: they serve bytes (your own with ``recording_bytes``), expire after 7 days or when
told to (``/_emulator/.../expire-links``), and then answer 403 like an expired pre-signed link."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_rtk.emulator.messages import ApiError

WEEK = 7 * 24 * 3600


def uploaded_recording(emulator: Any, api: Any) -> dict[str, Any]:
    meeting_id = emulator.create_meeting("links")["id"]
    emulator.start_session(meeting_id, ["ann", "bob"])
    recording = api.post("/recordings/track", json={"meeting_id": meeting_id}).json()["data"]["recording"]
    api.put(f"/recordings/{recording['id']}", json={"action": "stop"})
    answer: dict[str, Any] = api.get(f"/recordings/{recording['id']}").json()["data"]
    assert answer["status"] == "UPLOADED"
    return answer


def links_of(answer: dict[str, Any]) -> list[str]:
    return [
        link["download_url"] for layer in answer["download_url"] for link in layer["download_urls"].values()
    ]


def test_given_bytes_are_served_and_sized(make_emulator, client_for, web):
    content = b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 4
    emulator = make_emulator(recording_bytes=content)
    answer = uploaded_recording(emulator, client_for(emulator))
    links = links_of(answer)
    assert len(links) == 2
    for link in links:
        download = web.get(link)
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "audio/webm"
        assert download.content == content
    assert answer["file_size"] == len(content) * 2


def test_links_expire_after_a_week(make_emulator, client_for, web, fake_clock):
    emulator = make_emulator(clock=fake_clock)
    api = client_for(emulator)
    answer = uploaded_recording(emulator, api)
    [link, _] = links_of(answer)
    fake_clock.advance(WEEK - 1)
    assert web.get(link).status_code == 200
    assert api.get("/recordings", params={"expired": "true"}).json()["data"] == []
    fake_clock.advance(1)
    expired = web.get(link)
    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code>" in expired.content
    assert [r["id"] for r in api.get("/recordings", params={"expired": "true"}).json()["data"]] == [
        answer["id"]
    ]


def test_control_endpoint_and_method_expire_links_now(emulator, api, web):
    first = uploaded_recording(emulator, api)
    second = uploaded_recording(emulator, api)
    control = f"{emulator.origin}/_emulator"

    one = web.post(f"{control}/recordings/{first['id']}/expire-links")
    assert one.json()["data"] == {"expired": [first["id"]]}
    assert {web.get(link).status_code for link in links_of(first)} == {403}
    assert {web.get(link).status_code for link in links_of(second)} == {200}
    shown = api.get(f"/recordings/{first['id']}").json()["data"]
    assert (
        shown["download_url_expiry"]
        <= api.get(f"/recordings/{second['id']}").json()["data"]["download_url_expiry"]
    )

    assert sorted(emulator.expire_links()) == sorted([first["id"], second["id"]])
    assert {web.get(link).status_code for link in links_of(second)} == {403}
    assert web.post(f"{control}/expire-links").status_code == 200


def test_links_of_a_running_recording_cannot_expire(emulator, api, live_meeting, web):
    running = api.post("/recordings/track", json={"meeting_id": live_meeting}).json()["data"]["recording"]
    refused = web.post(f"{emulator.origin}/_emulator/recordings/{running['id']}/expire-links")
    assert refused.status_code == 409
    assert "not UPLOADED" in refused.json()["error"]["message"]
    assert web.post(f"{emulator.origin}/_emulator/recordings/nope/expire-links").status_code == 404
    with pytest.raises(ApiError, match="not UPLOADED"):
        emulator.expire_links(running["id"])
    assert web.get(f"{emulator.origin}/files/unknown.webm").status_code == 404
