"""Sensors of the RealtimeKit provider, imported on first use (DAG files stay cheap to parse)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_rtk.sensors.active_session import RealtimeKitActiveSessionSensor
    from airflow_provider_rtk.sensors.base import RealtimeKitBaseSensor, RealtimeKitRecordingFailed
    from airflow_provider_rtk.sensors.recording import RealtimeKitRecordingSensor

_EXPORTS: dict[str, str] = {
    "RealtimeKitActiveSessionSensor": "airflow_provider_rtk.sensors.active_session",
    "RealtimeKitRecordingSensor": "airflow_provider_rtk.sensors.recording",
    "RealtimeKitBaseSensor": "airflow_provider_rtk.sensors.base",
    "RealtimeKitRecordingFailed": "airflow_provider_rtk.sensors.base",
}

__all__ = [
    "RealtimeKitActiveSessionSensor",
    "RealtimeKitBaseSensor",
    "RealtimeKitRecordingFailed",
    "RealtimeKitRecordingSensor",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
