"""The copy operator's old home; it lives in :mod:`airflow_provider_rtk.transfers.recording_to_object_storage`
(Airflow's convention for an operator that moves data from one system to another). Kept so that DAG
files importing from here keep working."""

from __future__ import annotations

from airflow_provider_rtk.transfers.recording_to_object_storage import (
    DEFAULT_ASSET_ALIAS,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MIN_DOWNLOAD_RATE,
    MAX_REDIRECTS,
    RealtimeKitCopyError,
    RealtimeKitDownloadLinksExpiredError,
    RealtimeKitFilesNotDownloadableError,
    RealtimeKitRecordingToObjectStorageOperator,
)

__all__ = [
    "DEFAULT_ASSET_ALIAS",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MIN_DOWNLOAD_RATE",
    "MAX_REDIRECTS",
    "RealtimeKitCopyError",
    "RealtimeKitDownloadLinksExpiredError",
    "RealtimeKitFilesNotDownloadableError",
    "RealtimeKitRecordingToObjectStorageOperator",
]
