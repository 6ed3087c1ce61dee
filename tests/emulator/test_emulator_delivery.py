"""Webhook deliveries: signed with the served key, in the background, retried on 5xx and network errors
only, with one ``rtk-uuid`` per delivery across its retries."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

DEADLINE_SECONDS = 5.0


def one_started_delivery(make_emulator, sink, *answers, delays=(0.01, 0.01, 0.01)):
    """The sink answers ``answers`` (then 200); a session starts; the finished delivery and emulator."""
    sink.answer_next(*answers)
    emulator = make_emulator(
        webhook_retry_delays=delays, webhooks=[{"name": "a", "url": sink.url, "events": ["meeting.started"]}]
    )
    emulator.start_session("m1")
    (logged,) = emulator.wait_for_webhook_deliveries(1)
    return logged, emulator


def served_key(emulator) -> str:
    answer = httpx.get(emulator.webhook_keys_url)
    assert answer.status_code == 200
    return answer.json()["data"]["publicKey"]


def test_meeting_started_is_posted_signed_to_the_subscribed_webhook(make_emulator, sink, verifies):
    emulator = make_emulator(webhooks=[{"name": "a", "url": sink.url, "events": ["meeting.started"]}])
    meeting = emulator.create_meeting("standup")
    session = emulator.start_session(meeting["id"])

    (received,) = sink.wait(1)
    assert received.headers["content-type"] == "application/json"
    assert received.headers["rtk-webhook-id"] == emulator.webhooks()[0]["id"]
    assert received.headers["rtk-uuid"]
    assert verifies(served_key(emulator), received.headers["rtk-signature"], received.body)
    body = json.loads(received.body)
    assert body["event"] == "meeting.started"
    shown = body["meeting"]
    assert shown["id"] == meeting["id"]
    assert shown["sessionId"] == session["id"]
    assert shown["title"] == "standup"
    assert shown["status"] == "LIVE"
    assert {"createdAt", "startedAt", "roomName", "organizedBy"} <= set(shown)
    assert "endedAt" not in shown


def test_only_enabled_webhooks_subscribed_to_the_event_receive_it(make_emulator, sink):
    emulator = make_emulator(
        webhooks=[
            {"name": "ended only", "url": sink.url, "events": ["meeting.ended"]},
            {"name": "off", "url": sink.url, "events": ["meeting.started"], "enabled": False},
        ]
    )
    meeting_id = emulator.create_meeting()["id"]
    emulator.start_session(meeting_id)
    emulator.end_session(meeting_id)
    (received,) = sink.wait(1)
    body = json.loads(received.body)
    assert body["event"] == "meeting.ended"
    assert body["reason"] == "ALL_PARTICIPANTS_LEFT"
    assert "endedAt" in body["meeting"]
    assert [d["event"] for d in emulator.wait_for_webhook_deliveries(1)] == ["meeting.ended"]


def test_every_recording_status_is_posted_when_it_happens(make_emulator, sink):
    emulator = make_emulator(
        invoke_delay=0.05,
        upload_delay=0.05,
        webhooks=[{"name": "r", "url": sink.url, "events": ["recording.statusUpdate"]}],
    )
    emulator.start_session("m1")
    answer = httpx.post(
        f"{emulator.app_url}/recordings/track",
        json={"meeting_id": "m1"},
        headers={"Authorization": f"Bearer {emulator.api_token}"},
    )
    recording_id = answer.json()["data"]["recording"]["id"]
    # Nobody asks the API about the recording: the statuses are posted as they fall due.
    sink.wait(2)  # INVOKED, then RECORDING after the invoke delay
    emulator.end_session("m1")
    # Deliveries run side by side (no order is promised); the log is in the order things happened.
    logged = emulator.wait_for_webhook_deliveries(4)
    assert sorted(r.body for r in sink.wait(4)) == sorted(d["body"].encode() for d in logged)
    bodies = [json.loads(d["body"]) for d in logged]
    assert [b["recording"]["status"] for b in bodies] == ["INVOKED", "RECORDING", "UPLOADING", "UPLOADED"]
    uploaded = bodies[-1]["recording"]
    assert uploaded["id"] == uploaded["recordingId"] == recording_id
    assert uploaded["meetingId"] == "m1"
    assert uploaded["roomUUID"] == bodies[-1]["meeting"]["sessionId"]
    assert isinstance(uploaded["fileSize"], str)
    assert int(uploaded["fileSize"]) > 0
    assert uploaded["downloadUrlExpiry"]
    assert bodies[0]["recording"]["fileSize"] is None


def test_a_failed_recording_is_posted_as_errored(make_emulator, sink, web):
    emulator = make_emulator(webhooks=[{"name": "r", "url": sink.url, "events": ["recording.statusUpdate"]}])
    emulator.start_session("m1")
    answer = httpx.post(
        f"{emulator.app_url}/recordings/track",
        json={"meeting_id": "m1"},
        headers={"Authorization": f"Bearer {emulator.api_token}"},
    )
    recording_id = answer.json()["data"]["recording"]["id"]
    failed = web.post(f"{emulator.origin}/_emulator/recordings/{recording_id}/fail")
    assert failed.json()["data"]["status"] == "ERRORED"
    sink.wait(3)
    logged = emulator.wait_for_webhook_deliveries(3)
    statuses = [json.loads(d["body"])["recording"]["status"] for d in logged]
    assert statuses == ["INVOKED", "RECORDING", "ERRORED"]  # zero invoke delay: RECORDING at once
    assert web.post(f"{emulator.origin}/_emulator/recordings/{recording_id}/fail").status_code == 409


def test_a_5xx_is_retried_with_the_same_uuid_body_and_signature(make_emulator, sink, verifies):
    logged, emulator = one_started_delivery(make_emulator, sink, 503, 500)
    attempts = sink.wait(3)
    assert [r.answer for r in attempts] == [503, 500, 200]
    assert len({r.headers["rtk-uuid"] for r in attempts}) == 1
    assert len({r.body for r in attempts}) == 1
    assert len({r.headers["rtk-signature"] for r in attempts}) == 1
    assert verifies(served_key(emulator), attempts[-1].headers["rtk-signature"], attempts[-1].body)
    assert logged["outcome"] == "delivered"
    assert [a["status"] for a in logged["attempts"]] == [503, 500, 200]


def test_a_network_error_is_retried(make_emulator, sink):
    logged, _ = one_started_delivery(make_emulator, sink, "drop")
    assert logged["outcome"] == "delivered"
    first, second = logged["attempts"]
    assert first["status"] is None
    assert first["error"]
    assert second["status"] == 200


@pytest.mark.parametrize("status", [400, 401, 404, 410, 429, 302])
def test_any_other_non_2xx_fails_at_once(make_emulator, sink, status):
    logged, _ = one_started_delivery(make_emulator, sink, status)
    assert logged["outcome"] == "failed"
    assert [a["status"] for a in logged["attempts"]] == [status]
    assert len(sink.received) == 1


def test_retries_stop_after_the_last_delay(make_emulator, sink):
    logged, _ = one_started_delivery(make_emulator, sink, 500, 500, 500, 500, delays=(0.01, 0.01))
    assert logged["outcome"] == "failed"
    assert [a["status"] for a in logged["attempts"]] == [500, 500, 500]


def test_a_delivery_never_holds_up_an_api_answer(make_emulator, web):
    """The receiver takes the connection and never answers: the control call that started the session
    is answered while the delivery is still under way."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        emulator = make_emulator(
            webhook_timeout=30, webhooks=[{"name": "a", "url": url, "events": ["meeting.started"]}]
        )
        answer = web.post(f"{emulator.origin}/_emulator/meetings/m1/session")
        assert answer.status_code == 200
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not emulator.webhook_deliveries() and time.monotonic() < deadline:
            time.sleep(0.01)
        (logged,) = emulator.webhook_deliveries()
        assert logged["outcome"] == "pending"
        assert logged["attempts"] == []
        emulator.stop()


def test_the_key_is_one_per_emulator_and_served_without_auth(emulator, web):
    first = web.get(emulator.webhook_keys_url)
    second = web.get(f"{emulator.origin}/.well-known/webhooks.json")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json() == second.json()
    assert first.json()["success"] is True
    assert first.json()["data"]["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert first.json()["data"]["publicKey"] == emulator.webhook_public_key()
