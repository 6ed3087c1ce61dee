"""Control endpoints that deliver a chosen webhook now (also forged or repeated) and show the log."""

from __future__ import annotations

import base64
import json

import pytest

EVENTS = ["meeting.started", "meeting.ended", "recording.statusUpdate"]


@pytest.fixture
def hooked(make_emulator, sink):
    """An emulator with one webhook (to the sink) for the meeting events, and a live meeting m1."""
    emulator = make_emulator(webhooks=[{"name": "sink", "url": sink.url, "events": EVENTS}])
    emulator.start_session("m1")
    sink.wait(1)  # the real meeting.started
    return emulator


def deliver(web, emulator, **body):
    answer = web.post(f"{emulator.origin}/_emulator/webhooks/deliveries", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["data"]


def test_a_chosen_event_is_delivered_now_signed(hooked, sink, web, verifies):
    (made,) = deliver(web, hooked, event="meeting.started", meeting_id="m1")
    received = sink.wait(2)[1]
    assert received.headers["rtk-uuid"] == made["rtk_uuid"]
    assert received.body.decode() == made["body"]
    assert json.loads(received.body)["meeting"]["id"] == "m1"
    assert verifies(hooked.webhook_public_key(), received.headers["rtk-signature"], received.body)


@pytest.mark.parametrize("forge", ["bad_signature", "wrong_key", "body_changed", "body_reformatted"])
def test_forged_deliveries_do_not_verify(hooked, sink, web, verifies, forge):
    deliver(web, hooked, event="meeting.started", meeting_id="m1", forge=forge)
    received = sink.wait(2)[1]
    signature = received.headers["rtk-signature"]
    assert len(base64.b64decode(signature)) == 256  # well-formed: only the check can tell
    assert not verifies(hooked.webhook_public_key(), signature, received.body)
    if forge == "body_changed":
        assert json.loads(received.body)["tampered"] is True
    if forge == "body_reformatted":
        genuine = json.loads(sink.received[0].body)
        assert json.loads(received.body)["event"] == genuine["event"]
        assert b"\n" in received.body


def test_an_unsigned_delivery_has_no_signature_header(hooked, sink, web):
    (made,) = deliver(web, hooked, event="meeting.ended", meeting_id="m1", forge="no_signature")
    received = sink.wait(2)[1]
    assert "rtk-signature" not in received.headers
    assert made["forged"] == "no_signature"


def test_a_repeated_delivery_is_the_same_bytes_uuid_and_signature(hooked, sink, web, verifies):
    first = sink.received[0]
    answer = web.post(
        f"{hooked.origin}/_emulator/webhooks/deliveries/{first.headers['rtk-uuid']}/repeat", json={}
    )
    assert answer.status_code == 202
    again = sink.wait(2)[1]
    assert again.body == first.body
    assert again.headers["rtk-uuid"] == first.headers["rtk-uuid"]
    assert again.headers["rtk-signature"] == first.headers["rtk-signature"]
    assert verifies(hooked.webhook_public_key(), again.headers["rtk-signature"], again.body)
    assert answer.json()["data"]["repeat_of"] == first.headers["rtk-uuid"]


def test_a_chosen_rtk_uuid_and_a_given_url(hooked, sink, web):
    other = hooked.webhooks()[0]["id"]
    made = deliver(
        web,
        hooked,
        event="meeting.ended",
        session_id=hooked.state()["sessions"][0]["id"],
        url=sink.url,
        webhook_id=other,
        rtk_uuid="same-uuid",
    )
    assert [d["url"] for d in made] == [sink.url]
    received = sink.wait(2)[1]
    assert received.headers["rtk-uuid"] == "same-uuid"
    assert received.headers["rtk-webhook-id"] == other


def test_a_url_with_no_webhook_gets_the_event(make_emulator, sink, web):
    emulator = make_emulator()
    deliver(web, emulator, event="meeting.summary", payload={"meeting": {"id": "x"}}, url=sink.url)
    (received,) = sink.wait(1)
    assert json.loads(received.body) == {"event": "meeting.summary", "meeting": {"id": "x"}}
    assert received.headers["rtk-webhook-id"]


def test_the_delivery_log(hooked, sink, web):
    deliver(web, hooked, event="meeting.ended", meeting_id="m1")
    hooked.wait_for_webhook_deliveries(2)
    log = web.get(f"{hooked.origin}/_emulator/webhooks/deliveries").json()["data"]
    assert [d["event"] for d in log] == ["meeting.started", "meeting.ended"]
    ended = web.get(f"{hooked.origin}/_emulator/webhooks/deliveries?event=meeting.ended").json()["data"]
    (entry,) = ended
    assert entry["outcome"] == "delivered"
    assert entry["attempts"][0]["status"] == 200
    assert set(entry["headers"]) >= {"rtk-signature", "rtk-uuid", "rtk-webhook-id", "Content-Type"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"event": "meeting.exploded", "meeting_id": "m1"}, "event: must be one of"),
        ({"event": "recording.statusUpdate"}, "recording_id: is required"),
        ({"event": "meeting.started"}, "session_id or meeting_id"),
        ({"event": "meeting.started", "meeting_id": "m1", "forge": "sneaky"}, "forge: must be one of"),
        ({"event": "meeting.transcript", "meeting_id": "m1"}, "No transcript available"),
    ],
)
def test_a_bad_delivery_request_is_refused(hooked, web, body, message):
    answer = web.post(f"{hooked.origin}/_emulator/webhooks/deliveries", json=body)
    assert answer.status_code in (400, 409)
    assert message in answer.json()["error"]["message"]
