"""The distributed profile only (``RTK_E2E_PROFILE=distributed``: PostgreSQL, Redis, CeleryExecutor with
two workers, the triggerer): many meetings fanned out across both workers, and two runs racing for one
meeting. The provider keeps no module-level state, so each worker process starts from the connection."""

from __future__ import annotations

import re

import pytest

from tests.e2e.checks import assert_succeeded, only_recording
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.distributed

TASK_RECEIVED = re.compile(r"Task (?:\S+\.)?execute_workload\[[^\]]+\] received")


def tasks_received(stack: Stack) -> dict[str, int]:
    """Celery worker name -> how many Airflow workloads it received (from its log)."""
    return {
        service.name: len(TASK_RECEIVED.findall(service.log_path.read_text(errors="replace")))
        for service in stack.services
        if service.name.startswith("worker")
    }


def test_fan_out_over_twenty_meetings_across_both_workers(stack: Stack, emulator, end_once_recording):
    api = stack.api
    assert api is not None
    assert stack.workers == 2
    before = tasks_received(stack)
    meetings = [emulator.create_meeting(f"room {n}") for n in range(20)]
    for meeting_id in meetings:
        emulator.start_session(meeting_id)
        end_once_recording(meeting_id)
    api.unpause("rtk_fan_out_recordings")

    run_id = api.trigger("rtk_fan_out_recordings", {"meeting_ids": meetings})

    states = assert_succeeded(api, "rtk_fan_out_recordings", run_id, timeout=420)
    assert len(states) == 21, states
    for meeting_id in meetings:
        assert only_recording(emulator, meeting_id)["status"] == "UPLOADED"
    received = tasks_received(stack)
    assert all(received[name] > before.get(name, 0) for name in received), received


def test_two_runs_of_one_meeting_at_once_make_one_recording(stack: Stack, emulator, end_once_recording):
    api = stack.api
    assert api is not None
    meeting_id = emulator.create_meeting("contested")
    emulator.start_session(meeting_id)
    api.unpause("rtk_manual_recording")
    form = {"meeting_id": meeting_id, "file_name_prefix": "contested"}

    first = api.trigger("rtk_manual_recording", form)
    second = api.trigger("rtk_manual_recording", form)
    wait_for(
        "both runs to have started recording",
        lambda: all(
            api.task_instances("rtk_manual_recording", run).get("record_meeting") in ("running", "success")
            for run in (first, second)
        ),
        180,
        every=0.5,
    )
    end_once_recording(meeting_id)

    for run_id in (first, second):
        assert_succeeded(api, "rtk_manual_recording", run_id)
    recording = only_recording(emulator, meeting_id)
    for run_id in (first, second):
        assert api.xcom("rtk_manual_recording", run_id, "record_meeting")["id"] == recording["id"]
