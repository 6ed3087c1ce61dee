"""The live-meeting watcher against the emulator, run as Airflow's triggerer runs it: one event per new
live session, none while a session stays live; after a restart (rebuilt from its serialized kwargs,
with Airflow's asset state store) none for a session whose event Airflow saved, and the event again
for one it had not saved; store writes as changes; its request budget; and the watcher DAG
``rtk_record_when_live`` under ``dag.test()``."""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

import pytest

from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from airflow_provider_rtk.triggers.live_session import RealtimeKitLiveSessionTrigger
from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS
from tests.integration.conftest import load_dag, task_states
from tests.triggerer import Triggerer

POLL = 2.0  # the trigger's minimum interval
#: The asset state store (and the triggerer handing it to an AssetWatcher's trigger) is new in 3.3;
#: below it, test_without_a_store_... covers what a restart does.
needs_asset_state_store = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="Airflow's asset state store is new in Airflow 3.3"
)


async def _collect(trigger: Any, seconds: float, *, wait_for_one: bool = False) -> list[dict[str, Any]]:
    """Every event the trigger fires within ``seconds`` (or, ``wait_for_one``, until the first one,
    for at most 30 s more) as the triggerer runs it; then it is stopped."""
    watch = Triggerer(trigger)
    await asyncio.sleep(seconds)
    if wait_for_one and watch.events.empty():
        await watch.events.put(await watch.next(30) or {})
    await watch.stop()
    return watch.drained()


async def _collect_count(trigger: Any, count: int, *, cap: float) -> list[dict[str, Any]]:
    """The trigger's events until there are ``count`` (or ``cap`` seconds pass); then it is stopped."""
    watch = Triggerer(trigger)
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + cap
    while len(events) < count and (left := deadline - time.monotonic()) > 0:
        event = await watch.next(left)
        if event is None:
            break
        events.append(event)
    await watch.stop()
    return events + watch.drained()


def _rebuilt(trigger):
    """The trigger as a triggerer builds it after a restart: from its serialized kwargs alone."""
    classpath, kwargs = trigger.serialize()
    assert all(isinstance(v, str | int | float | bool | list | type(None)) for v in kwargs.values())
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def _sessions_requests(emulator) -> int:
    return sum(1 for r in emulator.requests() if r["path"].endswith("/sessions"))


def test_one_event_per_new_live_session_and_none_while_it_stays_live(emulator):
    standup = emulator.create_meeting("standup")["id"]
    review = emulator.create_meeting("review")["id"]
    first = emulator.start_session(standup)["id"]
    trigger = RealtimeKitLiveSessionTrigger(poll_interval=POLL)

    async def scenario() -> list[dict[str, Any] | None]:
        watch = Triggerer(trigger)
        events = [await watch.next(10)]
        events.append(await watch.next(2.5 * POLL))  # the session stays live over polls: nothing
        emulator.start_session(review)
        events.append(await watch.next(3 * POLL))
        emulator.end_session(standup)
        emulator.start_session(standup)  # the same meeting live again: a new session
        events.append(await watch.next(3 * POLL))
        events.append(await watch.next(1.5 * POLL))
        await watch.stop()
        return events

    events = asyncio.run(scenario())

    assert events[1] is None
    assert events[4] is None
    events = [e for e in events if e is not None]
    assert [(e["meeting_id"], e["title"]) for e in events] == [
        (standup, "standup"),
        (review, "review"),
        (standup, "standup"),
    ]
    assert events[0]["session_id"] == first
    assert len({e["session_id"] for e in events}) == 3
    assert all(e["status"] == "success" and e["started_at"] for e in events)


def test_watches_only_the_meetings_it_is_given(emulator):
    watched = emulator.create_meeting("watched")["id"]
    other = emulator.create_meeting("other")["id"]
    emulator.start_session(other)
    emulator.start_session(watched)

    one = asyncio.run(_collect(RealtimeKitLiveSessionTrigger(meeting_ids=watched, poll_interval=POLL), 1.5))
    listed = asyncio.run(
        _collect(
            RealtimeKitLiveSessionTrigger(meeting_ids=[watched, "no-such-meeting"], poll_interval=POLL), 1.5
        )
    )

    assert [e["meeting_id"] for e in one] == [watched]
    assert [e["meeting_id"] for e in listed] == [watched]
    single = [r for r in emulator.requests() if r["path"].endswith("/sessions")]
    assert single  # one meeting is asked for by associated_id; a list reads the app's live sessions


def test_pages_through_many_live_sessions(emulator):
    meetings = [emulator.create_meeting(f"m{index}")["id"] for index in range(130)]
    for meeting_id in meetings:
        emulator.start_session(meeting_id)

    # One poll (the next is 10 minutes away), however long a busy machine makes it: 130 events or 60 s.
    events = asyncio.run(_collect_count(RealtimeKitLiveSessionTrigger(poll_interval=600), 130, cap=60))

    assert sorted(e["meeting_id"] for e in events) == sorted(meetings)
    assert _sessions_requests(emulator) == 2  # one poll: two pages of 100


class _TriggererStoreComms:
    """What the triggerer's supervisor does with the asset-state-store messages of a watcher's trigger:
    Airflow's own request handlers, through its in-process execution API (built as the triggerer
    builds it), into the metadata database. Only the socket between the trigger runner and its
    supervisor is left out."""

    def __init__(self) -> None:
        from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
        from airflow.sdk.api.client import Client

        # as TriggerRunnerSupervisor.make_client builds it (Airflow 3.4 removed the triggerer's
        # in_process_api_server helper; the class it built is where it was)
        self.client = Client(
            base_url=None, token="", dry_run=True, transport=InProcessExecutionAPI().transport
        )
        self.client.base_url = "http://in-process.invalid./"
        self.writes = 0  # SetAssetStateStoreByName messages handled

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time import request_handlers
        from airflow.sdk.execution_time.comms import (
            ClearAssetStateStoreByName,
            GetAssetStateStoreByName,
            OKResponse,
            SetAssetStateStoreByName,
        )

        if isinstance(msg, GetAssetStateStoreByName):
            return request_handlers.handle_get_asset_state_store_by_name(self.client, msg)[0]
        if isinstance(msg, ClearAssetStateStoreByName):
            request_handlers.handle_clear_asset_state_store_by_name(self.client, msg)
            return OKResponse(ok=True)
        if isinstance(msg, SetAssetStateStoreByName):
            self.writes += 1
            request_handlers.handle_set_asset_state_store_by_name(self.client, msg)
            return OKResponse(ok=True)
        raise AssertionError(f"unexpected message {type(msg).__name__}")

    async def asend(self, msg: Any) -> Any:
        return self.send(msg)


@pytest.fixture
def watched_asset(airflow_db, monkeypatch):
    """The example DAG's asset, registered and active in the metadata DB as the DAG processor leaves
    it, and the triggerer's comms for its state store."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.sdk.execution_time import task_runner
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from tests.conftest import DAGS_FOLDER

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    bag = DagBag(dag_folder=str(DAGS_FOLDER / "rtk_record_when_live.py"))
    sync_bag_to_db(bag, "dags-folder", None)
    with create_session() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.name == "realtimekit_live_sessions"))
        assert asset is not None
        if asset.active is None:  # the scheduler activates assets; it is not running here
            session.add(AssetActive.for_asset(asset))
        name, uri = asset.name, asset.uri
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", _TriggererStoreComms(), raising=False)
    _store((name, uri)).clear()  # what an earlier test's watch remembered
    task_runner.SUPERVISOR_COMMS.writes = 0
    return name, uri


def _store(asset: tuple[str, str]) -> Any:
    """The asset state store the triggerer gives an AssetWatcher's trigger."""
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    return AssetStateStoreAccessors(inlets=[Asset(name=asset[0], uri=asset[1])])


def _in_watcher(trigger, asset: tuple[str, str]):
    """Give the trigger its asset state store, as the triggerer does for an AssetWatcher's trigger."""
    trigger.asset_state_store = _store(asset)
    return trigger


def _reported(trigger: Any) -> set[str]:
    """The sessions the trigger's asset state store holds as reported."""
    stored = trigger.asset_state_store.get(trigger.state_key, default=None)
    return set(stored["live"]) if isinstance(stored, dict) else set()


async def _until_reported(trigger: Any, count: int, *, saving: bool = True) -> list[dict[str, Any]]:
    """Run the trigger until it fired ``count`` events and (``saving``) the store holds them all as
    reported; then stop it as a killed triggerer stops. Its events."""
    watch = Triggerer(trigger, saving=saving)
    events = [await watch.next(30) for _ in range(count)]
    assert None not in events, events
    if saving:
        await watch.until(lambda: {e["session_id"] for e in events} <= _reported(trigger))
    await watch.stop()
    return [*events, *watch.drained()]


@needs_asset_state_store
def test_a_restarted_trigger_does_not_fire_again_for_a_session_it_reported(emulator, watched_asset):
    standup = emulator.create_meeting("standup")["id"]
    emulator.start_session(standup)
    trigger = _in_watcher(RealtimeKitLiveSessionTrigger(poll_interval=POLL), watched_asset)

    first_life = asyncio.run(_until_reported(trigger, 1))
    # the triggerer restarts: a new trigger from the serialized kwargs, the same asset's store
    second_life_trigger = _in_watcher(_rebuilt(trigger), watched_asset)
    requests_before = _sessions_requests(emulator)
    second_life = asyncio.run(_collect(second_life_trigger, 2.5 * POLL))
    review = emulator.create_meeting("review")["id"]
    emulator.start_session(review)
    third_life = asyncio.run(_collect(_in_watcher(_rebuilt(trigger), watched_asset), 1.5, wait_for_one=True))

    assert [e["meeting_id"] for e in first_life] == [standup]
    assert second_life == []
    assert _sessions_requests(emulator) > requests_before  # it did look, and stayed quiet
    assert [e["meeting_id"] for e in third_life] == [review]
    stored = trigger.asset_state_store.get(trigger.state_key)
    assert sorted(stored["live"]) == sorted(e["session_id"] for e in first_life + third_life)


@needs_asset_state_store
def test_a_session_fired_but_not_saved_fires_again_after_a_restart_and_a_saved_one_does_not(
    emulator, watched_asset
):
    """The triggerer dies after the watch handed it the event, before it saved it: nothing is marked
    reported, and the restarted watch fires the session again. Once saved, it stays quiet."""
    standup = emulator.create_meeting("standup")["id"]
    emulator.start_session(standup)
    trigger = _in_watcher(RealtimeKitLiveSessionTrigger(poll_interval=POLL), watched_asset)

    lost = asyncio.run(_until_reported(trigger, 1, saving=False))
    stored_after_the_crash = _reported(trigger)
    again = asyncio.run(_until_reported(_in_watcher(_rebuilt(trigger), watched_asset), 1))
    after_it_was_saved = asyncio.run(_collect(_in_watcher(_rebuilt(trigger), watched_asset), 2.5 * POLL))

    assert [e["meeting_id"] for e in lost] == [standup]
    assert stored_after_the_crash == set()
    assert [e["session_id"] for e in again] == [e["session_id"] for e in lost]
    assert after_it_was_saved == []
    assert _reported(trigger) == {lost[0]["session_id"]}


@needs_asset_state_store
def test_store_writes_follow_what_changed_not_how_many_sessions(emulator, watched_asset):
    """30 sessions go live at once: one write once Airflow saved their events (not one per session,
    each rewriting the list); polls that change nothing write nothing; a session ends: one write."""
    from airflow.sdk.execution_time import task_runner

    meetings = [emulator.create_meeting(f"m{index}")["id"] for index in range(30)]
    for meeting_id in meetings:
        emulator.start_session(meeting_id)
    trigger = _in_watcher(RealtimeKitLiveSessionTrigger(poll_interval=POLL), watched_asset)
    comms = task_runner.SUPERVISOR_COMMS

    async def scenario() -> tuple[list[dict[str, Any] | None], list[int]]:
        watch = Triggerer(trigger)
        events = [await watch.next(30) for _ in meetings]
        await watch.until(lambda: len(_reported(trigger)) == 30)
        writes = [comms.writes]
        listed = _sessions_requests(emulator)
        await watch.until(lambda: _sessions_requests(emulator) >= listed + 2)  # two more polls
        writes.append(comms.writes)
        emulator.end_session(meetings[0])
        await watch.until(lambda: len(_reported(trigger)) == 29)
        writes.append(comms.writes)
        await watch.stop()
        return events, writes

    events, writes = asyncio.run(scenario())

    assert len({e["session_id"] for e in events if e}) == 30
    assert writes == [1, 1, 2]


@needs_asset_state_store
def test_sessions_that_end_together_leave_the_store_without_a_read_of_each(emulator, watched_asset):
    """25 reported sessions end at once: the newest page of ended sessions forgets them together (a
    read of each, ten a poll, would take three polls and 25 requests)."""
    from airflow.sdk.execution_time import task_runner

    meetings = [emulator.create_meeting(f"m{index}")["id"] for index in range(25)]
    for meeting_id in meetings:
        emulator.start_session(meeting_id)
    trigger = _in_watcher(RealtimeKitLiveSessionTrigger(poll_interval=POLL), watched_asset)
    comms = task_runner.SUPERVISOR_COMMS

    async def scenario() -> int:
        watch = Triggerer(trigger)
        assert None not in [await watch.next(30) for _ in meetings]
        await watch.until(lambda: len(_reported(trigger)) == len(meetings))
        writes = comms.writes
        for meeting_id in meetings:
            emulator.end_session(meeting_id)
        await watch.until(lambda: not _reported(trigger))
        await watch.stop()
        return comms.writes - writes

    writes = asyncio.run(scenario())

    reads = [r for r in emulator.requests() if "/sessions/" in r["path"]]
    assert reads == []
    assert 1 <= writes <= 2  # one, or two if a poll read the listing while the sessions were ending


@needs_asset_state_store
def test_ended_sessions_leave_the_store(emulator, watched_asset):
    standup = emulator.create_meeting("standup")["id"]
    emulator.start_session(standup)
    trigger = _in_watcher(
        RealtimeKitLiveSessionTrigger(meeting_ids=[standup], poll_interval=POLL), watched_asset
    )
    assert len(asyncio.run(_collect(trigger, 1.5, wait_for_one=True))) == 1
    emulator.end_session(standup)

    asyncio.run(_collect(_in_watcher(_rebuilt(trigger), watched_asset), 1.5))

    assert trigger.asset_state_store.get(trigger.state_key) == {"live": []}


def test_without_a_store_a_restart_reports_live_sessions_again_unless_told_not_to(emulator):
    """Below Airflow 3.3 (no asset state store): what a restarted trigger does, both ways."""
    standup = emulator.create_meeting("standup")["id"]
    emulator.start_session(standup)
    reporting = RealtimeKitLiveSessionTrigger(poll_interval=POLL)
    assert [e["meeting_id"] for e in asyncio.run(_collect(reporting, 1.5))] == [standup]
    assert [e["meeting_id"] for e in asyncio.run(_collect(_rebuilt(reporting), 1.5))] == [standup]

    quiet = RealtimeKitLiveSessionTrigger(poll_interval=POLL, report_sessions_live_at_start=False)

    async def scenario() -> list[dict[str, Any] | None]:
        watch = Triggerer(quiet)
        events = [await watch.next(1.5)]
        review = emulator.create_meeting("review")["id"]
        emulator.start_session(review)
        events.append(await watch.next(3 * POLL))
        await watch.stop()
        return events

    events = asyncio.run(scenario())
    assert events[0] is None
    assert events[1] is not None
    assert events[1]["title"] == "review"


def test_rate_limited_polls_wait_for_retry_after_and_still_fire_once(emulator):
    standup = emulator.create_meeting("standup")["id"]
    emulator.start_session(standup)
    emulator.add_fault("GetSessions", "status", status=429, retry_after=1, times=2)
    started = time.monotonic()

    events = asyncio.run(_collect(RealtimeKitLiveSessionTrigger(poll_interval=POLL), 6))

    assert [e["meeting_id"] for e in events] == [standup]
    statuses = [r for r in emulator.requests() if r["path"].endswith("/sessions")]
    assert len(statuses) >= 3  # two refusals, then the answer
    assert time.monotonic() - started >= 2  # it waited Retry-After (1 s) twice


def test_polling_stays_within_its_request_budget(emulator):
    emulator.create_meeting("quiet")

    asyncio.run(_collect(RealtimeKitLiveSessionTrigger(poll_interval=POLL), 7))

    assert 3 <= _sessions_requests(emulator) <= 4  # at 0, 2, 4 and 6 s: one request per poll


# --------------------------------------------------------------------------------------------------
# The watcher DAG


def test_watcher_dag_records_the_meeting_of_the_event_and_follows_it_to_uploaded(
    emulator, live_meeting, end_session_once_recording
):
    end_session_once_recording(live_meeting)

    dag_run = load_dag("rtk_record_when_live").test(run_conf={"meeting_id": live_meeting})

    assert str(dag_run.state) == "success", task_states(dag_run)
    (recording,) = [r for r in emulator.recordings() if r["meeting_id"] == live_meeting]
    assert recording["status"] == "UPLOADED"
    assert recording["request_body"]["layers"]["default"]["file_name_prefix"].startswith("live_")


def test_a_repeated_event_attaches_to_the_recording_already_running(emulator, live_meeting, when):
    """The first run's recording is running when the same session's event comes again (a restart
    below Airflow 3.3, a manual rerun): the second run follows it, and the meeting has one recording."""
    with RealtimeKitHook() as hook:
        first = hook.start_track_recording(
            {"meeting_id": live_meeting, "layers": {"default": {"file_name_prefix": "live_first"}}}
        ).recording.id

    def second_run_has_looked() -> bool:  # the DAG's task asked to start (refused) or for the active one
        paths = [(r["method"], r["path"]) for r in emulator.requests()]
        starts = sum(1 for method, path in paths if method == "POST" and path.endswith("/recordings/track"))
        return starts >= 2 or any("/active-recording/" in path for _, path in paths)

    when(second_run_has_looked, lambda: emulator.end_session(live_meeting), after=1.0)

    dag_run = load_dag("rtk_record_when_live").test(run_conf={"meeting_id": live_meeting})

    assert str(dag_run.state) == "success", task_states(dag_run)
    recordings = [r for r in emulator.recordings() if r["meeting_id"] == live_meeting]
    assert [r["id"] for r in recordings] == [first]
    assert recordings[0]["status"] == "UPLOADED"


def test_the_dag_reads_the_meetings_from_its_triggering_asset_events():
    from datetime import UTC, datetime

    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    from airflow_provider_rtk.assets import meetings_from_asset_events

    def event(extra: dict[str, Any]) -> AssetEventDagRunReferenceResult:
        return AssetEventDagRunReferenceResult(
            asset={"name": "realtimekit_live_sessions", "uri": "realtimekit_live_sessions", "extra": {}},
            extra=extra,
            source_task_id=None,
            source_dag_id=None,
            source_run_id=None,
            source_map_index=None,
            source_aliases=[],
            timestamp=datetime.now(UTC),
        )

    payload = {"status": "success", "meeting_id": "m-1", "session_id": "s-1", "title": "standup"}
    # what a run's context holds as ``triggering_asset_events``
    events = TriggeringAssetEventsAccessor.build(
        [
            event({"from_trigger": True, "payload": payload}),
            event({"from_trigger": True, "payload": payload}),  # the same session twice
            event({"from_trigger": True, "payload": {**payload, "meeting_id": "m-2", "session_id": "s-2"}}),
            event({"note": "an asset event made by hand"}),
        ]
    )

    assert meetings_from_asset_events(events) == ["m-1", "m-2"]


@pytest.mark.parametrize("setting", [None, "True"])
def test_the_watcher_dag_runs_once_per_event_unless_the_deployment_batches(monkeypatch, setting):
    """Airflow 3.4+: the watcher DAG, unchanged, takes ``[scheduler] batch_asset_events`` (False by
    default: one run per asset event, so per live session); below 3.4 events are always batched."""
    from airflow_provider_rtk.version_compat import AIRFLOW_V_3_4_PLUS

    if setting is not None:
        monkeypatch.setenv("AIRFLOW__SCHEDULER__BATCH_ASSET_EVENTS", setting)
    timetable = load_dag("rtk_record_when_live").timetable
    if AIRFLOW_V_3_4_PLUS:
        assert timetable.batch_asset_events is (setting == "True")
    else:
        assert not hasattr(timetable, "batch_asset_events")
