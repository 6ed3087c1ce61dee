"""Imports that moved between Airflow 3.0 and 3.3, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:  # Airflow 3.1+
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]

try:  # Airflow 3.1+
    from airflow.sdk import conf
except ImportError:  # Airflow 3.0
    from airflow.configuration import conf  # type: ignore[no-redef,assignment]

try:  # Airflow 3.1+
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowTaskTimeout,
        TaskDeferred,
    )
except ImportError:  # Airflow 3.0
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowFailException,
        AirflowTaskTimeout,
        TaskDeferred,
    )

if TYPE_CHECKING:
    from airflow.sdk import ResumableJobMixin
else:
    try:  # Airflow 3.3+: the recording id survives a worker crash in the task state store
        from airflow.sdk import ResumableJobMixin
    except ImportError:
        from airflow.sdk.bases.operator import BaseOperatorMeta

        class ResumableJobMixin:
            """Airflow < 3.3 has no task state store: submit, wait, return (reconciling does the rest)."""

            external_id_key = "remote_job_id"

            @BaseOperatorMeta._apply_defaults  # so ``.partial(durable=...)`` validates, as on 3.3
            def __init__(self, *, durable: bool = True, **kwargs: Any) -> None:
                super().__init__(**kwargs)  # ``durable`` is accepted, so DAGs written for 3.3 still load
                self.durable = False

            def execute_resumable(self, context: Any) -> Any:
                external_id = self.submit_job(context)
                self.poll_until_complete(external_id, context)
                return self.get_job_result(external_id, context)


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: deferrable by default only where the deployment says so."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowTaskTimeout",
    "BaseHook",
    "ResumableJobMixin",
    "TaskDeferred",
    "conf",
    "default_deferrable",
]
