"""The two things that differ between Airflow 3.0 and 3.3+ which common-compat does not settle.

Everything else version-dependent (the SDK's ``BaseHook``, ``conf``, exceptions, secret masking) comes
from ``apache-airflow-providers-common-compat`` directly. Tested on both ends of the supported range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_3_PLUS

__all__ = ["AIRFLOW_V_3_3_PLUS", "ResumableJobMixin", "default_deferrable"]

if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.providers.common.compat.sdk import ResumableJobMixin
else:
    from airflow.providers.common.compat.sdk import ResumableJobMixin as _ResumableJobStandIn

    class ResumableJobMixin(_ResumableJobStandIn, BaseOperator):
        """Airflow < 3.3: common-compat's stand-in (no task state store; every try submits anew).

        An operator class with its own ``__init__``, so that Airflow registers ``durable`` as an
        operator argument and ``.partial(durable=False)`` validates, as on 3.3 (DAGs written for 3.3
        load unchanged). ``durable`` has no effect here; the stand-in warns when it is given.
        """

        def __init__(self, *, durable: bool | None = None, **kwargs: Any) -> None:
            if durable is None:
                super().__init__(**kwargs)
            else:
                super().__init__(durable=durable, **kwargs)


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: deferrable by default only where the deployment says so."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))
