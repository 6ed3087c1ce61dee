"""The receiver's door: signature, size, shape, and a 2xx only once the delivery is recorded."""

from __future__ import annotations

import gzip
import json
import logging
from typing import TYPE_CHECKING

import httpx
import pytest

from airflow_provider_rtk.webhooks.app import MAX_BODY_BYTES
from airflow_provider_rtk.webhooks.signature import MIN_REFETCH_INTERVAL
from tests.webhook_keys import KeyPair, key_pair

if TYPE_CHECKING:
    from tests.unit.webhooks.conftest import Receiver

STARTED = json.dumps(
    {"event": "meeting.started", "meeting": {"id": "standup", "sessionId": "session-1", "title": "Standup"}}
).encode()


def test_a_well_signed_delivery_is_recorded_and_answered_200(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    answer = receiver.post(STARTED, signed_by=signing_key)

    assert answer.status_code == 200, answer.text
    assert [(d.uuid, d.session_id) for d in receiver.recorded] == [("delivery-1", "session-1")]


def test_a_webhook_url_with_a_trailing_slash_is_served_not_redirected(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    """``ensure_webhook`` takes ``.../webhooks/<conn>/`` for the same URL; a redirect (307) is a
    non-2xx, which the service may record as failed and never retry."""
    answer = receiver.post(
        STARTED, signed_by=signing_key, conn_id="realtimekit_default/", follow_redirects=False
    )

    assert answer.status_code == 200, answer.text
    assert [d.uuid for d in receiver.recorded] == ["delivery-1"]


def test_an_unsigned_delivery_is_refused_without_fetching_the_key(receiver: Receiver) -> None:
    answer = receiver.post(STARTED)

    assert answer.status_code == 401
    assert receiver.recorded == []
    assert receiver.page.call_count == 0


@pytest.mark.parametrize("signature", ["not base64 !", "", "  "])
def test_a_garbled_signature_header_is_refused(receiver: Receiver, signature: str) -> None:
    assert receiver.post(STARTED, signature=signature).status_code == 401
    assert receiver.recorded == []


def test_a_delivery_signed_by_another_key_is_refused(receiver: Receiver, signing_key: KeyPair) -> None:
    receiver.post(STARTED, signed_by=signing_key)  # the key is fetched and held

    answer = receiver.post(STARTED, signed_by=key_pair(1), uuid="delivery-2")

    assert answer.status_code == 401
    assert [d.uuid for d in receiver.recorded] == ["delivery-1"]


def test_a_body_altered_after_signing_is_refused(receiver: Receiver, signing_key: KeyPair) -> None:
    signature = signing_key.sign(STARTED)
    altered = STARTED.replace(b"session-1", b"session-2")
    reserialised = json.dumps(json.loads(STARTED), indent=2).encode()  # same JSON, other bytes

    assert receiver.post(altered, signature=signature).status_code == 401
    assert receiver.post(reserialised, signature=signature).status_code == 401
    assert receiver.recorded == []


def test_a_compressed_body_is_verified_as_sent_and_never_decoded(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    """``Content-Encoding: gzip``: the signature is checked over the bytes on the wire (a signature of
    the JSON inside does not verify), and bytes that verify but are no JSON are refused."""
    packed = gzip.compress(STARTED)
    answers = [
        receiver.client.post(
            "/webhooks/realtimekit_default",
            content=packed,
            headers={"content-encoding": "gzip", "rtk-signature": signature, "rtk-uuid": "gz"},
        ).status_code
        for signature in (signing_key.sign(STARTED), signing_key.sign(packed))
    ]

    assert answers == [401, 400]
    assert receiver.recorded == []


def test_a_rotated_key_is_fetched_again_once_and_then_verifies(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    assert receiver.post(STARTED, signed_by=signing_key).status_code == 200
    rotated = key_pair(1)
    receiver.page.respond(200, json=rotated.page)
    receiver.clock.now += MIN_REFETCH_INTERVAL + 1

    answer = receiver.post(STARTED, signed_by=rotated, uuid="delivery-2")

    assert answer.status_code == 200, answer.text
    assert receiver.page.call_count == 2
    assert [d.uuid for d in receiver.recorded] == ["delivery-1", "delivery-2"]


def test_forged_deliveries_cannot_make_the_key_be_fetched_more_than_once_an_interval(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    forger = key_pair(1)
    receiver.post(STARTED, signed_by=signing_key)
    for index in range(30):
        assert receiver.post(STARTED, signed_by=forger, uuid=f"forged-{index}").status_code == 401
    assert receiver.page.call_count == 1  # the key is younger than the interval: no refetch

    receiver.clock.now += MIN_REFETCH_INTERVAL + 1
    for index in range(30):
        assert receiver.post(STARTED, signed_by=forger, uuid=f"later-{index}").status_code == 401

    assert receiver.page.call_count == 2  # one refetch for the whole flood
    assert [d.uuid for d in receiver.recorded] == ["delivery-1"]


def test_an_unreachable_key_page_is_a_503_so_the_service_retries(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    receiver.page.side_effect = httpx.ConnectError("down")

    answer = receiver.post(STARTED, signed_by=signing_key)

    assert answer.status_code == 503
    assert receiver.recorded == []


def test_a_key_page_of_the_wrong_shape_is_a_503(receiver: Receiver, signing_key: KeyPair) -> None:
    receiver.page.respond(200, json={"success": True, "data": {"publicKey": "not a key"}})

    assert receiver.post(STARTED, signed_by=signing_key).status_code == 503
    assert receiver.recorded == []


def test_the_key_fetch_sends_no_credentials(receiver: Receiver, signing_key: KeyPair) -> None:
    receiver.post(STARTED, signed_by=signing_key)

    request = receiver.page.calls.last.request
    assert "authorization" not in {name.lower() for name in request.headers}
    assert "cookie" not in {name.lower() for name in request.headers}


def test_an_oversized_body_is_refused_before_anything_is_recorded(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    huge = b'{"event": "meeting.started", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'

    answer = receiver.post(huge, signature=signing_key.sign(b"whatever"))

    assert answer.status_code == 413
    assert receiver.recorded == []
    assert receiver.page.call_count == 0  # refused before the key is even needed


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_the_body_limit_is_exact(receiver: Receiver, signing_key: KeyPair, declared: bool) -> None:
    head = b'{"event": "meeting.participantJoined", "pad": "'
    at_limit = head + b"x" * (MAX_BODY_BYTES - len(head) - 2) + b'"}'
    answers = []
    for uuid, body in (("at-limit", at_limit), ("one-over", at_limit + b" ")):  # still JSON
        answers.append(
            receiver.client.post(
                "/webhooks/realtimekit_default",
                content=body if declared else iter([body]),
                headers={"rtk-signature": signing_key.sign(body), "rtk-uuid": uuid},
            ).status_code
        )

    assert len(at_limit) == MAX_BODY_BYTES
    assert answers == [200, 413]
    assert [d.uuid for d in receiver.recorded] == ["at-limit"]


def test_an_oversized_body_without_a_length_is_refused_while_it_is_read(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    def chunks():
        for _ in range(MAX_BODY_BYTES // 65536 + 4):
            yield b"x" * 65536

    answer = receiver.client.post(
        "/webhooks/realtimekit_default",
        content=chunks(),
        headers={"rtk-signature": signing_key.sign(b"x"), "rtk-uuid": "big"},
    )

    assert answer.status_code == 413
    assert receiver.recorded == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all: token=secret-token-value",
        b"[1, 2]",
        json.dumps({"event": "meeting.started", "meeting": {"id": "standup"}}).encode(),
        json.dumps({"event": "meeting.started", "meeting": {"id": "../x", "sessionId": "s"}}).encode(),
        json.dumps({"event": "recording.statusUpdate", "recording": {"id": "r1"}}).encode(),
        json.dumps({"meeting": {}}).encode(),
        b'{"event": "meeting.started", "meeting": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["not-json", "not-object", "no-session", "bad-id", "no-status", "no-event", "nested-too-deep"],
)
def test_a_signed_body_that_cannot_be_read_is_refused_and_not_echoed(
    receiver: Receiver, signing_key: KeyPair, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = receiver.post(body, signed_by=signing_key)

    assert answer.status_code == 400
    assert receiver.recorded == []
    assert "secret-token-value" not in answer.text
    assert "secret-token-value" not in caplog.text


def test_a_delivery_without_rtk_uuid_is_refused(receiver: Receiver, signing_key: KeyPair) -> None:
    assert receiver.post(STARTED, signed_by=signing_key, uuid=None).status_code == 400
    assert receiver.recorded == []


def test_a_recording_failure_is_a_503_so_the_service_retries(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    receiver.fail_recording = RuntimeError("database is locked")

    answer = receiver.post(STARTED, signed_by=signing_key)

    assert answer.status_code == 503
    assert "database" not in answer.text


def test_unknown_and_misconfigured_connections(receiver: Receiver, signing_key: KeyPair) -> None:
    """An unknown connection is answered as a bad signature (it cannot be verified): the public path
    must not tell anyone which connection ids this Airflow has (``aws_prod``, ``finance_db``, ...)."""
    forged = receiver.post(STARTED, signed_by=key_pair(1), uuid="forged")
    unknown = receiver.post(STARTED, signed_by=signing_key, conn_id="missing")
    assert (
        (unknown.status_code, unknown.json())
        == (forged.status_code, forged.json())
        == (
            401,
            {"detail": "the signature does not verify"},
        )
    )
    assert receiver.post(STARTED, signed_by=signing_key, conn_id="misconfigured").status_code == 500
    assert receiver.post(STARTED, signed_by=signing_key, conn_id="bad%20id").status_code == 404
    assert receiver.recorded == []


def test_the_route_does_nothing_else(receiver: Receiver) -> None:
    assert receiver.client.get("/webhooks/realtimekit_default").status_code == 405
    assert receiver.client.get("/docs").status_code == 404
    assert receiver.client.get("/openapi.json").status_code == 404


def test_a_key_page_that_is_down_is_asked_at_most_once_an_interval(
    receiver: Receiver, signing_key: KeyPair
) -> None:
    forger = key_pair(1)
    assert receiver.post(STARTED, signed_by=signing_key).status_code == 200
    receiver.clock.now += MIN_REFETCH_INTERVAL + 1
    receiver.page.side_effect = httpx.ConnectError("down")

    answers = [receiver.post(STARTED, signed_by=forger, uuid=f"f-{i}").status_code for i in range(20)]

    assert set(answers) == {503}  # the key may have rotated: the service is asked to retry
    assert receiver.page.call_count == 2


def test_with_no_key_at_all_a_flood_makes_one_fetch(receiver: Receiver) -> None:
    receiver.page.side_effect = httpx.ConnectError("down")

    answers = [receiver.post(STARTED, signed_by=key_pair(1), uuid=f"f-{i}").status_code for i in range(20)]

    assert set(answers) == {503}
    assert receiver.page.call_count == 1
