"""Sensors of the RealtimeKit provider, imported on first use (DAG files stay cheap to parse).

``RealtimeKitRecordingFailed`` (deprecated) still imports from here, with a warning; it is not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_rtk._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_rtk.sensors.active_session import RealtimeKitActiveSessionSensor
    from airflow_provider_rtk.sensors.base import (
        RealtimeKitBaseSensor,
        RealtimeKitRecordingFailedNoRetryError,
    )
    from airflow_provider_rtk.sensors.recording import RealtimeKitRecordingSensor

_EXPORTS: dict[str, str] = {
    "RealtimeKitActiveSessionSensor": "active_session",
    "RealtimeKitRecordingSensor": "recording",
    "RealtimeKitBaseSensor": "base",
    "RealtimeKitRecordingFailedNoRetryError": "base",
}

__all__ = [
    "RealtimeKitActiveSessionSensor",
    "RealtimeKitBaseSensor",
    "RealtimeKitRecordingFailedNoRetryError",
    "RealtimeKitRecordingSensor",
]

_lazy_getattr, __dir__ = lazy_exports(__name__, _EXPORTS)


def __getattr__(name: str) -> Any:
    """The sensors on first use; ``RealtimeKitRecordingFailed`` (deprecated) warns on every use."""
    if name in _EXPORTS:
        return _lazy_getattr(name)
    from airflow_provider_rtk.exceptions import deprecated_alias  # only for an old or unknown name

    return deprecated_alias(__name__, name)
