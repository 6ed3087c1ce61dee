"""Old name of :mod:`airflow_provider_rtk.arguments`, kept so that existing imports keep working."""

from __future__ import annotations

from airflow_provider_rtk.arguments import MIN_POLL_INTERVAL, poll_interval_argument, seconds_argument

__all__ = ["MIN_POLL_INTERVAL", "poll_interval_argument", "seconds_argument"]
