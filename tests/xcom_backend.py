"""The tests' XCom backend: Airflow's own, except that it refuses the ``recording_id`` push of the DAGs
named ``rtk_test_xcom_push_fails*`` - a real failure between a start's answer and its first XCom push,
made through Airflow's public extension point (``[core] xcom_backend``), not by patching the provider."""

from __future__ import annotations

from typing import Any

try:  # Airflow 3.1+
    from airflow.sdk.bases.xcom import BaseXCom
except ImportError:  # Airflow 3.0
    from airflow.models.xcom import BaseXCom  # type: ignore[no-redef]

FAILING_DAGS = "rtk_test_xcom_push_fails"


class RefusingXCom(BaseXCom):  # type: ignore[misc,valid-type]
    @classmethod
    def set(cls, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        dag_id = kwargs.get("dag_id") or (args[0] if args else "")
        if key == "recording_id" and str(dag_id).startswith(FAILING_DAGS):
            raise RuntimeError("the XCom backend is unavailable")
        return super().set(key, value, *args, **kwargs)
