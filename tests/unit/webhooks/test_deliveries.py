"""What a delivery says: the same event fields as the polled ones, and never a link."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_provider_rtk.assets import (
    recording_asset_extra,
    session_ids_from_asset_events,
    sessions_from_asset_events,
)
from airflow_provider_rtk.models import ActiveSession, Recording
from airflow_provider_rtk.triggers.events import LiveSessionEvent
from airflow_provider_rtk.webhooks.deliveries import DeliveryError, delivery_uuid, parse_delivery

LINK = "https://recordings.example.test/file.mp4?X-Amz-Signature=presigned-secret"
UPLOADED = {"id": "rec-1", "status": "UPLOADED", "meetingId": "standup"}


def test_meeting_started_gives_the_watchers_event_fields() -> None:
    body = {
        "event": "meeting.started",
        "meeting": {
            "id": "standup",
            "sessionId": "session-1",
            "title": "Daily standup",
            "status": "LIVE",
            "createdAt": "2026-12-07T09:00:00.000Z",
            "startedAt": "2026-12-07T09:00:01.000Z",
        },
    }
    polled = LiveSessionEvent.from_session(
        ActiveSession(
            id="session-1",
            associated_id="standup",
            status="LIVE",
            meeting_display_name="Daily standup",
            started_at="2026-12-07T09:00:01.000Z",
        )
    )

    delivery = parse_delivery(json.dumps(body).encode(), "u-1")

    assert delivery.live_session == polled.to_payload()
    extra = {"from_webhook": True, "payload": delivery.live_session}
    events = {"asset": [SimpleNamespace(extra=extra)]}
    assert [e.session_id for e in sessions_from_asset_events(events)] == ["session-1"]


def test_an_uploaded_recording_gives_the_recording_asset_fields_and_no_link() -> None:
    body = {
        "event": "recording.statusUpdate",
        "recording": {
            "id": "rec-1",
            "status": "UPLOADED",
            "meetingId": "standup",
            "sessionId": "session-1",
            "outputFileName": "standup.mp4",
            "fileSize": "2048",
            "recordingDuration": 61,
            "downloadUrl": LINK,
            "audioDownloadUrl": LINK,
            "downloadUrlExpiry": "2026-12-14T09:00:00.000Z",
        },
    }

    delivery = parse_delivery(json.dumps(body).encode(), "u-2")

    assert delivery.recording is not None
    expected = recording_asset_extra(
        Recording(
            id="rec-1",
            status="UPLOADED",
            meeting_id="standup",
            session_id="session-1",
            output_file_name="standup.mp4",
            file_size=2048,
            recording_duration=61,
            download_url_expiry="2026-12-14T09:00:00.000Z",
        )
    )
    assert delivery.recording == expected
    assert "presigned-secret" not in json.dumps(delivery.recording)
    assert delivery.recording_mark == "rec-1:UPLOADED"


def test_a_track_recordings_layer_files_keep_their_names_not_their_links() -> None:
    body = {
        "event": "recording.statusUpdate",
        "recording": {
            "id": "rec-2",
            "status": "ERRORED",
            "meetingId": "standup",
            "downloadUrl": [
                {"layerName": "default", "downloadUrls": {"a.m4a": {"downloadUrl": LINK, "fileSize": 10}}}
            ],
        },
    }

    delivery = parse_delivery(json.dumps(body).encode(), "u-3")

    assert delivery.recording is not None
    assert delivery.recording["files"] == [
        {"name": "a.m4a", "layer": "default", "size_bytes": 10, "duration_seconds": None}
    ]
    assert "presigned-secret" not in json.dumps(delivery.recording)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400])
def test_a_size_that_is_not_a_finite_number_never_reaches_the_event_as_nan(number: str) -> None:
    """``fileSize`` is text, read as a float, and a layer file's numbers are JSON numbers (Python's
    JSON reads ``NaN`` and ``Infinity`` too): NaN or infinite, they would make an ``extra`` strict JSON
    cannot hold, which a PostgreSQL or MySQL JSON column refuses (a 5xx the service retries for ever);
    a huge integer made ``float()`` overflow (a 500) and is no size either."""
    link = f'{{"fileSize": {number}, "duration": {number}}}'
    layer = f'{{"layerName": "default", "downloadUrls": {{"a.m4a": {link}}}}}'
    recording = (
        f'{{"id": "rec-1", "status": "UPLOADED", "meetingId": "standup", "fileSize": "{number}", '
        f'"recordingDuration": 61, "downloadUrl": [{layer}]}}'
    )
    body = f'{{"event": "recording.statusUpdate", "recording": {recording}}}'.encode()

    delivery = parse_delivery(body, "u-nan")

    assert delivery.recording is not None
    json.dumps(delivery.recording, allow_nan=False)  # strict JSON, as the database column needs
    (file,) = delivery.recording["files"]
    assert file["duration_seconds"] == 61  # the recording's, the file's own being no number


@pytest.mark.parametrize(
    "body",
    [
        {"event": "recording.statusUpdate", "recording": {**UPLOADED, "outputFileName": "\udc00.mp4"}},
        {
            "event": "recording.statusUpdate",
            "recording": {**UPLOADED, "downloadUrl": [{"downloadUrls": {"\ud800.m4a": {"fileSize": 1}}}]},
        },
    ],
    ids=["file-name", "layer-file-name"],
)
def test_text_no_database_can_store_is_refused(body: dict[str, object]) -> None:
    """A lone surrogate (``"\\ud83d"``, valid JSON escape, no character) is text that cannot be UTF-8:
    PostgreSQL's and MySQL's JSON columns refuse it (a 5xx the service would retry for ever), and an
    event holding it breaks Airflow's asset-event pages. It is refused as unreadable (400)."""
    with pytest.raises(DeliveryError, match="cannot be stored"):
        parse_delivery(json.dumps(body).encode(), "u-surrogate")


def test_a_title_cut_mid_emoji_is_kept_storable_and_the_session_still_fed() -> None:
    """A title is no fact anything acts on: its lone surrogate becomes U+FFFD, and the session its
    delivery reports still gets its run (file names, which are facts, are refused above)."""
    body = {"event": "meeting.started", "meeting": {"id": "m", "sessionId": "s", "title": "half \ud83d"}}

    delivery = parse_delivery(json.dumps(body).encode(), "u-title")

    assert delivery.live_session is not None
    assert delivery.live_session["title"] == "half \ufffd"
    json.dumps(delivery.live_session, ensure_ascii=False).encode()  # UTF-8, as the database stores it


@pytest.mark.parametrize("status", ["RECORDING", "UPLOADING", "INVOKED"])
def test_other_recording_statuses_feed_nothing(status: str) -> None:
    body = {"event": "recording.statusUpdate", "recording": {"id": "r", "status": status, "meetingId": "m"}}

    assert parse_delivery(json.dumps(body).encode(), "u").recording is None


def test_other_events_are_well_formed_but_feed_nothing() -> None:
    delivery = parse_delivery(b'{"event": "meeting.participantJoined", "participant": {}}', "u")

    assert (delivery.live_session, delivery.recording) == (None, None)


@pytest.mark.parametrize("header", [None, "", "has space", "x" * 200, "../etc"])
def test_a_bad_rtk_uuid_is_refused(header: str | None) -> None:
    with pytest.raises(DeliveryError):
        delivery_uuid(header)


@pytest.mark.parametrize(
    ("event", "body", "document"),
    [
        (  # as the emulator and Cloudflare's summary guide nest it
            "meeting.summary",
            {
                "meeting": {
                    "id": "standup",
                    "sessionId": "session-1",
                    "organizedBy": {"id": "o", "name": "n"},
                },
                "summaryDownloadUrl": LINK,
                "summaryDownloadUrlExpiry": "2026-12-14T09:00:00.000Z",
            },
            "summary",
        ),
        (  # flat, as another version of that guide shows it
            "meeting.summary",
            {"meetingId": "standup", "sessionId": "session-1", "summaryDownloadUrl": LINK},
            "summary",
        ),
        (
            "meeting.transcript",
            {"meeting": {"id": "standup", "sessionId": "session-1"}, "transcriptDownloadUrl": LINK},
            "transcript",
        ),
        ("meeting.transcript", {"meetingId": "standup", "sessionId": "session-1"}, "transcript"),
    ],
)
def test_a_ready_document_names_the_session_and_document_and_no_link(
    event: str, body: dict[str, object], document: str
) -> None:
    delivery = parse_delivery(json.dumps({"event": event, **body}).encode(), "u-4")

    assert delivery.document == {"session_id": "session-1", "meeting_id": "standup", "document": document}
    assert delivery.document_mark == f"session-1:{document}"
    assert (delivery.live_session, delivery.recording, delivery.session_id) == (None, None, None)
    assert "presigned-secret" not in json.dumps(delivery.document)
    events = {"asset": [SimpleNamespace(extra={"from_webhook": True, **delivery.document})]}
    assert session_ids_from_asset_events(events) == {"session-1": "standup"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"meeting": {"id": "standup"}}, "meeting.sessionId"),
        ({"meeting": "standup", "sessionId": "s"}, "'meeting'"),
        ({"meetingId": "standup", "sessionId": "../etc"}, "body.sessionId"),
        ({"sessionId": "s"}, "body.meetingId"),
    ],
)
def test_a_document_push_without_valid_ids_is_refused_naming_the_field(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(DeliveryError, match=field):
        parse_delivery(json.dumps({"event": "meeting.summary", **body}).encode(), "u")
