"""Ownership of a recording is a recorded fact: the task stops only what it started, follows what it
merely believes or finds, and leaves nothing running unseen. Real DAG runs (``dag.test()``) against the
emulator; each case asserts the recordings, who stopped them (stop reason), the task's state and try,
and the log line that says what happened.
"""

from __future__ import annotations

import pytest

from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from tests.integration.conftest import STATE_STORE, every_request_answered, recordings_of

START = "startTrackRecordingForAMeeting"

#: every case holds whether the service refuses a second concurrent start or accepts it
pytestmark = pytest.mark.usefixtures("second_start")
PREFIX = "fault-test"  # the file prefix of the test DAGs' start task
STARTED = "started by this task (it may stop it)"
FOREIGN = "not started by this task (it will follow it, never stop it)"
BELIEVED = "believed to be this task's own (it will follow it, never stop it)"
NO_STORE = "version specific: without Airflow 3.3's task state store a retry can only believe"


def another_client_records(meeting_id: str) -> str:
    """Another client starts a recording of the meeting, with the very prefix the task uses."""
    with RealtimeKitHook() as hook:
        request = {"meeting_id": meeting_id, "layers": {"default": {"file_name_prefix": PREFIX}}}
        return hook.start_track_recording(request).recording.id


def stops_sent(emulator, recording_id: str) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "PUT" and r["path"].endswith(recording_id))


def by_id(emulator, meeting_id: str) -> dict[str, dict]:
    return {r["id"]: r for r in recordings_of(emulator, meeting_id)}


@pytest.fixture
def quiet_meeting(emulator) -> str:
    """A meeting nobody has joined yet: a start fails (no active session)."""
    return emulator.create_meeting("not yet")["id"]


@pytest.fixture
def someone_else_records_after_the_first_try(emulator, quiet_meeting, when):
    """Try 1 fails (the meeting is not live); before try 2 the meeting goes live and another client
    records it, with the task's own prefix and since the run started."""
    foreign: list[str] = []

    def first_try_refused() -> bool:
        return any(
            r["method"] == "POST" and r["path"].endswith("/recordings/track") for r in emulator.requests()
        )

    def act() -> None:
        emulator.start_session(quiet_meeting)
        foreign.append(another_client_records(quiet_meeting))

    when(first_try_refused, act, after=0.5)
    return foreign


@pytest.mark.usefixtures("fast_connection")
class TestAnotherClientsRecordingOnARetry:
    def test_attach_follows_it_and_never_stops_it(
        self, emulator, quiet_meeting, someone_else_records_after_the_first_try, run
    ):
        result = run("rtk_test_start_slow_retry", quiet_meeting, if_active="attach")

        assert result.state == "success", result.output[-3000:]
        assert result.task().try_number == 2
        (foreign,) = someone_else_records_after_the_first_try
        assert list(by_id(emulator, quiet_meeting)) == [foreign]
        assert by_id(emulator, quiet_meeting)[foreign]["status"] in ("INVOKED", "RECORDING")
        assert stops_sent(emulator, foreign) == 0
        expected = FOREIGN if STATE_STORE else BELIEVED  # NO_STORE
        assert expected in result.log(2)

    def test_fail_fails_and_leaves_it_alone(
        self, emulator, quiet_meeting, someone_else_records_after_the_first_try, run
    ):
        result = run("rtk_test_start_slow_retry", quiet_meeting, if_active="fail")

        (foreign,) = someone_else_records_after_the_first_try
        assert stops_sent(emulator, foreign) == 0
        assert result.task().try_number == 2
        if not STATE_STORE:  # NO_STORE: it looks like the first try's own, so the retry follows it
            assert result.state == "success"
            return
        assert result.state == "failed"
        assert f"already has active recording {foreign}" in result.log(2)
        assert "if_active='fail'" in result.log(2)

    def test_stop_and_start_stops_it_and_records_anew(
        self, emulator, quiet_meeting, someone_else_records_after_the_first_try, run
    ):
        result = run("rtk_test_start_slow_retry", quiet_meeting, if_active="stop_and_start")

        assert result.state == "success", result.output[-3000:]
        (foreign,) = someone_else_records_after_the_first_try
        recordings = by_id(emulator, quiet_meeting)
        if not STATE_STORE:  # NO_STORE
            assert list(recordings) == [foreign]
            return
        assert len(recordings) == 2
        assert recordings[foreign]["status"] in ("UPLOADING", "UPLOADED")
        assert recordings[foreign]["stop_reason"] == "API_CALL"
        (own,) = [r for rid, r in recordings.items() if rid != foreign]
        assert own["status"] in ("INVOKED", "RECORDING")
        assert "Stopping active recording" in result.log(2)

    def test_a_foreign_stopped_recording_is_not_reattached(self, emulator, quiet_meeting, when, run):
        """Another client records the meeting and stops between the tries: the retry records it
        itself (with the store it knows the first try started nothing)."""
        stopped: list[str] = []

        def act() -> None:
            emulator.start_session(quiet_meeting)
            rid = another_client_records(quiet_meeting)
            with RealtimeKitHook() as hook:
                hook.stop_recording(rid)
            stopped.append(rid)

        when(lambda: any(r["method"] == "POST" for r in emulator.requests()), act, after=0.5)

        result = run("rtk_test_start_slow_retry", quiet_meeting)

        assert result.state == "success", result.output[-3000:]
        recordings = by_id(emulator, quiet_meeting)
        if not STATE_STORE:  # NO_STORE: the stopped one looks like the first try's, so it is followed
            assert list(recordings) == stopped
            assert "reattaching to a stopped recording" in result.log(2)
            return
        assert len(recordings) == 2
        (own,) = [r for rid, r in recordings.items() if rid not in stopped]
        assert own["status"] in ("INVOKED", "RECORDING")
        assert "reattaching" not in result.log(2)
        assert STARTED in result.log(2)


@pytest.mark.usefixtures("fast_connection")
class TestAmbiguousStarts:
    def test_a_foreign_recording_appearing_during_an_ambiguous_start_is_never_stopped(
        self, emulator, live_meeting, when, run
    ):
        """The start times out (the service is slow); meanwhile another client starts a recording.
        The task follows it as believed, and its own timeout then leaves it running."""
        emulator.add_fault(START, "delay", seconds=2.5)  # the client gives up after 1 s
        foreign: list[str] = []
        when(lambda: not emulator.faults(), lambda: foreign.append(another_client_records(live_meeting)))

        result = run("rtk_test_timeout", live_meeting)

        # the delayed start has landed (on a busy machine, maybe long after the run): the meeting
        # was already being recorded, so it made no recording
        every_request_answered(emulator)
        (recording,) = recordings_of(emulator, live_meeting)
        assert [recording["id"]] == foreign
        assert recording["status"] in ("INVOKED", "RECORDING")
        assert stops_sent(emulator, recording["id"]) == 0
        assert result.state == "failed"
        assert BELIEVED in result.log()
        assert f"it was left running ({BELIEVED}: this task cannot prove it started it" in result.log()


@pytest.mark.usefixtures("fast_connection")
class TestNothingKeepsRecordingUnseen:
    def test_xcom_push_failing_right_after_the_start_stops_the_recording(self, emulator, live_meeting, run):
        result = run("rtk_test_xcom_push_fails", live_meeting)

        assert result.state == "failed"
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] in ("UPLOADING", "UPLOADED")
        assert recording["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, recording["id"]) == 1
        assert "no retry will reconnect to it" in result.log()

    @pytest.mark.skipif(not STATE_STORE, reason=NO_STORE + " (no reconnect without the store)")
    def test_xcom_push_failing_with_a_retry_left_reconnects_then_stops(self, emulator, live_meeting, run):
        result = run("rtk_test_xcom_push_fails_with_retry", live_meeting)

        assert result.state == "failed"
        assert result.task().try_number == 2
        (recording,) = recordings_of(emulator, live_meeting)
        assert "the task's retry will reconnect to it" in result.log(1)
        assert f"Reconnected to recording {recording['id']}, {STARTED}" in result.log(2)
        assert recording["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, recording["id"]) == 1

    if STATE_STORE:  # NO_STORE: no reconnect without the store

        def test_each_mapped_start_reconnects_to_its_own_recording_then_stops_it(
            self, emulator, live_meeting, run
        ):
            """Two mapped starts, each push failing: each retry reads its own try's journal (the store's
            scope holds the map index), so each meeting's recording is reconnected to and stopped once."""
            other = emulator.create_meeting("retro")["id"]
            emulator.start_session(other)

            result = run("rtk_test_xcom_push_fails_with_retry_mapped", f"{live_meeting},{other}")

            assert result.state == "failed"
            tries = sorted(
                (ti.map_index, ti.try_number)
                for ti in result.dag_run.get_task_instances()
                if ti.task_id == "start"
            )
            assert tries == [(0, 2), (1, 2)]
            for meeting_id in (live_meeting, other):
                (recording,) = recordings_of(emulator, meeting_id)
                assert f"Reconnected to recording {recording['id']}, {STARTED}" in result.output
                assert recording["stop_reason"] == "API_CALL"
                assert stops_sent(emulator, recording["id"]) == 1

    @pytest.mark.parametrize(
        "dag_id",
        ["rtk_test_wait_no_retries", "rtk_test_deferred_wait_timeout_no_retries"],
        ids=["worker", "deferred"],
    )
    def test_status_reads_failing_without_retries_stop_the_recording(
        self, emulator, live_meeting, dag_id, run
    ):
        """On a worker the wait fails. Deferred, the API failing is the triggers' shared poller's to
        wait out (issue 18: it fails no trigger), so the task's own ``timeout`` ends the wait: the
        triggerer stops the recording the task started, once."""
        for operation in ("get_one_recording", "get_all_recordings"):  # the triggers' poller lists
            emulator.add_fault(operation, "status", status=503, times=None)

        result = run(dag_id, live_meeting)

        assert result.state == "failed"
        assert result.task().try_number == 1
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, recording["id"]) == 1
        if "deferred" in dag_id:
            assert "it was stopped" in result.log()
        else:
            assert "no retry will reconnect to it" in result.log()

    def test_a_timeout_stop_the_triggerer_could_not_make_is_made_by_the_resumed_task(
        self, emulator, live_meeting, run
    ):
        """Deferred with a ``timeout``: the triggerer's stop at the deadline fails (its 3 attempts
        answered 503); the resumed task stops the recording it started itself, rather than leave it."""
        for operation in ("get_one_recording", "get_all_recordings"):
            emulator.add_fault(operation, "status", status=503, times=None)
        emulator.add_fault("pause_resume_stop_recording", "status", status=503, times=3)

        result = run("rtk_test_deferred_wait_timeout_no_retries", live_meeting)

        assert result.state == "failed"
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["stop_reason"] == "API_CALL"
        assert "it was stopped" in result.log()
        assert "left running" not in result.log()

    def test_execution_timeout_while_deferred_stops_the_recording_in_the_triggerer(
        self, emulator, live_meeting, run
    ):
        result = run("rtk_test_deferred_execution_timeout", live_meeting)

        assert result.state == "failed"
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] in ("UPLOADING", "UPLOADED")
        assert recording["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, recording["id"]) == 1
        assert "its execution_timeout ran out" in result.output

    def test_execution_timeout_on_a_worker_sends_exactly_one_stop(self, emulator, live_meeting, run):
        result = run("rtk_test_execution_timeout", live_meeting)

        assert result.state == "failed"
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, recording["id"]) == 1
        assert "execution_timeout ran out" in result.log()


def test_the_emulator_runs_in_the_mode_under_test(emulator, second_start):
    assert emulator.settings.second_start == second_start


def declare_second_start(emulator, monkeypatch, declared: str | None) -> str:
    """The default connection, with extra ``second_start`` set to ``declared`` (left out if ``None``)."""
    import json

    conn = emulator.airflow_connection()
    if declared is not None:
        conn["extra"] = {**conn["extra"], "second_start": declared}
    monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))
    return json.dumps(conn)


def api_requests_since(emulator, before: int) -> list[str]:
    requests = emulator.requests()[before:]
    return [f"{r['method']} {r['path']}" for r in requests if "/realtime/kit/" in r["path"]]


@pytest.mark.parametrize(("declared", "expected"), [(None, 2), ("accepted", 2), ("refused", 1)])
def test_what_a_first_try_start_costs(emulator, live_meeting, run, monkeypatch, declared, expected):
    """A first try with the current body: the POST, then (unless the connection says the service
    refuses a second start) one read of the meeting's active recording, so two racing starts converge."""
    declare_second_start(emulator, monkeypatch, declared)
    before = len(emulator.requests())

    result = run("rtk_test_start", live_meeting)

    assert result.state == "success", result.output[-3000:]
    sent = api_requests_since(emulator, before)
    assert len(sent) == expected, sent
    assert sent[0].startswith("POST ")
    assert sent[0].endswith("/recordings/track")
    if expected == 2:
        assert sent[1].startswith("GET ")
        assert sent[1].endswith(f"/recordings/active-recording/{live_meeting}")
    assert len(recordings_of(emulator, live_meeting)) == 1


@pytest.mark.usefixtures("fast_connection")
def test_what_a_retry_costs(emulator, quiet_meeting, run, when):
    """Try 1's start is refused (the meeting is not live yet), and one read of the meeting's active
    recording tells that refusal from "already being recorded": 2 requests. Try 2 reads the active
    recording first (nothing in the journal explains one), starts, and checks the race: 3."""

    def first_start_refused() -> bool:
        return any(r["method"] == "POST" for r in emulator.requests() if r["path"].endswith("/track"))

    when(first_start_refused, lambda: emulator.start_session(quiet_meeting), after=0.2)
    before = len(emulator.requests())

    result = run("rtk_test_start", quiet_meeting)

    assert result.state == "success", result.output[-3000:]
    assert result.task().try_number == 2
    sent = [r.split(" ")[0] + " " + r.rsplit("/", 1)[-1] for r in api_requests_since(emulator, before)]
    read = "GET " + quiet_meeting
    assert sent == ["POST track", read, read, "POST track", read], sent


@pytest.mark.usefixtures("fast_connection")
def test_what_an_ambiguous_start_costs(emulator, live_meeting, run):
    """The start took effect but its answer was lost: the POST, then one read of the meeting's active
    recording, which finds it (believed: no race check, since the task did not learn it started it)."""
    emulator.add_fault(START, "drop_after")
    before = len(emulator.requests())

    result = run("rtk_test_start", live_meeting)

    assert result.state == "success", result.output[-3000:]
    sent = [r.split(" ")[0] + " " + r.rsplit("/", 1)[-1] for r in api_requests_since(emulator, before)]
    assert sent == ["POST track", "GET " + live_meeting], sent
    assert len(recordings_of(emulator, live_meeting)) == 1
    assert BELIEVED in result.log()


@pytest.fixture(scope="session")
def two_airflow_homes(tmp_path_factory):
    """Two independent Airflow deployments (own home, own SQLite metadata DB), migrated once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.integration.separate_airflow import prepare

    homes = [tmp_path_factory.mktemp(f"airflow-{n}") for n in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(prepare, homes))


def race(homes, connection: str, dag_id: str, meeting_id: str) -> tuple[list[dict], str]:
    """Run ``dag_id`` in both deployments at once; each run's result and both runs' output."""
    import subprocess
    import sys

    from tests.integration.separate_airflow import result_of

    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.separate_airflow", dag_id, meeting_id],
            env={**env, "AIRFLOW_CONN_REALTIMEKIT_DEFAULT": connection},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in homes
    ]
    outputs = [run.communicate(timeout=240) for run in runs]
    results = [result_of(out) for out, _ in outputs]
    return results, "\n".join(out + err for out, err in outputs)


def test_two_deployments_starting_one_meeting_at_once_converge_on_one_recording(
    emulator, live_meeting, second_start, two_airflow_homes, monkeypatch
):
    """Both find the meeting idle and both send a start, which the service holds back long enough
    for the other to arrive. Refused: the loser follows the winner. Accepted: the later recording is
    stopped by the task that started it, and both follow the earlier one. Every run succeeds; one
    recording keeps going."""
    # held back (within the default 30 s request timeout) for as long as the two processes' start-up
    # times may differ: the second start arrives before the first is processed
    emulator.add_fault(START, "delay", seconds=12.0, times=2)
    # A service that refuses the second start may be declared so (extra second_start): the winner then
    # skips its check after the start, and the refusal alone must converge the race.
    connection = declare_second_start(emulator, monkeypatch, "refused" if second_start == "refuse" else None)
    before = len(emulator.requests())
    results, logs = race(two_airflow_homes, connection, "rtk_test_start", live_meeting)
    assert [r["state"] for r in results] == ["success", "success"], logs[-4000:]
    recordings = recordings_of(emulator, live_meeting)
    running = [r for r in recordings if r["status"] in ("INVOKED", "RECORDING")]
    assert len(running) == 1, recordings
    active_reads = [r for r in api_requests_since(emulator, before) if "/active-recording/" in r]
    if second_start == "refuse":
        assert len(recordings) == 1
        assert "the service refused the start" in logs
        assert len(active_reads) == 1, active_reads  # the loser's, to find the winner; none by the winner
    else:
        (loser,) = [r for r in recordings if r["id"] != running[0]["id"]]
        assert loser["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, loser["id"]) == 1
        assert "of the same meeting started first" in logs
    assert logs.count(f"Following recording {running[0]['id']}") == 1


@pytest.mark.realtimekit_emulator(legacy_track=True)
def test_two_deployments_racing_a_legacy_start_never_stop_each_others_recording(
    emulator, live_meeting, second_start, two_airflow_homes, monkeypatch
):
    """The legacy start answers 200 with no body, so a task can only find what it started. Both
    deployments find the meeting idle and send a start; the service processes the first (12 s on)
    and lists it before the second (24 s on), so the first task proves its recording its own (the
    only one since its start). Accepted, the second sees two recordings since its start: it cannot
    prove which is its own, so it believes the newest (its own) and never stops it. Refused, it
    follows the winner. Either way: each recording is followed by a task, only the task that
    started a recording stops it (at its timeout, once), and what a timeout leaves running is named."""
    assert (emulator.settings.second_start, emulator.settings.legacy_track) == (second_start, True)
    emulator.add_fault(START, "delay", seconds=12.0)
    emulator.add_fault(START, "delay", seconds=24.0)
    connection = declare_second_start(emulator, monkeypatch, None)

    results, logs = race(two_airflow_homes, connection, "rtk_test_legacy_race", live_meeting)

    assert len(results) == 2, logs[-4000:]
    recordings = by_id(emulator, live_meeting)
    assert len(recordings) == (1 if second_start == "refuse" else 2), recordings
    for recording_id in recordings:
        assert f"Recording {recording_id} is RECORDING" in logs, (recording_id, logs[-6000:])  # followed
        assert stops_sent(emulator, recording_id) <= 1, recording_id
    first = min(recordings.values(), key=lambda r: r["status_history"][0]["at"])
    assert first["stop_reason"] == "API_CALL"  # by its own task, at its timeout
    assert logs.count(f"Stopping recording {first['id']}, which this task started") == 1
    assert logs.count("is the only one invoked since") == 1
    if second_start == "accept":
        (second,) = [r for r in recordings.values() if r["id"] != first["id"]]
        assert second["status"] in ("INVOKED", "RECORDING")
        assert stops_sent(emulator, second["id"]) == 0
        assert f"{first['id']} too (another client may have started one)" in logs
        assert (
            f"Recording {second['id']} did not reach UPLOADED within 25s; it was left running ({BELIEVED}"
            in logs
        )


@pytest.mark.usefixtures("fast_connection")
@pytest.mark.realtimekit_emulator(legacy_track=True)
def test_a_legacy_start_whose_lookup_fails_is_found_and_stopped(emulator, live_meeting, run):
    """The legacy start said 200 (no body) and every lookup of its recording fails: the task fails
    without a retry, looks once more, finds what it started (the meeting was idle before), stops it."""
    # the check before the start gets through; the hook's three listings after it do not
    emulator.add_fault("get_all_recordings", "status", status=503, times=3)

    result = run("rtk_test_legacy_start_no_retries", live_meeting)

    assert result.state == "failed"
    (recording,) = recordings_of(emulator, live_meeting)
    assert recording["stop_reason"] == "API_CALL"
    assert stops_sent(emulator, recording["id"]) == 1
    assert f"Found recording {recording['id']} after the accepted start: {STARTED}" in result.log()
    assert "is the only one invoked since" in result.log()


@pytest.fixture
def refusals(monkeypatch):
    """Plan refusals of task state store writes (Airflow 3.3's store, through a test backend)."""
    from tests import state_store_backend

    yield from state_store_backend.refusing(monkeypatch)


def refuse(refusals, key: str, phase: str | None = None, times: int | None = 1) -> None:
    from tests.state_store_backend import Refusal

    refusals.append(Refusal(key, phase, times))


JOURNAL, EXTERNAL_ID = "realtimekit_start", "realtimekit_recording_id"


@pytest.mark.skipif(not STATE_STORE, reason=NO_STORE + " (no store, no write to fail)")
@pytest.mark.usefixtures("fast_connection")
class TestWhatAStartLearntIsWrittenAtOnce:
    """The start's fact (the id and how it is known) is one write; whatever write after the start
    fails, a retry knows its recording as started and stops it at its ``timeout``."""

    def assert_the_retry_knows_it_started_it(self, emulator, meeting_id: str, result) -> None:
        assert result.state == "failed"
        assert result.task().try_number == 2
        (recording,) = recordings_of(emulator, meeting_id)
        assert "the task's retry will reconnect to it" in result.log(1)
        assert f"Reconnected to recording {recording['id']}, {STARTED}" in result.log(2)
        assert recording["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, recording["id"]) == 1
        assert "it was stopped" in result.log(2)

    def test_the_write_after_the_fact_failing_leaves_a_retry_that_knows_it(
        self, emulator, live_meeting, refusals, run
    ):
        """The mixin's external id key is written after the fact (as a kill between the two would
        leave it): the retry takes the recording from the journal."""
        refuse(refusals, EXTERNAL_ID)

        result = run("rtk_test_timeout", live_meeting)

        self.assert_the_retry_knows_it_started_it(emulator, live_meeting, result)
        assert "The task state store's journal holds recording" in result.log(2)

    def test_the_fact_failing_once_is_written_again(self, emulator, live_meeting, refusals, run):
        refuse(refusals, JOURNAL, phase="started")

        result = run("rtk_test_timeout", live_meeting)

        self.assert_the_retry_knows_it_started_it(emulator, live_meeting, result)

    def test_a_store_that_keeps_no_fact_gets_no_promise_and_the_recording_is_stopped(
        self, emulator, live_meeting, refusals, run
    ):
        """The store refuses every write of the fact: try 1 does not promise a reconnect it cannot
        give; it stops what it started. The retry records nothing twice."""
        refuse(refusals, JOURNAL, phase="started", times=None)

        result = run("rtk_test_timeout", live_meeting)

        assert result.task().try_number == 2
        (recording,) = recordings_of(emulator, live_meeting)
        assert "the task's retry will reconnect to it" not in result.log(1)
        assert "no retry will reconnect to it (the task state store does not hold it)" in result.log(1)
        assert f"Stopping recording {recording['id']}, which this task started" in result.log(1)
        assert recording["stop_reason"] == "API_CALL"
        assert stops_sent(emulator, recording["id"]) == 1


@pytest.mark.usefixtures("fast_connection")
class TestAFinalFailureNamesWhatItLeavesRunning:
    @pytest.mark.parametrize(
        "dag_id",
        ["rtk_test_wait_no_retries", "rtk_test_deferred_wait_timeout_no_retries"],
        ids=["worker", "deferred"],
    )
    def test_the_api_down_for_the_stop_too(self, emulator, live_meeting, dag_id, run):
        """Reads fail (deferred: the poller waits the outage out until the timeout), and so does the stop."""
        for operation in ("get_one_recording", "get_all_recordings", "pause_resume_stop_recording"):
            emulator.add_fault(operation, "status", status=503, times=None)

        result = run(dag_id, live_meeting)

        assert result.state == "failed"
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] in ("INVOKED", "RECORDING")
        assert f"Recording {recording['id']} left running: the stop failed (" in result.log()
        assert "stop it by hand" in result.log()

    def test_a_believed_recording_is_named(self, emulator, live_meeting, run):
        """The start's answer is lost (believed), then every read fails: not stopped, but named."""
        emulator.add_fault(START, "drop_after")
        emulator.add_fault("get_one_recording", "status", status=503, times=None)

        result = run("rtk_test_wait_no_retries", live_meeting)

        assert result.state == "failed"
        (recording,) = recordings_of(emulator, live_meeting)
        assert stops_sent(emulator, recording["id"]) == 0
        assert f"Recording {recording['id']} left running: the task failed" in result.log()
        assert BELIEVED in result.log()
