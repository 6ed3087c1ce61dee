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
    # serialize_value, the documented hook of custom backends, is on every push's path (``set`` no
    # longer is: Airflow 3.4 pushes a task's XComs through a private ``_push``)
    @staticmethod
    def serialize_value(
        value: Any, *, key: str | None = None, dag_id: str | None = None, **kwargs: Any
    ) -> Any:
        if key == "recording_id" and str(dag_id).startswith(FAILING_DAGS):
            raise RuntimeError("the XCom backend is unavailable")
        return BaseXCom.serialize_value(value, key=key, dag_id=dag_id, **kwargs)
