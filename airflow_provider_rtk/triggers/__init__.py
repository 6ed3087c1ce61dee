"""Triggers of the RealtimeKit provider, imported on first use (DAG files stay cheap to parse)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_rtk.triggers.active_session import RealtimeKitActiveSessionTrigger
    from airflow_provider_rtk.triggers.base import RealtimeKitPollingTrigger
    from airflow_provider_rtk.triggers.events import (
        ActiveSessionEvent,
        ActiveSessionEventPayload,
        EventStatus,
        RealtimeKitEvent,
        RecordingEvent,
        RecordingEventPayload,
    )
    from airflow_provider_rtk.triggers.recording import RealtimeKitRecordingTrigger

_EXPORTS: dict[str, str] = {
    "RealtimeKitRecordingTrigger": "airflow_provider_rtk.triggers.recording",
    "RealtimeKitActiveSessionTrigger": "airflow_provider_rtk.triggers.active_session",
    "RealtimeKitPollingTrigger": "airflow_provider_rtk.triggers.base",
    "RealtimeKitEvent": "airflow_provider_rtk.triggers.events",
    "RecordingEvent": "airflow_provider_rtk.triggers.events",
    "RecordingEventPayload": "airflow_provider_rtk.triggers.events",
    "ActiveSessionEvent": "airflow_provider_rtk.triggers.events",
    "ActiveSessionEventPayload": "airflow_provider_rtk.triggers.events",
    "EventStatus": "airflow_provider_rtk.triggers.events",
}

__all__ = [
    "ActiveSessionEvent",
    "ActiveSessionEventPayload",
    "EventStatus",
    "RealtimeKitActiveSessionTrigger",
    "RealtimeKitEvent",
    "RealtimeKitPollingTrigger",
    "RealtimeKitRecordingTrigger",
    "RecordingEvent",
    "RecordingEventPayload",
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
