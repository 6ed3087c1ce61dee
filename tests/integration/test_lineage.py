"""OpenLineage: the start and copy operators report what they read and wrote, as the OpenLineage
provider's own listener sends it (a real ``dag.test()`` against the emulator, the events captured by
openlineage-python's file transport): the meeting and the recording's files at RealtimeKit, and the
copied files under the OpenLineage provider's own names for object storage. No link, no token."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import load_dag, task_states


def _complete(events: list[dict[str, Any]], task_id: str) -> dict[str, Any]:
    (event,) = [
        e for e in events if e.get("eventType") == "COMPLETE" and e["job"]["name"].endswith(f".{task_id}")
    ]
    return event


def _datasets(event: dict[str, Any], side: str) -> list[tuple[str, str]]:
    return sorted((d["namespace"], d["name"]) for d in event[side])


def test_the_start_and_the_copy_report_the_meeting_the_recordings_files_and_their_copies(
    emulator, live_meeting, end_session_once_recording, lineage_events, tmp_path
):
    """About 30 s: two DAG runs (the start, then the copy of what it recorded), the first waiting
    for its recording to end and upload; one test, so the recording is made once."""
    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

    end_session_once_recording(live_meeting)
    started = load_dag("rtk_test_start_and_wait").test(run_conf={"meeting_id": live_meeting})
    assert str(started.state) == "success", task_states(started)
    (recording,) = [r for r in emulator.recordings() if r["meeting_id"] == live_meeting]
    with RealtimeKitHook() as hook:
        names = sorted(hook.get_recording(recording["id"]).download_links)
        settings = hook.settings
    assert names
    namespace = f"realtimekit://{settings.account_id}/{settings.app_id}"
    at_realtimekit = sorted(
        [(namespace, f"recordings/{recording['id']}")]
        + [(namespace, f"recordings/{recording['id']}/{name}") for name in names]
    )

    start = _complete(lineage_events(), "start")
    assert _datasets(start, "inputs") == [(namespace, f"meetings/{live_meeting}")]
    assert _datasets(start, "outputs") == at_realtimekit

    destination = tmp_path / "copies"
    copied = load_dag("rtk_test_copy_recording").test(
        run_conf={
            "recording_id": recording["id"],
            "destination": f"file://{destination}",
            "storage_conn_id": "",
        }
    )
    assert str(copied.state) == "success", task_states(copied)

    events = lineage_events()
    copy = _complete(events, "copy")
    assert _datasets(copy, "inputs") == at_realtimekit
    assert _datasets(copy, "outputs") == [
        ("file://", f"{str(destination).lstrip('/')}/{name}") for name in names
    ]
    text = json.dumps(events)
    assert emulator.origin not in text  # no download link (the emulator serves them)
    assert "sig=" not in text
    assert "X-Amz-" not in text
    assert settings.api_token not in text
