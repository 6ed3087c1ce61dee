"""Sensors of the RealtimeKit provider, imported on first use (DAG files stay cheap to parse)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_rtk._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_rtk.sensors.active_session import RealtimeKitActiveSessionSensor
    from airflow_provider_rtk.sensors.base import RealtimeKitBaseSensor, RealtimeKitRecordingFailed
    from airflow_provider_rtk.sensors.recording import RealtimeKitRecordingSensor

_EXPORTS: dict[str, str] = {
    "RealtimeKitActiveSessionSensor": "active_session",
    "RealtimeKitRecordingSensor": "recording",
    "RealtimeKitBaseSensor": "base",
    "RealtimeKitRecordingFailed": "base",
}

__all__ = [
    "RealtimeKitActiveSessionSensor",
    "RealtimeKitBaseSensor",
    "RealtimeKitRecordingFailed",
    "RealtimeKitRecordingSensor",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
