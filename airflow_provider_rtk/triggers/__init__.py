"""Triggers of the RealtimeKit provider, imported on first use (DAG files stay cheap to parse).

``_EXPORTS``, ``__all__`` and the ``TYPE_CHECKING`` imports name the same things (a test checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_rtk._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_rtk.triggers.active_session import RealtimeKitActiveSessionTrigger
    from airflow_provider_rtk.triggers.base import RealtimeKitPollingTrigger, RealtimeKitTrigger
    from airflow_provider_rtk.triggers.events import (
        ActiveSessionEvent,
        EventStatus,
        LiveSessionEvent,
        RealtimeKitEvent,
        RecordingEvent,
        SessionDocumentsEvent,
    )
    from airflow_provider_rtk.triggers.live_session import RealtimeKitLiveSessionTrigger
    from airflow_provider_rtk.triggers.recording import RealtimeKitRecordingTrigger
    from airflow_provider_rtk.triggers.session_documents import RealtimeKitSessionDocumentsTrigger

_EXPORTS: dict[str, str] = {
    "RealtimeKitRecordingTrigger": "recording",
    "RealtimeKitActiveSessionTrigger": "active_session",
    "RealtimeKitLiveSessionTrigger": "live_session",
    "RealtimeKitTrigger": "base",
    "RealtimeKitPollingTrigger": "base",
    "RealtimeKitEvent": "events",
    "RecordingEvent": "events",
    "ActiveSessionEvent": "events",
    "LiveSessionEvent": "events",
    "EventStatus": "events",
    "RealtimeKitSessionDocumentsTrigger": "session_documents",
    "SessionDocumentsEvent": "events",
}

__all__ = [
    "ActiveSessionEvent",
    "EventStatus",
    "LiveSessionEvent",
    "RealtimeKitActiveSessionTrigger",
    "RealtimeKitEvent",
    "RealtimeKitLiveSessionTrigger",
    "RealtimeKitPollingTrigger",
    "RealtimeKitRecordingTrigger",
    "RealtimeKitSessionDocumentsTrigger",
    "RealtimeKitTrigger",
    "RecordingEvent",
    "SessionDocumentsEvent",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
