"""The transcript copy in real DAG runs (``dag.test()``, the trigger run in process) against the
emulator, which transcribes and summarises a session after it ends: both land byte for byte, the wait
happens in the triggerer, nothing of a link reaches XCom, asset events or the log; a copy that fails
leaves no file, partial or whole."""

from __future__ import annotations

import json
import time

import pytest

from airflow_provider_rtk.exceptions import RealtimeKitNotFoundError
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from tests.hostile_server import json_answer, serve_file
from tests.integration.conftest import (
    ALIAS_EVENTS_RECORDED,
    asset_events,
    console_text,
    load_dag,
    task_states,
    xcom,
)
from tests.recording_files import fresh_signature


def _ended_session(emulator, *, summary: bool = True) -> tuple[str, str]:
    """A meeting created through the hook with the post-meeting flags, one session of it, ended: the
    meeting id and the session id."""
    with RealtimeKitHook() as hook:
        meeting = hook.create_meeting("review", transcribe_on_end=True, summarize_on_end=summary)
    assert meeting.transcribe_on_end is True
    session = emulator.start_session(meeting.id, participants=["alice", "bob"])
    emulator.end_session(meeting.id)
    return meeting.id, session["id"]


def _wait_until_ready(session_id: str) -> None:
    """Until the emulator has the session's summary (the transcript comes first)."""
    deadline = time.monotonic() + 30
    with RealtimeKitHook() as hook:
        while True:
            try:
                if hook.get_session_summary(session_id).is_ready:
                    return
            except RealtimeKitNotFoundError:
                pass
            assert time.monotonic() < deadline, "the emulator made no summary"
            time.sleep(0.1)


def _copy(session_id: str, destination: str):
    return load_dag("rtk_test_copy_transcript").test(
        run_conf={"session_id": session_id, "destination": destination}
    )


def _looked_at(emulator, session_id: str) -> bool:
    """Whether the transcript of ``session_id`` was asked for."""
    return any(r["path"].endswith(f"/sessions/{session_id}/transcript") for r in emulator.requests())


def test_the_transcript_and_summary_land_in_a_folder_byte_for_byte_after_a_wait_in_the_triggerer(
    emulator, tmp_path, capfd, when
):
    with RealtimeKitHook() as hook:
        meeting = hook.create_meeting("review", transcribe_on_end=True, summarize_on_end=True)
    session_id = emulator.start_session(meeting.id, participants=["alice", "bob"])["id"]
    # the session ends only once the task has looked (and found nothing): the wait is the trigger's
    when(lambda: _looked_at(emulator, session_id), lambda: emulator.end_session(meeting.id), after=0.5)
    destination = tmp_path / "transcripts"
    capfd.readouterr()

    dag_run = _copy(session_id, f"file://{destination}")
    log = console_text(capfd.readouterr())

    assert str(dag_run.state) == "success", log[-3000:]
    transcript = destination / f"{session_id}.transcript.csv"
    summary = destination / f"{session_id}.summary.txt"
    assert sorted(path.name for path in destination.iterdir()) == sorted([transcript.name, summary.name])
    assert transcript.read_bytes() == emulator.transcript(session_id)
    assert summary.read_bytes() == emulator.summary(session_id)
    assert "waiting in the triggerer" in log  # not ready when the task started: it deferred
    result = xcom(dag_run, "copy_transcript")
    assert result["session_ids"] == [session_id]
    assert [(f["document"], f["size_bytes"], f["copied"]) for f in result["files"]] == [
        ("transcript", transcript.stat().st_size, True),
        ("summary", summary.stat().st_size, True),
    ]
    assert emulator.origin not in json.dumps(result)  # no download link in XCom
    assert f"{emulator.origin}/files/" not in log  # the log names the host and the file, not the link

    events = asset_events(f"file://{destination}")
    expected = sorted(f"file://{path}" for path in (transcript, summary)) if ALIAS_EVENTS_RECORDED else []
    assert sorted(event["uri"] for event in events) == expected
    for event in events:
        assert event["extra"]["session_id"] == session_id
        assert emulator.origin not in json.dumps(event["extra"])


def test_a_rerun_copies_nothing_again(emulator, tmp_path):
    _, session_id = _ended_session(emulator)
    assert str(_copy(session_id, f"file://{tmp_path}").state) == "success"

    dag_run = _copy(session_id, f"file://{tmp_path}")

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert [f["copied"] for f in xcom(dag_run, "copy_transcript")["files"]] == [False, False]


def test_expired_links_fail_the_run_and_leave_no_file(emulator, tmp_path, capfd):
    _, session_id = _ended_session(emulator)
    _wait_until_ready(session_id)
    emulator.expire_transcript_links(session_id)
    capfd.readouterr()

    dag_run = _copy(session_id, f"file://{tmp_path}")
    log = console_text(capfd.readouterr())

    assert str(dag_run.state) == "failed", task_states(dag_run)
    assert "has expired" in log
    assert f"{emulator.origin}/files/" not in log
    assert list(tmp_path.iterdir()) == []


def test_a_transcript_cut_short_fails_the_run_and_leaves_no_file(airflow_db, hostile, tmp_path, capfd):
    body = b"start,end,speaker,text\n" + b"0.0,1.0,alice,hello\n" * 5000
    path = f"/files/sess-1.transcript.csv?X-Amz-Signature={fresh_signature()}"
    data = {"sessionId": "sess-1", "transcript_download_url": f"http://{hostile.host_port}{path}"}
    hostile.route("GET", "/sessions/sess-1/transcript", json_answer(200, {"success": True, "data": data}))
    summary = {"sessionId": "sess-1", "summaryDownloadUrl": f"http://{hostile.host_port}/files/summary.txt"}
    hostile.route("GET", "/sessions/sess-1/summary", json_answer(200, {"success": True, "data": summary}))
    hostile.routes[("GET", path.split("?")[0])] = serve_file(body, cut_after=len(body) // 2)
    hostile.routes[("GET", "/files/summary.txt")] = serve_file(b"They said hello.\n")
    dag = load_dag("rtk_test_copy_transcript")
    dag.get_task("copy_transcript").wait_timeout = 1.0
    capfd.readouterr()

    dag_run = dag.test(run_conf={"session_id": "sess-1", "destination": f"file://{tmp_path}"})
    log = console_text(capfd.readouterr())

    assert str(dag_run.state) == "failed", task_states(dag_run)
    assert "sess-1/transcript" in log
    assert "X-Amz-Signature" not in log
    # the summary is copied; of the transcript there is neither the file nor a temporary one
    assert [path.name for path in tmp_path.iterdir()] == ["sess-1.summary.txt"]


def test_the_example_dag_copies_the_session_of_a_manual_run(emulator, tmp_path):
    _, session_id = _ended_session(emulator)
    _wait_until_ready(session_id)

    dag_run = load_dag("rtk_copy_transcripts").test(
        run_conf={"session_id": session_id, "destination": f"file://{tmp_path}"}
    )

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert (tmp_path / f"{session_id}.transcript.csv").read_bytes() == emulator.transcript(session_id)
    assert (tmp_path / f"{session_id}.summary.txt").read_bytes() == emulator.summary(session_id)


@pytest.mark.parametrize("file_format", ["VTT", "JSON"])
def test_a_transcript_format_lands_as_the_emulator_serves_it(emulator, tmp_path, file_format):
    from airflow_provider_rtk.transfers.session_transcript_to_object_storage import (
        RealtimeKitSessionTranscriptToObjectStorageOperator,
    )

    _, session_id = _ended_session(emulator, summary=False)
    operator = RealtimeKitSessionTranscriptToObjectStorageOperator(
        task_id="copy",
        session_id=session_id,
        destination=f"file://{tmp_path}",
        include="transcript",
        transcript_format=file_format,
        poll_interval=0.1,
        wait_timeout=30,
        deferrable=False,
        asset_alias=None,
    )

    operator.execute({})

    landed = tmp_path / f"{session_id}.transcript.{file_format.lower()}"
    assert landed.read_bytes() == emulator.transcript(session_id, file_format)
    assert landed.read_bytes() != emulator.transcript(session_id)  # not the CSV
