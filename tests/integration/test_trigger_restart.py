"""Deferred waiting survives the triggerer: a trigger is stopped mid-wait, serialised, rebuilt from its
kwargs alone and resumed against the emulator; and a user's kill stops the recording it follows."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time

from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from airflow_provider_rtk.triggers import RealtimeKitRecordingTrigger


def _start_recording(meeting_id: str) -> str:
    with RealtimeKitHook() as hook:
        return hook.start_track_recording({"meeting_id": meeting_id}).recording.id


async def _first_event(trigger, seconds: float):
    events = trigger.run()
    try:
        return await asyncio.wait_for(events.__anext__(), timeout=seconds)
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()


def test_trigger_stopped_mid_wait_is_rebuilt_and_resumes_with_its_deadline(emulator, live_meeting):
    recording_id = _start_recording(live_meeting)
    deadline = time.time() + 120
    trigger = RealtimeKitRecordingTrigger(
        recording_id=recording_id, poll_interval=0.2, end_time=deadline, stop_on_kill=True
    )

    # first life: the triggerer shuts down while the recording is still running
    assert asyncio.run(_first_event_or_none(trigger, 1.0)) is None

    classpath, kwargs = trigger.serialize()
    assert kwargs["end_time"] == deadline
    assert all(isinstance(value, str | int | float | bool | type(None)) for value in kwargs.values())
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)

    emulator.end_session(live_meeting)  # the meeting ends: the recording stops and uploads
    event = asyncio.run(_first_event(rebuilt, 30))

    assert event.payload["status"] == "success"
    assert event.payload["recording_id"] == recording_id
    assert event.payload["recording_status"] == "UPLOADED"
    assert [r["status"] for r in emulator.recordings()] == ["UPLOADED"]


async def _first_event_or_none(trigger, seconds: float):
    try:
        return await _first_event(trigger, seconds)
    except TimeoutError:
        return None


def test_killing_the_deferred_task_stops_its_recording(emulator, live_meeting):
    recording_id = _start_recording(live_meeting)
    trigger = RealtimeKitRecordingTrigger(recording_id=recording_id, poll_interval=0.2, stop_on_kill=True)

    asyncio.run(trigger.on_kill())

    (recording,) = emulator.recordings()
    assert recording["status"] in ("UPLOADING", "UPLOADED")
    assert recording["stop_reason"] == "API_CALL"


def test_a_trigger_that_did_not_start_the_recording_never_stops_it(emulator, live_meeting):
    recording_id = _start_recording(live_meeting)
    trigger = RealtimeKitRecordingTrigger(recording_id=recording_id, poll_interval=0.2, stop_on_kill=False)

    asyncio.run(trigger.on_kill())

    assert [r["status"] for r in emulator.recordings()] in (["INVOKED"], ["RECORDING"])
