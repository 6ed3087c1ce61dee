"""The official ``cloudflare`` SDK, pointed at the emulator, parses every answer into its own types."""

from __future__ import annotations

import cloudflare
import cloudflare.types.realtime_kit as realtime_kit_types
import pytest


@pytest.fixture(params=["refuse", "accept"], ids=["second-start-refused", "second-start-accepted"])
def sdk(make_emulator, request):
    """An emulator (short delays, each second-start mode) and SDK clients that validate answers
    strictly, and as by default."""
    emulator = make_emulator(invoke_delay=0.1, upload_delay=0.1, second_start=request.param)
    options = {"api_token": emulator.api_token, "base_url": emulator.base_url, "max_retries": 0}
    strict = cloudflare.Cloudflare(**options, _strict_response_validation=True)
    lenient = cloudflare.Cloudflare(**options)
    yield emulator, strict, lenient
    strict.close()
    lenient.close()


def test_sdk_track_recording_round_trip(sdk, wait_for_status, client_for):
    emulator, client, lenient = sdk
    ids = {"account_id": emulator.account_id, "app_id": emulator.app_id}
    kit = client.realtime_kit

    meeting = kit.meetings.create(emulator.app_id, account_id=emulator.account_id, title="sdk standup")
    assert isinstance(meeting, realtime_kit_types.MeetingCreateResponse)
    assert meeting.data.title == "sdk standup"
    meeting_id = meeting.data.id
    assert kit.meetings.get_meeting_by_id(meeting_id, **ids).data.id == meeting_id
    emulator.start_session(meeting_id, participants=["ann", "ben"])
    session = kit.active_session.get_active_session(meeting_id, **ids)
    assert isinstance(session, realtime_kit_types.ActiveSessionGetActiveSessionResponse)
    assert (session.data.status, session.data.live_participants) == ("LIVE", 2)

    started = kit.recordings.start_track_recording(
        emulator.app_id,
        account_id=emulator.account_id,
        meeting_id=meeting_id,
        layers={"default": {"file_name_prefix": "sdk", "media_kind": "audio"}},
        user_ids=["ann"],
    )
    assert isinstance(started, realtime_kit_types.RecordingStartTrackRecordingResponse)
    recording = started.data.recording
    assert recording.status == "INVOKED"
    assert recording.output_file_name.startswith("sdk_ann_")
    assert emulator.recordings()[0]["request_body"] == {
        "meeting_id": meeting_id,
        "layers": {"default": {"file_name_prefix": "sdk", "media_kind": "audio"}},
        "user_ids": ["ann"],
    }

    wait_for_status(client_for(emulator), recording.id, "RECORDING")
    one = kit.recordings.get_one_recording(recording.id, **ids)
    assert isinstance(one, realtime_kit_types.RecordingGetOneRecordingResponse)
    assert one.data.status == "RECORDING"
    assert one.data.started_time is not None
    assert one.data.start_reason.reason == "API_CALL"
    active = kit.recordings.get_active_recordings(meeting_id, **ids)
    assert active.data.id == recording.id

    listing = kit.recordings.get_recordings(
        emulator.app_id,
        account_id=emulator.account_id,
        meeting_id=meeting_id,
        status=["INVOKED", "RECORDING"],
    )
    assert isinstance(listing, realtime_kit_types.RecordingGetRecordingsResponse)
    assert [r.id for r in listing.data] == [recording.id]
    assert listing.data[0].meeting.title == "sdk standup"
    assert (listing.paging.total_count, listing.paging.start_offset, listing.paging.end_offset) == (1, 1, 1)

    stopped = kit.recordings.pause_resume_stop_recording(recording.id, **ids, action="stop")
    assert isinstance(stopped, realtime_kit_types.RecordingPauseResumeStopRecordingResponse)
    assert stopped.data.status == "UPLOADING"
    assert stopped.data.stop_reason.reason == "API_CALL"
    assert stopped.data.stopped_time is not None

    # Track recordings give download_url as a list (as the guide shows), which the SDK types as a
    # string: its default, lenient parsing keeps the list; strict validation would refuse it.
    wait_for_status(client_for(emulator), recording.id, "UPLOADED")
    uploaded = lenient.realtime_kit.recordings.get_one_recording(recording.id, **ids)
    assert uploaded.data.status == "UPLOADED"
    [layer] = uploaded.data.download_url
    assert list(layer["download_urls"]) == [recording.output_file_name]
    assert uploaded.data.download_url_expiry is not None


def test_sdk_composite_recording_and_meeting_list(sdk):
    emulator, client, _ = sdk
    kit = client.realtime_kit
    meeting_id = emulator.create_meeting("composite")["id"]
    emulator.start_session(meeting_id)
    started = kit.recordings.start_recordings(
        emulator.app_id, account_id=emulator.account_id, meeting_id=meeting_id
    )
    assert started.data.status == "INVOKED"
    stopped = kit.recordings.pause_resume_stop_recording(
        started.data.id, account_id=emulator.account_id, app_id=emulator.app_id, action="stop"
    )
    assert stopped.data.status == "UPLOADING"
    meetings = kit.meetings.get(emulator.app_id, account_id=emulator.account_id)
    assert [m.id for m in meetings.data] == [meeting_id]
    assert meetings.paging.total_count == 1


def test_sdk_maps_error_answers_to_its_exceptions(sdk):
    emulator, client, _ = sdk
    kit = client.realtime_kit
    ids = {"account_id": emulator.account_id, "app_id": emulator.app_id}
    with pytest.raises(cloudflare.NotFoundError) as missing:
        kit.recordings.get_one_recording("no-such-recording", **ids)
    assert missing.value.body["error"]["code"] == 404

    meeting_id = emulator.create_meeting()["id"]
    with pytest.raises(cloudflare.BadRequestError, match="No active session"):
        kit.recordings.start_track_recording(
            emulator.app_id, account_id=emulator.account_id, meeting_id=meeting_id
        )
    emulator.start_session(meeting_id)
    kit.recordings.start_track_recording(
        emulator.app_id, account_id=emulator.account_id, meeting_id=meeting_id
    )
    if emulator.settings.second_start == "refuse":
        with pytest.raises(cloudflare.ConflictError, match="already being recorded"):
            kit.recordings.start_track_recording(
                emulator.app_id, account_id=emulator.account_id, meeting_id=meeting_id
            )
    else:
        second = kit.recordings.start_track_recording(
            emulator.app_id, account_id=emulator.account_id, meeting_id=meeting_id
        )
        active = kit.recordings.get_active_recordings(meeting_id, **ids)
        assert active.data.id != second.data.recording.id  # the earliest still active

    wrong = cloudflare.Cloudflare(api_token="wrong", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(cloudflare.AuthenticationError) as denied:
        wrong.realtime_kit.recordings.get_recordings(emulator.app_id, account_id=emulator.account_id)
    assert denied.value.body["errors"][0]["code"] == 10000

    emulator.add_fault("get_all_recordings", "status", status=429, retry_after=1)
    with pytest.raises(cloudflare.RateLimitError):
        kit.recordings.get_recordings(emulator.app_id, account_id=emulator.account_id)
    emulator.add_fault("get_all_recordings", "drop_before")
    with pytest.raises(cloudflare.APIConnectionError):
        kit.recordings.get_recordings(emulator.app_id, account_id=emulator.account_id)


def test_sdk_reads_the_sessions_of_the_app(sdk):
    emulator, client, _ = sdk
    kit = client.realtime_kit
    ids = {"account_id": emulator.account_id, "app_id": emulator.app_id}
    meeting_id = emulator.create_meeting("sessions")["id"]
    ended = emulator.start_session(meeting_id, ["ann"])["id"]
    emulator.end_session(meeting_id)
    live = emulator.start_session(meeting_id, ["ann", "ben"])["id"]

    listed = kit.sessions.get_sessions(emulator.app_id, account_id=emulator.account_id, status="LIVE")
    assert [session.id for session in listed.data.sessions] == [live]
    every = kit.sessions.get_sessions(emulator.app_id, account_id=emulator.account_id, per_page=1, page_no=2)
    assert [session.id for session in every.data.sessions] == [ended]
    details = kit.sessions.get_session_details(ended, **ids)
    assert (details.data.status, details.data.associated_id) == ("ENDED", meeting_id)
    assert details.data.ended_at is not None
