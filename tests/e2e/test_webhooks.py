"""Push on the real services: the emulator's signed ``meeting.started`` deliveries reach the receiver
the api-server mounts. A live session, pushed and polled (the example watcher polls every 10 s), runs
``rtk_record_when_live`` once; a delivery the watcher cannot see (a session only the push names) runs
it once, however often it is delivered; a forged delivery is refused and runs nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.e2e.checks import WATCHER_DAG_ID, runs_recording
from tests.e2e.stack import (
    EMULATOR_ACCOUNT,
    EMULATOR_APP,
    EMULATOR_TOKEN,
    EmulatorControl,
    Stack,
    wait_for,
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
    webhooks_api = (
        f"{emulator.origin}/client/v4/accounts/{EMULATOR_ACCOUNT}/realtime/kit/{EMULATOR_APP}/webhooks"
    )
    registered = httpx.post(
        webhooks_api,
        json={"name": "airflow", "url": receiver, "events": ["meeting.started"], "enabled": True},
        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"},
        timeout=10,
    )
    assert registered.status_code in (200, 201), registered.text
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
