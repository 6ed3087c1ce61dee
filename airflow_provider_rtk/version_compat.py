"""What differs between Airflow 3.0 and 3.4+ which common-compat does not settle.

Everything else version-dependent (the SDK's ``BaseHook``, exceptions, secret masking) comes from
``apache-airflow-providers-common-compat`` directly. On Airflow 3.3+ this module takes the mixin and
``conf`` from ``airflow.sdk`` itself, so that a DAG file importing the operator does not load
common-compat (its import is a third of BashOperator's parse cost). Tested on both ends of the
supported range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow import __version__ as _airflow_version
from packaging.version import Version

__all__ = [
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AIRFLOW_V_3_4_PLUS",
    "ResumableJobMixin",
    "default_deferrable",
]


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """The running Airflow's version, without pre-release or local parts (copied from common-compat's
    ``version_compat``, whose header asks providers to copy it rather than import it)."""
    version = Version(_airflow_version)
    return version.major, version.minor, version.micro


AIRFLOW_V_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS: bool = get_base_airflow_version_tuple() >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS: bool = get_base_airflow_version_tuple() >= (3, 3, 0)
#: 3.4 (its pre-releases too): retry policies that reschedule, event triggers with a ``queue``.
AIRFLOW_V_3_4_PLUS: bool = get_base_airflow_version_tuple() >= (3, 4, 0)

if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.sdk import ResumableJobMixin, conf
else:
    from airflow.providers.common.compat.sdk import ResumableJobMixin as _ResumableJobStandIn
    from airflow.providers.common.compat.sdk import conf
    from airflow.sdk import BaseOperator

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
