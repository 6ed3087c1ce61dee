"""Push on the real services: the emulator's signed ``meeting.started`` deliveries reach the receiver
the api-server mounts. A live session, pushed and polled (the example watcher polls every 10 s), runs
``rtk_record_when_live`` once; a delivery the watcher cannot see (a session only the push names) runs
it once, however often it is delivered; a forged delivery is refused and runs nothing. The emulator's
own deliveries at a session's end: an ``UPLOADED`` recording runs a DAG scheduled on a pushed-recording
asset, and the session's summary runs ``rtk_copy_transcripts``, whose transcript lands byte for byte."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.checks import WATCHER_DAG_ID, runs_recording
from tests.e2e.stack import (
    EMULATOR_ACCOUNT,
    EMULATOR_APP,
    EMULATOR_TOKEN,
    AirflowAPI,
    EmulatorControl,
    Stack,
    wait_for,
)

#: Where ``rtk_copy_transcripts`` copies to when a push starts it (its default destination).
TRANSCRIPTS = Path("/tmp/realtimekit/transcripts")


def _api(emulator: EmulatorControl, method: str, path: str, **kwargs: Any) -> Any:
    """The emulator's RealtimeKit API (``/accounts/<account>/realtime/kit/<app>/<path>``): ``data``."""
    answer = httpx.request(
        method,
        f"{emulator.origin}/client/v4/accounts/{EMULATOR_ACCOUNT}/realtime/kit/{EMULATOR_APP}{path}",
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
        timeout=10,
        **kwargs,
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json().get("data")


def _register(emulator: EmulatorControl, receiver: str, events: list[str]) -> None:
    """A webhook of the app to ``receiver`` for ``events``."""
    _api(
        emulator,
        "POST",
        "/webhooks",
        json={"name": "airflow", "url": receiver, "events": events, "enabled": True},
    )


def _settled(emulator: EmulatorControl, rtk_uuid: str) -> dict[str, Any] | None:
    """The logged delivery once it was answered (delivered or failed for good)."""
    log = emulator.http.get("/webhooks/deliveries").json()["data"]
    return next(
        (d for d in reversed(log) if d["rtk_uuid"] == rtk_uuid and d["outcome"] in ("delivered", "failed")),
        None,
    )


def _deliver(
    emulator: EmulatorControl, receiver: str, payload: dict[str, Any], **options: Any
) -> dict[str, Any]:
    made = emulator.http.post(
        "/webhooks/deliveries",
        json={"event": "meeting.started", "payload": payload, "url": receiver, **options},
    ).json()["data"]
    return wait_for("the delivery's answer", lambda: _settled(emulator, made[0]["rtk_uuid"]), 60)


def test_pushed_meeting_started_runs_the_dag_once_per_session_and_a_forged_one_nothing(
    stack: Stack, emulator: EmulatorControl
) -> None:
    api = stack.api
    assert api is not None
    receiver = f"{stack.origin}/realtimekit/webhooks/realtimekit_default"
    _register(emulator, receiver, ["meeting.started"])
    since = time.time()
    api.unpause(WATCHER_DAG_ID)
    # the watcher's trigger exists once the DAG is unpaused: it shows by polling
    wait_for(
        "the watcher to poll", lambda: any("/sessions" in r["path"] for r in emulator.requests(since)), 120
    )

    # a live session: pushed at once, and polled
    live = emulator.create_meeting("pushed and polled")
    emulator.start_session(live)
    wait_for("a run for the live session", lambda: runs_recording(api, live) or None, 120, every=1)

    # a session only the push names (signed by the emulator), delivered, then the same delivery again
    only_pushed = emulator.create_meeting("only pushed")
    first = _deliver(emulator, receiver, {"meeting": {"id": only_pushed, "sessionId": "pushed-only-session"}})
    repeat = emulator.http.post(f"/webhooks/deliveries/{first['rtk_uuid']}/repeat", json={"url": receiver})
    assert repeat.status_code in (200, 202), repeat.text
    wait_for("a run for the pushed session", lambda: runs_recording(api, only_pushed) or None, 120, every=1)

    forged = _deliver(
        emulator,
        receiver,
        {"meeting": {"id": "forged-meeting", "sessionId": "forged-session"}},
        forge="wrong_key",
    )
    time.sleep(25)  # two polls of the watcher and time for a run to be queued, were anything recorded twice
    emulator.end_session(live)

    assert first["outcome"] == "delivered"
    assert [a["status"] for a in forged["attempts"]] == [401]
    assert len(runs_recording(api, live)) == 1
    assert len(runs_recording(api, only_pushed)) == 1
    assert runs_recording(api, "forged-meeting") == []


def _runs(api: AirflowAPI, dag_id: str, task_id: str, picked: Any) -> list[dict[str, Any]]:
    """The asset-triggered runs of ``dag_id`` whose ``task_id`` succeeded with a value ``picked`` accepts."""
    found = []
    for run in api.dag_runs(dag_id):
        if run["run_type"] != "asset_triggered":
            continue
        if api.task_instances(dag_id, run["dag_run_id"]).get(task_id) != "success":
            continue
        if picked(api.xcom(dag_id, run["dag_run_id"], task_id)):
            found.append(run)
    return found


def _watched(api: AirflowAPI, asset_name: str) -> bool:
    """Whether the asset has its watcher (the DAG processor adds it once the DAG is unpaused)."""
    assets = api.request("GET", "/assets", params={"name_pattern": asset_name})["assets"]
    return any(asset["name"] == asset_name and asset["watchers"] for asset in assets)


def test_pushed_upload_runs_the_downstream_dag_and_a_pushed_summary_copies_the_transcript(
    stack: Stack, emulator: EmulatorControl
) -> None:
    """Only the emulator's own deliveries, made when the session ends: ``recording.statusUpdate``
    (``UPLOADED``) and ``meeting.transcript`` / ``meeting.summary``. About a minute, most of it the DAG
    processor adding the push-only watchers after the DAGs are unpaused (its next parse of the files)."""
    api = stack.api
    assert api is not None
    _register(
        emulator,
        f"{stack.origin}/realtimekit/webhooks/realtimekit_default",
        ["recording.statusUpdate", "meeting.transcript", "meeting.summary"],
    )
    # the watcher DAG (unpaused by the test above) would record this meeting too: one upload here
    api.request("PATCH", f"/dags/{WATCHER_DAG_ID}", json={"is_paused": True})
    for dag_id in ("rtk_e2e_on_upload", "rtk_copy_transcripts"):
        api.unpause(dag_id)
    wait_for(
        "the push-only watchers",
        lambda: _watched(api, "rtk_e2e_pushed_uploads") and _watched(api, "realtimekit_session_transcripts"),
        150,
        every=2,
    )

    meeting = emulator.create_meeting("pushed", transcribe_on_end=True, summarize_on_end=True)
    session_id = emulator.start_session(meeting)
    recording = _api(emulator, "POST", "/recordings", json={"meeting_id": meeting})["id"]
    wait_for("the recording to record", lambda: emulator.recordings(meeting)[0]["status"] == "RECORDING", 30)
    emulator.end_session(meeting)  # the recording uploads, the transcript and summary follow

    wait_for(
        "a run for the upload",
        lambda: _runs(api, "rtk_e2e_on_upload", "uploaded", lambda ids: recording in ids) or None,
        120,
        every=1,
    )

    def copied(value: Any) -> bool:
        return session_id in value["session_ids"]

    wait_for(
        "the transcript copy",
        lambda: _runs(api, "rtk_copy_transcripts", "copy_transcript", copied) or None,
        120,
        every=1,
    )
    link = _api(emulator, "GET", f"/sessions/{session_id}/transcript")["transcript_download_url"]
    served = httpx.get(link, timeout=10)
    landed = TRANSCRIPTS / f"{session_id}.transcript.csv"
    try:
        assert served.status_code == 200
        assert landed.read_bytes() == served.content
        assert (TRANSCRIPTS / f"{session_id}.summary.txt").is_file()
        assert len(_runs(api, "rtk_copy_transcripts", "copy_transcript", copied)) == 1
        assert len(_runs(api, "rtk_e2e_on_upload", "uploaded", lambda ids: recording in ids)) == 1
    finally:
        api.request("PATCH", "/dags/rtk_copy_transcripts", json={"is_paused": True})
        for name in (landed.name, f"{session_id}.summary.txt"):
            (TRANSCRIPTS / name).unlink(missing_ok=True)
