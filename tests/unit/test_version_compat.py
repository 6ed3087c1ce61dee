"""``version_compat``: the two things common-compat does not settle, on whichever Airflow runs the test.

Version specific by nature: Airflow 3.3 has ``ResumableJobMixin`` (and a task state store), older
versions get common-compat's stand-in. CI runs this file on the newest Airflow and on the 3.0 floor.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from airflow.sdk import DAG, BaseOperator

from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS, ResumableJobMixin, default_deferrable


class _Job(ResumableJobMixin, BaseOperator):  # type: ignore[misc]
    """The smallest resumable operator: one job whose id is its task id."""

    def __init__(self, *, size: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = size

    def submit_job(self, context: Any) -> str:
        return self.task_id

    def poll_until_complete(self, external_id: str, context: Any) -> None:
        return None

    def get_job_result(self, external_id: str, context: Any) -> str:
        return f"done {external_id}"

    def get_job_status(self, external_id: str, context: Any) -> str:
        return "done"

    def is_job_active(self, status: str) -> bool:
        return False

    def is_job_succeeded(self, status: str) -> bool:
        return True

    def execute(self, context: Any) -> Any:
        return self.execute_resumable(context)


@pytest.mark.parametrize(("setting", "expected"), [("True", True), ("False", False)])
def test_default_deferrable_follows_the_deployment(monkeypatch, setting, expected):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert default_deferrable() is expected


def test_the_mixin_is_the_sdks_exactly_from_3_3():
    from airflow import __version__

    assert AIRFLOW_V_3_3_PLUS is (tuple(int(p) for p in __version__.split(".")[:2]) >= (3, 3))
    if AIRFLOW_V_3_3_PLUS:
        from airflow.sdk import ResumableJobMixin as SdkMixin

        assert ResumableJobMixin is SdkMixin
    else:
        from airflow.providers.common.compat._resumable_job_mixin import ResumableJobMixin as StandIn

        assert issubclass(ResumableJobMixin, StandIn)


def test_durable_is_an_operator_argument_also_when_mapped():
    """DAGs written for 3.3 (``durable=False``, in ``partial()`` too) load on every version."""
    with DAG("durable_everywhere", schedule=None):
        plain = _Job(task_id="plain", durable=False)
        mapped = _Job.partial(task_id="mapped", durable=False).expand(size=[1, 2])
    assert plain.durable is False
    assert mapped.partial_kwargs["durable"] is False


def test_durable_left_out_is_quiet_and_below_3_3_has_no_effect():
    with warnings.catch_warnings(record=True) as caught, DAG("durable_default", schedule=None):
        warnings.simplefilter("always")
        job = _Job(task_id="job")
    assert not [w for w in caught if "durable" in str(w.message)]
    assert job.durable is AIRFLOW_V_3_3_PLUS  # the stand-in has no task state store to be durable with
    if not AIRFLOW_V_3_3_PLUS:
        with pytest.warns(UserWarning, match="`durable` has no effect"), DAG("durable_given", schedule=None):
            _Job(task_id="given", durable=True)
    assert job.execute_resumable({}) == "done job"  # submit, wait, result (no state store in this context)
