"""The fault suite: a bad network or a failing service never loses or duplicates a recording.

Each test injects a fault into the emulator, runs a real DAG under ``dag.test()``, and asserts the end
state: how many recordings exist and in which status, the task's state and tries, and the log line
that says what happened.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import STATE_STORE, every_request_answered, recordings_of, xcom

START = "startTrackRecordingForAMeeting"

#: every case holds whether the service refuses a second concurrent start or accepts it
pytestmark = pytest.mark.usefixtures("second_start")


@pytest.mark.usefixtures("fast_connection")
class TestLostAnswers:
    def test_answer_dropped_after_the_start_took_effect_is_adopted(self, emulator, live_meeting, run):
        emulator.add_fault(START, "drop_after")

        result = run("rtk_test_start", live_meeting)

        assert result.state == "success", result.output[-3000:]
        (recording,) = recordings_of(emulator, live_meeting)
        assert result.task().try_number == 1
        assert "answer was lost" in result.log()
        assert recording["id"] in result.log()

    def test_dropped_answer_and_unreadable_state_retry_the_task_which_attaches(
        self, emulator, live_meeting, run
    ):
        emulator.add_fault(START, "drop_after")
        # a first try sends its start straight away; the hook's check after the lost answer fails on
        # each of its three attempts, so the outcome is unknown and the retry reconciles
        emulator.add_fault("get_active_recording", "status", status=503, times=3)

        result = run("rtk_test_start", live_meeting)

        assert result.state == "success", result.output[-3000:]
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] in ("INVOKED", "RECORDING")
        ti = result.task()
        assert ti.try_number == 2
        assert "not sending it again" in result.log(1)
        assert "earlier try" in result.log(2)

    def test_connection_dropped_before_the_start_is_sent_again_once(self, emulator, live_meeting, run):
        emulator.add_fault(START, "drop_before")

        result = run("rtk_test_start", live_meeting)

        assert result.state == "success", result.output[-3000:]
        assert len(recordings_of(emulator, live_meeting)) == 1
        assert "no recording is active" in result.log()

    def test_read_timeout_on_the_start(self, emulator, live_meeting, run):
        emulator.add_fault(START, "delay", seconds=2.5)  # the client gives up after 1s

        result = run("rtk_test_start", live_meeting)

        assert result.state == "success", result.output[-3000:]
        every_request_answered(emulator)  # the delayed first start has landed: it made no second recording
        assert len(recordings_of(emulator, live_meeting)) == 1
        assert "ReadTimeout" in result.log()


@pytest.mark.usefixtures("fast_connection")
class TestServiceErrors:
    def test_5xx_then_success(self, emulator, live_meeting, run):
        emulator.add_fault(START, "status", status=503)

        result = run("rtk_test_start", live_meeting)

        assert result.state == "success", result.output[-3000:]
        assert len(recordings_of(emulator, live_meeting)) == 1
        assert "HTTP 503" in result.log()

    def test_429_waits_for_retry_after(self, emulator, live_meeting, run):
        emulator.add_fault(START, "status", status=429, retry_after=2)

        result = run("rtk_test_start", live_meeting)

        assert result.state == "success", result.output[-3000:]
        assert len(recordings_of(emulator, live_meeting)) == 1
        log = result.log()
        assert "HTTP 429" in log
        assert "retrying in 2.0s" in log
        ti = result.task()
        # waited the 2 s, and not ten times as long (generous above: the run's own work on a busy machine)
        assert 2.0 <= (ti.end_date - ti.start_date).total_seconds() < 20.0

    def test_service_rejecting_the_body_fails_without_a_recording(self, emulator, live_meeting, run):
        emulator.add_fault(START, "status", status=400, times=None)

        result = run("rtk_test_start", live_meeting)

        assert result.state == "failed"
        assert recordings_of(emulator, live_meeting) == []
        assert "HTTP 400" in result.log()

    def test_meeting_that_is_not_live_fails_clearly(self, emulator, run):
        meeting_id = emulator.create_meeting("empty room")["id"]

        result = run("rtk_test_start", meeting_id)

        assert result.state == "failed"
        assert recordings_of(emulator, meeting_id) == []
        assert "active session" in result.log()


@pytest.mark.usefixtures("fast_connection")
class TestNeverLeftRunning:
    @pytest.mark.parametrize("dag_id", ["rtk_test_timeout", "rtk_test_deferred_timeout"])
    def test_timeout_stops_the_recording_and_fails_without_retry(self, emulator, live_meeting, dag_id, run):
        result = run(dag_id, live_meeting)

        assert result.state == "failed"
        ti = result.task()
        assert ti.try_number == 1, "a timed-out recording must not be started again by a retry"
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] in ("UPLOADING", "UPLOADED")
        assert recording["stop_reason"] == "API_CALL"
        assert "it was stopped" in result.log()

    def test_execution_timeout_kill_stops_the_recording(self, emulator, live_meeting, run):
        result = run("rtk_test_execution_timeout", live_meeting)

        assert result.state == "failed"
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] in ("UPLOADING", "UPLOADED")
        assert recording["stop_reason"] == "API_CALL"
        assert "execution_timeout" in result.log()

    def test_failure_while_waiting_retries_and_reconnects_to_the_same_recording(
        self, emulator, live_meeting, end_session_once_recording, run
    ):
        emulator.add_fault("get_one_recording", "status", status=503, times=3)
        end_session_once_recording(live_meeting)

        result = run("rtk_test_start_and_wait", live_meeting)

        assert result.state == "success", result.output[-3000:]
        assert result.task().try_number == 2
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] == "UPLOADED"
        # Airflow 3.3 keeps the id in the task state store; older versions reconcile by the meeting
        expected = "Reconnected to recording" if STATE_STORE else "earlier try"
        assert expected in result.log(2)
        assert xcom(result.dag_run, "start", key="recording_id") == recording["id"]

    def test_retry_reconnects_to_the_running_recording_and_returns_it(
        self, emulator, live_meeting, when, run
    ):
        emulator.add_fault("get_one_recording", "status", status=503, times=3)
        # the meeting ends only once the first try has given up: the retry finds it still recording
        # (DAG tests run on Airflow 3.3, where the id comes back from the task state store)
        when(lambda: not emulator.faults(), lambda: emulator.end_session(live_meeting), after=4.0)

        result = run("rtk_test_start_and_wait", live_meeting)

        assert result.state == "success", result.output[-3000:]
        assert result.task().try_number == 2
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] == "UPLOADED"
        assert "Reconnected to recording" in result.log(2)
        assert xcom(result.dag_run, "start")["id"] == recording["id"]
        assert xcom(result.dag_run, "start")["status"] == "UPLOADED"

    def test_retry_without_state_store_reattaches_to_a_stopped_recording(
        self, emulator, live_meeting, end_session_once_recording, run
    ):
        """Reconciling through the service alone (Airflow < 3.3): the recording the first try started
        has stopped by the time the retry runs, so it is no longer active - and still not duplicated."""
        emulator.add_fault("get_one_recording", "status", status=503, times=3)
        end_session_once_recording(live_meeting)

        result = run("rtk_test_start_and_wait_without_store", live_meeting)

        assert result.state == "success", result.output[-3000:]
        assert result.task().try_number == 2
        (recording,) = recordings_of(emulator, live_meeting)
        assert recording["status"] == "UPLOADED"
        assert "reattaching to a stopped recording" in result.log(2)
        assert "believed to be this task's own (it will follow it, never stop it)" in result.log(2)
        assert xcom(result.dag_run, "start")["id"] == recording["id"]


class TestIfActive:
    @pytest.fixture
    def foreign_recording(self, emulator, live_meeting, run):
        """A recording someone else started before the DAG ran."""
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        with RealtimeKitHook() as hook:
            return hook.start_track_recording({"meeting_id": live_meeting}).recording.id

    @staticmethod
    def own_stopped_at_once(emulator, live_meeting, foreign_recording, second_start):
        """The first try sends its start straight away. Refused (the meeting is being recorded), it
        starts nothing; accepted, its own recording is the later of two, which it stops at once."""
        others = [r for r in recordings_of(emulator, live_meeting) if r["id"] != foreign_recording]
        if second_start == "refuse":
            assert others == []
        else:
            (own,) = others
            assert own["stop_reason"] == "API_CALL"
            assert own["status"] in ("UPLOADING", "UPLOADED")

    def test_attach_follows_the_foreign_recording_and_never_stops_it(
        self, emulator, live_meeting, foreign_recording, second_start, run
    ):
        result = run("rtk_test_start", live_meeting, if_active="attach")

        assert result.state == "success"
        (foreign,) = [r for r in recordings_of(emulator, live_meeting) if r["id"] == foreign_recording]
        assert foreign["status"] in ("INVOKED", "RECORDING")
        self.own_stopped_at_once(emulator, live_meeting, foreign_recording, second_start)
        assert xcom(result.dag_run, "start", key="recording_id") == foreign_recording

    def test_fail_names_the_active_recording(
        self, emulator, live_meeting, foreign_recording, second_start, run
    ):
        result = run("rtk_test_start", live_meeting, if_active="fail")

        assert result.state == "failed"
        assert result.task().try_number == 1
        assert foreign_recording in result.log()
        self.own_stopped_at_once(emulator, live_meeting, foreign_recording, second_start)

    def test_stop_and_start_replaces_it(self, emulator, live_meeting, foreign_recording, run):
        result = run("rtk_test_start", live_meeting, if_active="stop_and_start")

        assert result.state == "success", result.output[-3000:]
        old, new = sorted(recordings_of(emulator, live_meeting), key=lambda r: r["id"] != foreign_recording)
        assert old["id"] == foreign_recording
        assert old["status"] in ("UPLOADING", "UPLOADED")
        assert new["status"] in ("INVOKED", "RECORDING")

    @pytest.mark.usefixtures("fast_connection")
    def test_a_retry_that_reconnects_to_an_attached_recording_does_not_own_it(
        self, emulator, live_meeting, foreign_recording, when, run
    ):
        """Try 1 attaches to someone else's recording and fails while waiting; try 2 reconnects
        through the task state store - and still knows it must never stop that recording."""
        emulator.add_fault("get_one_recording", "status", status=503, times=3)
        when(lambda: not emulator.faults(), lambda: emulator.end_session(live_meeting), after=3.0)

        result = run("rtk_test_start_and_wait", live_meeting)

        assert result.state == "success", result.output[-3000:]
        assert result.task().try_number == 2
        assert [r["id"] for r in recordings_of(emulator, live_meeting)] == [foreign_recording]
        assert "not started by this task (it will follow it, never stop it)" in result.log(2)

    def test_unknown_policy_is_a_field_error(self, emulator, live_meeting, run):
        result = run("rtk_test_start", live_meeting, if_active="maybe")

        assert result.state == "failed"
        assert "if_active: must be one of" in result.log()
        assert recordings_of(emulator, live_meeting) == []
