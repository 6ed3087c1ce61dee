"""The task retry policy, decided from errors the real hook raises against the emulator.

Version specific by nature: task retry policies exist from Airflow 3.3. On 3.3+ the decisions are
tested; below 3.3 the module must still import, ``retry_policy_kwargs()`` must be empty, and building
a policy must say why it cannot. Each environment of CI (newest and the 3.0 floor) runs its half.
A 429 reschedules on Airflow 3.4+ (the next-Airflow lane) and retries on 3.3.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitConnectionConfigError,
    RealtimeKitPayloadError,
    RealtimeKitStartOutcomeUnknownError,
    RealtimeKitTransportError,
)
from airflow_provider_rtk.retry_policy import (
    FAIL_FAST_STATUSES,
    MAX_RATE_LIMIT_RESCHEDULES,
    RESCHEDULES,
    SUPPORTED,
    RealtimeKitRetryPolicy,
    retry_policy_kwargs,
)


def _airflow_version() -> tuple[int, int]:
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def test_supported_exactly_from_airflow_3_3():
    assert (_airflow_version() >= (3, 3)) is SUPPORTED


def test_reschedules_exactly_from_airflow_3_4():
    assert (_airflow_version() >= (3, 4)) is RESCHEDULES


@pytest.mark.parametrize("statuses", [[429], [200], [400, 600], ["401"], [True]])
def test_odd_fail_fast_statuses_are_refused_on_every_version(statuses):
    with pytest.raises(ValueError, match="fail_fast_statuses"):
        retry_policy_kwargs(statuses)


@pytest.mark.parametrize("reschedules", [0, -1, True, 2.0, "3", None])
def test_odd_reschedule_bounds_are_refused_on_every_version(reschedules):
    with pytest.raises(ValueError, match="max_rate_limit_reschedules"):
        retry_policy_kwargs(max_rate_limit_reschedules=reschedules)


if SUPPORTED:
    from airflow.sdk import RetryAction, RetryPolicy

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

    def _decide(error: BaseException, policy: RealtimeKitRetryPolicy | None = None):
        return (policy or RealtimeKitRetryPolicy()).evaluate(error, try_number=1, max_tries=4)

    def _raised(call) -> BaseException:
        with pytest.raises(Exception) as caught:  # whichever error the hook raises
            call()
        return caught.value

    @pytest.fixture
    def hook(realtimekit_connection):
        with RealtimeKitHook() as hook:
            yield hook

    def test_it_is_an_airflow_retry_policy_and_fits_the_operator_argument():
        from airflow.sdk import DAG

        from airflow_provider_rtk.operators.recording import RealtimeKitRecordingActionOperator

        policy = RealtimeKitRetryPolicy()
        assert isinstance(policy, RetryPolicy)
        assert retry_policy_kwargs()["retry_policy"].fail_fast_statuses == FAIL_FAST_STATUSES
        with DAG("retry_policy_argument", schedule=None):
            task = RealtimeKitRecordingActionOperator(
                task_id="stop", recording_id="r", action="stop", retries=3, retry_policy=policy
            )
        assert task.retry_policy is policy
        assert task.has_retry_policy

    def test_unknown_ids_fail_at_once(hook, realtimekit_connection):
        error = _raised(lambda: hook.get_recording("0b1c2d3e-0000-4000-8000-000000000000"))
        assert isinstance(error, RealtimeKitAPIError)
        assert error.status_code == 404
        decision = _decide(error)
        assert decision.action is RetryAction.FAIL
        assert decision.reason == "RealtimeKitNotFoundError: HTTP 404 from get_one_recording"

    def test_a_wrong_token_fails_at_once(realtimekit_connection, monkeypatch):
        connection = realtimekit_connection.airflow_connection()
        connection["password"] = "not-the-token"
        monkeypatch.setenv("AIRFLOW_CONN_RTK_WRONG_TOKEN", json.dumps(connection))
        with RealtimeKitHook(realtimekit_conn_id="rtk_wrong_token") as hook:
            error = _raised(lambda: hook.get_recording("0b1c2d3e-0000-4000-8000-000000000000"))
        assert getattr(error, "status_code", None) == 401
        decision = _decide(error)
        assert decision.action is RetryAction.FAIL
        assert "not-the-token" not in str(decision)

    def test_starting_where_no_one_is_live_fails_at_once(hook, realtimekit_connection):
        meeting_id = realtimekit_connection.create_meeting("empty")["id"]
        body = {
            "meeting_id": meeting_id,
            "layers": {"default": {"file_name_prefix": "x", "media_kind": "audio"}},
        }
        error = _raised(lambda: hook.start_track_recording(body))
        assert isinstance(error, RealtimeKitAPIError)
        assert error.status_code in FAIL_FAST_STATUSES
        assert _decide(error).action is RetryAction.FAIL

    def test_a_rate_limit_retries_after_the_services_retry_after(realtimekit_connection, monkeypatch):
        connection = realtimekit_connection.airflow_connection()
        connection["extra"]["max_attempts"] = 1  # the hook gives up at once: the task's try fails
        monkeypatch.setenv("AIRFLOW_CONN_RTK_ONE_ATTEMPT", json.dumps(connection))
        realtimekit_connection.add_fault("get_one_recording", "status", status=429, retry_after=7)
        with RealtimeKitHook(realtimekit_conn_id="rtk_one_attempt") as hook:
            error = _raised(lambda: hook.get_recording("0b1c2d3e-0000-4000-8000-000000000000"))
        assert isinstance(error, RealtimeKitAPIError)
        assert (error.status_code, error.retry_after) == (429, 7.0)
        decision = _decide(error)
        assert decision.action is (RetryAction.RESCHEDULE if RESCHEDULES else RetryAction.RETRY)
        assert decision.retry_delay == timedelta(seconds=7)
        assert decision.reason == "HTTP 429 from get_one_recording: Retry-After 7 s"

    def test_a_rate_limit_without_retry_after(realtimekit_connection):
        """3.4+: rescheduled after the task's retry_delay; 3.3: left to the task's retries."""
        decision = _decide(RealtimeKitAPIError("slow down", status_code=429, operation="get_one_recording"))
        if not RESCHEDULES:
            assert decision.action is RetryAction.DEFAULT
            return
        assert decision.action is RetryAction.RESCHEDULE
        assert decision.retry_delay is None  # Airflow uses the task's retry_delay
        assert decision.reason == "HTTP 429 from get_one_recording"

    def test_input_and_connection_errors_fail_at_once(realtimekit_connection, monkeypatch):
        from airflow_provider_rtk.models import build_track_request

        payload = _raised(lambda: build_track_request("", layers={"default": {"media_kind": "video"}}))
        assert isinstance(payload, RealtimeKitPayloadError)
        assert _decide(payload).action is RetryAction.FAIL

        connection = realtimekit_connection.airflow_connection()
        del connection["extra"]["app_id"]
        monkeypatch.setenv("AIRFLOW_CONN_RTK_NO_APP", json.dumps(connection))
        config = _raised(lambda: RealtimeKitHook(realtimekit_conn_id="rtk_no_app").settings)
        assert isinstance(config, RealtimeKitConnectionConfigError)
        decision = _decide(config)
        assert decision.action is RetryAction.FAIL
        assert decision.reason.startswith("RealtimeKitConnectionConfigError:")

    @pytest.mark.parametrize(
        "error",
        [
            RealtimeKitAPIError("boom", status_code=503, operation="get_one_recording"),
            RealtimeKitTransportError("ReadTimeout", operation="x", maybe_delivered=True),
            RealtimeKitStartOutcomeUnknownError(
                "lost", status_code=400, operation="x"
            ),  # its retry reconciles
            ValueError("not ours"),
            KeyboardInterrupt(),
        ],
        ids=["503", "no-answer", "outcome-unknown", "foreign", "base-exception"],
    )
    def test_the_rest_is_left_to_the_tasks_retries(error):
        assert _decide(error).action is RetryAction.DEFAULT

    def test_an_error_raised_from_one_of_ours_is_judged_by_it():
        cause = RealtimeKitAPIError("forbidden", status_code=403, operation="get_meeting")
        wrapped = RuntimeError("wrapped")
        wrapped.__cause__ = cause
        assert _decide(wrapped).action is RetryAction.FAIL
        assert _decide(RuntimeError("unrelated")).action is RetryAction.DEFAULT

    def test_the_fail_fast_statuses_are_an_option():
        error = RealtimeKitAPIError("no", status_code=404, operation="get_one_recording")
        assert _decide(error, RealtimeKitRetryPolicy(fail_fast_statuses=[401])).action is RetryAction.DEFAULT
        error = RealtimeKitAPIError("gone", status_code=410, operation="get_one_recording")
        assert _decide(error, RealtimeKitRetryPolicy(fail_fast_statuses=[410])).action is RetryAction.FAIL

    def test_it_round_trips_through_its_serialized_form():
        policy = RealtimeKitRetryPolicy(fail_fast_statuses=[401, 403], max_rate_limit_reschedules=2)
        data = policy.serialize()
        assert json.loads(json.dumps(data)) == data
        again = RealtimeKitRetryPolicy.deserialize(data)
        assert (again.fail_fast_statuses, again.max_rate_limit_reschedules) == (frozenset({401, 403}), 2)
        assert (
            repr(policy)
            == "RealtimeKitRetryPolicy(fail_fast_statuses=[401, 403], max_rate_limit_reschedules=2)"
        )
        # a form serialized before the bound existed
        old = RealtimeKitRetryPolicy.deserialize({"fail_fast_statuses": [401]})
        assert old.max_rate_limit_reschedules == MAX_RATE_LIMIT_RESCHEDULES

    if RESCHEDULES:

        def test_on_3_4_a_rate_limit_reschedules_within_the_bound():
            error = RealtimeKitAPIError("slow down", status_code=429, operation="x", retry_after=3)
            decision = _decide(error, RealtimeKitRetryPolicy(max_rate_limit_reschedules=2))
            assert decision.action is RetryAction.RESCHEDULE
            assert (decision.max_reschedules, decision.reschedule_timeout) == (2, None)
            assert _decide(error).max_reschedules == MAX_RATE_LIMIT_RESCHEDULES

else:

    def test_below_3_3_the_kwargs_are_empty_and_a_policy_says_why():
        assert retry_policy_kwargs() == {}
        with pytest.raises(RuntimeError, match=r"need Airflow 3\.3 or later, this is 3\.\d"):
            RealtimeKitRetryPolicy()

    def test_below_3_3_an_operator_with_the_kwargs_still_loads():
        from airflow.sdk import DAG

        from airflow_provider_rtk.operators.recording import RealtimeKitRecordingActionOperator

        with DAG("retry_policy_kwargs", schedule=None):
            task = RealtimeKitRecordingActionOperator(
                task_id="stop", recording_id="r", action="stop", retries=3, **retry_policy_kwargs()
            )
        assert task.retries == 3
