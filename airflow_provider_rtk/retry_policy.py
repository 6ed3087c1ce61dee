"""A task retry policy for RealtimeKit tasks (Airflow 3.3+ ``retry_policy``).

Airflow 3.3 lets a task decide, from the exception that failed it, whether to retry and when. For
RealtimeKit tasks :class:`RealtimeKitRetryPolicy` decides:

- **fail now** on what a retry cannot fix: input the provider refused before sending
  (``RealtimeKitPayloadError``), a connection that lacks a field (``RealtimeKitConnectionConfigError``),
  and the API's 400, 401, 403, 404 and 422 answers (a bad request, token, permission or id);
- on a 429 (the hook already retried inside the try): on Airflow 3.4+ **reschedule** the task after the
  service's ``Retry-After`` (or the task's ``retry_delay``) without spending a retry, at most
  ``max_rate_limit_reschedules`` times a try (then the task's retries apply); on 3.3 **retry after**
  ``Retry-After``;
- otherwise leave it to the task's ``retries`` and ``retry_delay`` (5xx, lost answers, a start whose
  outcome is unknown: its retry reconciles with the meeting's active recording).

Use it with the task's usual ``retries``; a policy can end the retries early but never add any::

    RealtimeKitStartTrackRecordingOperator(..., retries=3, retry_policy=RealtimeKitRetryPolicy())

Importing this module works on every supported Airflow; the policy itself needs Airflow 3.3 (older
versions have no ``retry_policy`` argument). A DAG that must load on both passes
``**retry_policy_kwargs()``, which is empty below 3.3.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitConnectionConfigError,
    RealtimeKitError,
    RealtimeKitPayloadError,
    RealtimeKitStartOutcomeUnknownError,
)
from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS, AIRFLOW_V_3_4_PLUS

__all__ = [
    "FAIL_FAST_STATUSES",
    "MAX_RATE_LIMIT_RESCHEDULES",
    "RESCHEDULES",
    "SUPPORTED",
    "RealtimeKitRetryPolicy",
    "retry_policy_kwargs",
]

#: HTTP statuses a retry would only see again.
FAIL_FAST_STATUSES: frozenset[int] = frozenset({400, 401, 403, 404, 422})
#: Whether this Airflow has task retry policies (3.3 and later).
SUPPORTED: bool = AIRFLOW_V_3_3_PLUS
#: Whether this Airflow's retry policies can reschedule a task without spending a retry (3.4 and later).
RESCHEDULES: bool = AIRFLOW_V_3_4_PLUS
#: How many times a try may be rescheduled for rate limits (any reschedule of the try counts) before
#: a 429 spends one of the task's retries.
MAX_RATE_LIMIT_RESCHEDULES = 5
#: How far down ``raise ... from`` chains the policy looks for a RealtimeKit error.
_MAX_CAUSES = 5


def _realtimekit_error(exception: BaseException) -> RealtimeKitError | None:
    """The exception itself if it is a RealtimeKit error, else the first one it was raised from."""
    current: BaseException | None = exception
    for _ in range(_MAX_CAUSES + 1):
        if current is None:
            return None
        if isinstance(current, RealtimeKitError):
            return current
        current = current.__cause__
    return None


def _statuses(fail_fast_statuses: Iterable[int]) -> frozenset[int]:
    statuses = frozenset(fail_fast_statuses)
    bad = sorted(
        (s for s in statuses if isinstance(s, bool) or not isinstance(s, int) or not 400 <= s <= 599),
        key=repr,
    )
    if bad:
        raise ValueError(f"fail_fast_statuses must be HTTP error statuses (400-599), not {bad!r}")
    if 429 in statuses:
        raise ValueError("fail_fast_statuses cannot include 429: a rate limit is retried after Retry-After")
    return statuses


def _reschedules(max_rate_limit_reschedules: int) -> int:
    if isinstance(max_rate_limit_reschedules, bool) or not isinstance(max_rate_limit_reschedules, int):
        raise ValueError(f"max_rate_limit_reschedules must be an int, not {max_rate_limit_reschedules!r}")
    if max_rate_limit_reschedules < 1:
        raise ValueError(f"max_rate_limit_reschedules must be at least 1, not {max_rate_limit_reschedules}")
    return max_rate_limit_reschedules


if TYPE_CHECKING or SUPPORTED:
    from airflow.providers.common.compat.sdk import RetryAction, RetryDecision, RetryPolicy

    if TYPE_CHECKING:
        from airflow.sdk import Context

    class RealtimeKitRetryPolicy(RetryPolicy):
        """Fail fast on errors a retry cannot fix; on a 429 retry after the service's ``Retry-After``.

        :param fail_fast_statuses: API statuses that fail the task at once (default 400, 401, 403,
            404, 422). 429 cannot be one of them.
        :param max_rate_limit_reschedules: Airflow 3.4+: how many reschedules of a try (from any
            cause) a 429 may add before it spends a retry instead (default 5, at least 1).
        """

        def __init__(
            self,
            fail_fast_statuses: Iterable[int] = FAIL_FAST_STATUSES,
            max_rate_limit_reschedules: int = MAX_RATE_LIMIT_RESCHEDULES,
        ) -> None:
            self.fail_fast_statuses = _statuses(fail_fast_statuses)
            self.max_rate_limit_reschedules = _reschedules(max_rate_limit_reschedules)

        def __repr__(self) -> str:
            return (
                f"{type(self).__name__}(fail_fast_statuses={sorted(self.fail_fast_statuses)}, "
                f"max_rate_limit_reschedules={self.max_rate_limit_reschedules})"
            )

        def evaluate(
            self,
            exception: BaseException,
            try_number: int,
            max_tries: int,
            context: Context | None = None,
        ) -> RetryDecision:
            """The decision for the exception that failed the task (its text names no secret)."""
            error = _realtimekit_error(exception)
            name = type(error).__name__
            if isinstance(error, RealtimeKitPayloadError | RealtimeKitConnectionConfigError):
                return RetryDecision.fail(f"{name}: a retry would send the same; fix it first")
            if isinstance(error, RealtimeKitStartOutcomeUnknownError) or not isinstance(
                error, RealtimeKitAPIError
            ):
                return RetryDecision.default()
            status = error.status_code
            if status in self.fail_fast_statuses:
                return RetryDecision.fail(f"{name}: HTTP {status} from {error.operation or 'the API'}")
            if status != 429:
                return RetryDecision(action=RetryAction.DEFAULT)
            delay = None
            reason = f"HTTP 429 from {error.operation or 'the API'}"
            if error.retry_after is not None:
                delay = timedelta(seconds=max(0.0, float(error.retry_after)))
                reason = f"{reason}: Retry-After {delay.total_seconds():g} s"
            if RESCHEDULES:  # run again later without spending a retry, a bounded number of times
                return RetryDecision.reschedule(  # type: ignore[attr-defined,unused-ignore,no-any-return]
                    delay, max_reschedules=self.max_rate_limit_reschedules, reason=reason
                )
            return RetryDecision.retry(delay, reason) if delay is not None else RetryDecision.default()

        def serialize(self) -> dict[str, Any]:
            return {
                "__type": type(self).__name__,
                "fail_fast_statuses": sorted(self.fail_fast_statuses),
                "max_rate_limit_reschedules": self.max_rate_limit_reschedules,
            }

        @classmethod
        def deserialize(cls, data: dict[str, Any]) -> RealtimeKitRetryPolicy:
            return cls(
                fail_fast_statuses=data.get("fail_fast_statuses", FAIL_FAST_STATUSES),
                max_rate_limit_reschedules=data.get("max_rate_limit_reschedules", MAX_RATE_LIMIT_RESCHEDULES),
            )

else:

    class RealtimeKitRetryPolicy:
        """Airflow < 3.3 has no task retry policies: building one says so (use ``retry_policy_kwargs``)."""

        def __init__(
            self,
            fail_fast_statuses: Iterable[int] = FAIL_FAST_STATUSES,
            max_rate_limit_reschedules: int = MAX_RATE_LIMIT_RESCHEDULES,
        ) -> None:
            from airflow import __version__

            raise RuntimeError(
                f"Task retry policies need Airflow 3.3 or later, this is {__version__}: leave retry_policy "
                "out (the task's retries still apply), or pass **retry_policy_kwargs(), empty here"
            )


def retry_policy_kwargs(
    fail_fast_statuses: Iterable[int] = FAIL_FAST_STATUSES,
    max_rate_limit_reschedules: int = MAX_RATE_LIMIT_RESCHEDULES,
) -> dict[str, Any]:
    """``{"retry_policy": RealtimeKitRetryPolicy(...)}`` on Airflow 3.3+, ``{}`` before.

    For operators (or ``default_args``) of DAGs that must load on every supported Airflow.
    """
    if not SUPPORTED:
        _statuses(fail_fast_statuses)  # the same arguments are refused everywhere
        _reschedules(max_rate_limit_reschedules)
        return {}
    return {"retry_policy": RealtimeKitRetryPolicy(fail_fast_statuses, max_rate_limit_reschedules)}
