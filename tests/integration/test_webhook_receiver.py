"""The receiver on the real metadata database: verified deliveries become asset events, once.

The key page is served by a real server on loopback (``tests/hostile_server.py``); the assets and
their watchers are rows as the DAG processor leaves them; the receiver's app runs in-process behind
FastAPI's test client, with its real connection lookup and recorder.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from airflow_provider_rtk.triggers.live_session import (
    PUSHED_MARKS_KEY,
    RealtimeKitLiveSessionTrigger,
    _Watch,
)
from airflow_provider_rtk.triggers.pushed_documents import RealtimeKitPushedDocumentsTrigger
from airflow_provider_rtk.triggers.pushed_recording import RealtimeKitPushedRecordingTrigger
from airflow_provider_rtk.webhooks.app import create_app
from airflow_provider_rtk.webhooks.signature import KeyCache
from tests.api_answers import set_conn
from tests.hostile_server import Handler, HostileServer, Seen
from tests.webhook_keys import KeyPair, key_pair

_names = itertools.count()


def watch(trigger: Any) -> int:
    """An active asset watched by ``trigger`` (the rows the DAG processor writes); its id."""
    from airflow.models.asset import AssetActive, AssetModel, AssetWatcherModel
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    name = f"rtk_webhook_test_{next(_names)}"
    with create_session() as session:
        asset = AssetModel(name=name, uri=f"realtimekit-test://{name}", group="asset")
        session.add(asset)
        session.flush()
        session.add(AssetActive.for_asset(asset))
        classpath, kwargs = trigger.serialize()
        row = Trigger(classpath=classpath, kwargs=kwargs)
        session.add(row)
        session.flush()
        session.add(AssetWatcherModel(name=f"{name}_watch", asset_id=asset.id, trigger_id=row.id))
        return int(asset.id)


class Stack:
    """One test's connection, its watched assets, the key server and the receiver."""

    def __init__(self, conn_id: str, client: TestClient, server: HostileServer) -> None:
        self.conn_id = conn_id
        self.client = client
        self.server = server

    def deliver(self, payload: dict[str, Any], uuid: str, *, key: KeyPair | None = None) -> Any:
        body = json.dumps(payload).encode()
        signer = key or key_pair(0)
        return self.client.post(
            f"/webhooks/{self.conn_id}",
            content=body,
            headers={"rtk-signature": signer.sign(body), "rtk-uuid": uuid, "rtk-webhook-id": "wh-1"},
        )


def events_of(asset_id: int) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [
            dict(extra or {})
            for extra in session.scalars(select(AssetEvent.extra).where(AssetEvent.asset_id == asset_id))
        ]


def state_of(asset_id: int, key: str) -> Any:
    from airflow.state import AssetScope, get_state_backend

    raw = get_state_backend().get(AssetScope(asset_id=asset_id), key)
    return json.loads(raw) if raw else None


def set_state(asset_id: int, key: str, value: Any) -> None:
    from airflow.state import AssetScope, get_state_backend

    get_state_backend().set(AssetScope(asset_id=asset_id), key, json.dumps(value))


@pytest.fixture
def stack(airflow_db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    conn_id = f"rtk_push_{next(_names)}"

    def key_page(handler: Handler, seen: Seen) -> None:
        handler.answer(200, json.dumps(key_pair(0).page).encode())

    with HostileServer() as server:
        server.routes[("GET", "/.well-known/webhooks.json")] = key_page
        set_conn(
            monkeypatch,
            conn_id,
            extra={
                "account_id": "ACC",
                "app_id": "APP",
                "webhook_keys_url": f"http://{server.host_port}/.well-known/webhooks.json",
            },
        )
        with TestClient(create_app(keys=KeyCache())) as client:
            yield Stack(conn_id, client, server)


def started(session_id: str, meeting_id: str = "standup") -> dict[str, Any]:
    return {
        "event": "meeting.started",
        "meeting": {"id": meeting_id, "sessionId": session_id, "title": "Standup", "status": "LIVE"},
    }


def test_a_verified_meeting_started_creates_one_asset_event_and_a_repeat_or_forgery_none(
    stack: Stack,
) -> None:
    from airflow_provider_rtk.assets import sessions_from_asset_events

    asset = watch(RealtimeKitLiveSessionTrigger(realtimekit_conn_id=stack.conn_id, poll_interval=10))

    first = stack.deliver(started("session-1"), "uuid-1")
    again = stack.deliver(started("session-1"), "uuid-1")  # the service retried it
    replayed = stack.deliver(started("session-1"), "uuid-other")  # rtk-uuid is not signed
    forged = stack.deliver(started("session-2"), "uuid-2", key=key_pair(1))

    assert [a.status_code for a in (first, again, replayed, forged)] == [200, 200, 200, 401]
    events = events_of(asset)
    assert len(events) == 1
    runs_see = sessions_from_asset_events({"asset": [SimpleNamespace(extra=e) for e in events]})
    assert [(s.meeting_id, s.session_id) for s in runs_see] == [("standup", "session-1")]
    assert stack.server.seen
    assert all("authorization" not in {h.lower() for h in s.headers} for s in stack.server.seen)


def test_a_path_naming_no_connection_is_answered_as_a_forgery(stack: Stack) -> None:
    """Through Airflow's own connection lookup: the public path tells no one which ids exist."""
    forged = stack.deliver(started("session-1"), "uuid-1", key=key_pair(1))
    stack.conn_id = "no_such_connection"
    unknown = stack.deliver(started("session-1"), "uuid-1")

    assert (unknown.status_code, unknown.json()) == (forged.status_code, forged.json())
    assert unknown.status_code == 401


def test_a_session_the_polling_watcher_reported_is_not_recorded_again(stack: Stack) -> None:
    trigger = RealtimeKitLiveSessionTrigger(realtimekit_conn_id=stack.conn_id, poll_interval=10)
    asset = watch(trigger)
    set_state(asset, trigger.state_key, {"live": ["session-polled"]})

    assert stack.deliver(started("session-polled"), "uuid-p").status_code == 200

    assert events_of(asset) == []


def test_the_polling_watcher_skips_a_session_the_receiver_recorded(stack: Stack) -> None:
    trigger = RealtimeKitLiveSessionTrigger(realtimekit_conn_id=stack.conn_id, poll_interval=10)
    asset = watch(trigger)
    assert stack.deliver(started("session-pushed"), "uuid-s").status_code == 200
    marks = state_of(asset, PUSHED_MARKS_KEY)

    class Store:  # what the triggerer's store answers for this asset (read from the database)
        async def aget(self, key: str, default: Any = None) -> Any:
            return state_of(asset, key) or default

        async def aset(self, key: str, value: Any) -> None:
            set_state(asset, key, value)

    polling = _Watch(trigger, Store())
    sessions = [SimpleNamespace(id="session-pushed"), SimpleNamespace(id="session-new")]
    left = asyncio.run(polling._not_pushed(sessions))  # type: ignore[arg-type]

    assert "session-pushed" in marks["sessions"]
    assert [s.id for s in left] == ["session-new"]
    assert state_of(asset, trigger.state_key) == {"live": ["session-pushed"]}


def test_only_the_watches_of_the_connection_and_meeting_are_fed(stack: Stack) -> None:
    mine = watch(RealtimeKitLiveSessionTrigger(realtimekit_conn_id=stack.conn_id, push_only=True))
    other_meeting = watch(
        RealtimeKitLiveSessionTrigger(
            realtimekit_conn_id=stack.conn_id, meeting_ids=["review"], push_only=True
        )
    )
    other_conn = watch(RealtimeKitLiveSessionTrigger(realtimekit_conn_id="someone_else", push_only=True))

    assert stack.deliver(started("session-9"), "uuid-9").status_code == 200

    assert [len(events_of(a)) for a in (mine, other_meeting, other_conn)] == [1, 0, 0]


def test_an_uploaded_recording_feeds_the_pushed_recording_asset_once(stack: Stack) -> None:
    asset = watch(RealtimeKitPushedRecordingTrigger(realtimekit_conn_id=stack.conn_id))
    update = {
        "event": "recording.statusUpdate",
        "recording": {
            "id": "rec-1",
            "status": "UPLOADED",
            "meetingId": "standup",
            "outputFileName": "standup.mp4",
            "fileSize": "2048",
            "downloadUrl": "https://files.example.test/standup.mp4?sig=presigned-secret",
        },
    }
    recording_now = {**update, "recording": {**update["recording"], "status": "RECORDING"}}

    answers = [
        stack.deliver(recording_now, "uuid-r0"),
        stack.deliver(update, "uuid-r1"),
        stack.deliver(update, "uuid-r2"),  # the same status again: one event per recording and status
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    (extra,) = events_of(asset)
    assert (extra["recording_id"], extra["status"], extra["files"][0]["name"]) == (
        "rec-1",
        "UPLOADED",
        "standup.mp4",
    )
    assert "presigned-secret" not in json.dumps(extra)


def test_ready_documents_feed_the_pushed_documents_assets_once_per_session_and_document(stack: Stack) -> None:
    both = watch(RealtimeKitPushedDocumentsTrigger(realtimekit_conn_id=stack.conn_id))
    summaries = watch(
        RealtimeKitPushedDocumentsTrigger(realtimekit_conn_id=stack.conn_id, documents="summary")
    )
    link = "https://files.example.test/s1_summary.txt?sig=presigned-secret"
    nested = {
        "event": "meeting.summary",
        "meeting": {"id": "standup", "sessionId": "session-1"},
        "summaryDownloadUrl": link,
    }
    flat = {
        "event": "meeting.summary",
        "meetingId": "standup",
        "sessionId": "session-1",
        "summaryDownloadUrl": link,
    }
    transcript = {"event": "meeting.transcript", "meeting": {"id": "standup", "sessionId": "session-1"}}

    answers = [
        stack.deliver(transcript, "uuid-d0"),
        stack.deliver(nested, "uuid-d1"),
        stack.deliver(flat, "uuid-d2"),  # the same session and document, in the other shape
        stack.deliver(nested, "uuid-d1"),  # retried
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    fed = sorted((e["session_id"], e["meeting_id"], e["document"]) for e in events_of(both))
    assert fed == [("session-1", "standup", "summary"), ("session-1", "standup", "transcript")]
    (extra,) = events_of(summaries)
    assert (extra["document"], extra["from_webhook"], extra["rtk_uuid"]) == ("summary", True, "uuid-d1")
    assert "presigned-secret" not in json.dumps([*events_of(both), extra])
    assert sorted(state_of(summaries, PUSHED_MARKS_KEY)["documents"]) == ["session-1:summary"]


def test_a_failed_database_write_answers_503_records_nothing_and_the_retry_records_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.assets.manager import AssetManager

    asset = watch(RealtimeKitLiveSessionTrigger(realtimekit_conn_id=stack.conn_id, push_only=True))
    real = AssetManager.register_asset_change

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(AssetManager, "register_asset_change", broken)
    failed = stack.deliver(started("session-f"), "uuid-f")
    monkeypatch.setattr(AssetManager, "register_asset_change", real)
    retried = stack.deliver(started("session-f"), "uuid-f")

    assert (failed.status_code, retried.status_code) == (503, 200)
    assert len(events_of(asset)) == 1


def test_a_repeated_rtk_uuid_is_recorded_once_whatever_it_carries(stack: Stack) -> None:
    asset = watch(RealtimeKitLiveSessionTrigger(realtimekit_conn_id=stack.conn_id, push_only=True))

    answers = [stack.deliver(started(f"session-{n}"), "uuid-same") for n in (1, 2)]

    assert [a.status_code for a in answers] == [200, 200]
    assert len(events_of(asset)) == 1
    assert "uuid-same" in state_of(asset, PUSHED_MARKS_KEY)["deliveries"]


# --------------------------------------------------------------------------------------------------
# Against the emulator: its Webhooks API, and its signed deliveries to the receiver on a real server


@pytest.fixture
def receiver_url(airflow_db: Any) -> Iterator[str]:
    """The receiver app served by uvicorn on loopback (as the api-server serves the plugin's app)."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/webhooks/realtimekit_default"
    server.should_exit = True
    thread.join(timeout=10)


def test_ensure_webhook_against_the_emulator_makes_one_webhook_and_updates_it(emulator: Any) -> None:
    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.operators.webhooks import ensure_webhook

    url = "https://airflow.example.com/realtimekit/webhooks/realtimekit_default"
    with RealtimeKitHook() as hook:
        first, first_action = ensure_webhook(hook, url, ["meeting.started"])
        second, second_action = ensure_webhook(hook, url + "/", ["meeting.started"])
        third, third_action = ensure_webhook(hook, url, ["meeting.started", "recording.statusUpdate"])

    assert (first_action, second_action, third_action) == ("created", "unchanged", "updated")
    assert first.id == second.id == third.id
    (only,) = emulator.webhooks()
    assert sorted(only["events"]) == ["meeting.started", "recording.statusUpdate"]


def test_an_emulator_delivery_creates_one_asset_event_a_repeat_or_forgery_none(
    emulator: Any, receiver_url: str
) -> None:
    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.operators.webhooks import ensure_webhook

    asset = watch(RealtimeKitLiveSessionTrigger(push_only=True))
    with RealtimeKitHook() as hook:
        ensure_webhook(hook, receiver_url, ["meeting.started"])
    meeting = emulator.create_meeting("standup")["id"]
    session = emulator.start_session(meeting)

    (delivered,) = emulator.wait_for_webhook_deliveries(1, event="meeting.started", timeout=30)
    repeated = emulator.repeat_webhook(delivered["rtk_uuid"])
    forged = [
        emulator.deliver_webhook("meeting.started", meeting_id=meeting, forge=kind)
        for kind in ("bad_signature", "no_signature", "wrong_key", "body_changed", "body_reformatted")
    ]
    emulator.wait_for_webhook_deliveries(7, event="meeting.started", timeout=30)

    assert delivered["outcome"] == "delivered"
    assert [a["status"] for a in delivered["attempts"]] == [200]
    log = {d["rtk_uuid"]: d for d in emulator.webhook_deliveries("meeting.started")}
    assert log[repeated["rtk_uuid"]]["outcome"] == "delivered"
    assert {log[f[0]["rtk_uuid"]]["attempts"][-1]["status"] for f in forged} == {401}
    (extra,) = events_of(asset)
    assert extra["payload"]["session_id"] == session["id"]
    assert extra["payload"]["meeting_id"] == meeting


def test_without_an_asset_state_store_the_assets_own_events_dedupe(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow below 3.3 has no asset state store: the marks are read from the asset's events."""
    from airflow_provider_rtk.webhooks import recorder

    monkeypatch.setattr(recorder, "has_state_store", lambda: False)
    asset = watch(RealtimeKitLiveSessionTrigger(realtimekit_conn_id=stack.conn_id, push_only=True))

    answers = [
        stack.deliver(started("session-a"), "uuid-a"),
        stack.deliver(started("session-a"), "uuid-a"),  # retried
        stack.deliver(started("session-a"), "uuid-b"),  # replayed with another uuid
        stack.deliver(started("session-b"), "uuid-a"),  # the same uuid
        stack.deliver(started("session-c"), "uuid-c"),
    ]

    assert {a.status_code for a in answers} == {200}
    assert [e["payload"]["session_id"] for e in events_of(asset)] == ["session-a", "session-c"]
    assert state_of(asset, PUSHED_MARKS_KEY) is None
