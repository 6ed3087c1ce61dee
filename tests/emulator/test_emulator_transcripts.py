"""Post-meeting transcripts and summaries: made after the session ends for meetings that ask for them,
served behind expiring links, announced by ``meeting.transcript``/``meeting.summary`` webhooks."""

from __future__ import annotations

import csv
import io
import json

import pytest

from airflow_provider_rtk.emulator.messages import ApiError


@pytest.fixture
def ended(make_emulator, client_for, fake_clock):
    """On a fake clock (transcript 2 s after the end, summary 1 s later): an ended session of a meeting
    created through the API with both flags; (emulator, api client, clock, session id)."""
    emulator = make_emulator(clock=fake_clock, transcript_delay=2, summary_delay=1)
    api = client_for(emulator)
    body = {"title": "review", "transcribe_on_end": True, "summarize_on_end": True}
    meeting = api.post("/meetings", json=body).json()["data"]
    assert meeting["transcribe_on_end"] is True
    emulator.start_session(meeting["id"], ["alice", "bob"])
    session = emulator.end_session(meeting["id"])
    return emulator, api, fake_clock, session["id"]


def test_the_transcript_comes_after_the_delay_and_serves_fixed_bytes(ended, web):
    emulator, api, clock, session_id = ended
    assert api.get(f"/sessions/{session_id}/transcript").status_code == 404  # not yet
    clock.advance(2)
    answer = api.get(f"/sessions/{session_id}/transcript")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert set(data) == {"sessionId", "transcript_download_url", "transcript_download_url_expiry"}
    assert data["sessionId"] == session_id
    download = web.get(data["transcript_download_url"])  # no auth, like a pre-signed link
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.content == emulator.transcript(session_id)
    assert web.get(data["transcript_download_url"]).content == download.content  # deterministic
    rows = list(csv.reader(io.StringIO(download.text)))
    assert [row[2] for row in rows] == ["alice", "bob", "alice", "bob"]
    assert [int(row[0]) for row in rows] == sorted(int(row[0]) for row in rows)
    assert all(len(row) == 6 for row in rows)


@pytest.mark.parametrize(
    ("file_format", "starts"), [("JSON", b"["), ("SRT", b"1\n00:00:01,000"), ("VTT", b"WEBVTT")]
)
def test_other_formats(ended, web, file_format, starts):
    emulator, api, clock, session_id = ended
    clock.advance(2)
    url = api.get(f"/sessions/{session_id}/transcript?format={file_format}").json()["data"]
    content = web.get(url["transcript_download_url"]).content
    assert content.startswith(starts)
    assert content == emulator.transcript(session_id, file_format)
    if file_format == "JSON":
        assert json.loads(content)[0]["peerData"]["userId"] == "alice"


def test_the_summary_follows_the_transcript(ended, web):
    emulator, api, clock, session_id = ended
    clock.advance(2)
    assert api.get(f"/sessions/{session_id}/summary").status_code == 404
    clock.advance(1)
    data = api.get(f"/sessions/{session_id}/summary").json()["data"]
    assert set(data) == {"sessionId", "summaryDownloadUrl", "summaryDownloadUrlExpiry"}
    download = web.get(data["summaryDownloadUrl"])
    assert download.content == emulator.summary(session_id)
    assert b"review" in download.content


def test_expired_links_answer_403(ended, web):
    emulator, api, clock, session_id = ended
    clock.advance(3)
    url = api.get(f"/sessions/{session_id}/transcript").json()["data"]["transcript_download_url"]
    answer = web.post(f"{emulator.origin}/_emulator/sessions/{session_id}/expire-links")
    assert answer.json()["data"]["expired"] == [session_id]
    expired = web.get(url)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content


def test_a_meeting_that_did_not_ask_gets_none(make_emulator, client_for, fake_clock):
    emulator = make_emulator(clock=fake_clock, transcript_delay=0)
    emulator.start_session("m1")
    session_id = emulator.end_session("m1")["id"]
    fake_clock.advance(60)
    api = client_for(emulator)
    assert api.get(f"/sessions/{session_id}/transcript").status_code == 404
    assert api.get(f"/sessions/{session_id}/summary").status_code == 404
    assert api.get("/sessions/nope/transcript").status_code == 404
    with pytest.raises(ApiError):
        emulator.transcript(session_id)


def test_a_summary_on_demand_needs_the_transcript(make_emulator, client_for, fake_clock):
    emulator = make_emulator(clock=fake_clock, transcript_delay=0, summary_delay=0)
    emulator.create_meeting("m", meeting_id="m1", transcribe_on_end=True)
    emulator.start_session("m1")
    session_id = emulator.end_session("m1")["id"]
    api = client_for(emulator)
    assert api.get(f"/sessions/{session_id}/summary").status_code == 404
    answer = api.post(f"/sessions/{session_id}/summary")
    assert answer.status_code == 200
    assert answer.json()["data"]["session_id"] == session_id
    assert api.get(f"/sessions/{session_id}/summary").status_code == 200

    emulator.create_meeting("plain", meeting_id="m2")
    emulator.start_session("m2")
    plain = emulator.end_session("m2")["id"]
    assert api.post(f"/sessions/{plain}/summary").status_code == 409


def test_transcript_and_summary_webhooks_link_the_same_bytes(make_emulator, sink, web):
    emulator = make_emulator(
        transcript_delay=0.05,
        summary_delay=0.05,
        webhooks=[{"name": "ai", "url": sink.url, "events": ["meeting.transcript", "meeting.summary"]}],
    )
    emulator.create_meeting("retro", meeting_id="m1", transcribe_on_end=True, summarize_on_end=True)
    emulator.start_session("m1")
    session_id = emulator.end_session("m1")["id"]
    transcript, summary = sorted(
        (json.loads(received.body) for received in sink.wait(2)),
        key=lambda body: body["event"] == "meeting.summary",
    )
    assert transcript["event"] == "meeting.transcript"
    assert transcript["meeting"]["sessionId"] == session_id
    assert "endedAt" in transcript["meeting"]
    assert web.get(transcript["transcriptDownloadUrl"]).content == emulator.transcript(session_id)
    assert transcript["transcriptDownloadUrlExpiry"].endswith("Z")
    assert summary["event"] == "meeting.summary"
    assert web.get(summary["summaryDownloadUrl"]).content == emulator.summary(session_id)
