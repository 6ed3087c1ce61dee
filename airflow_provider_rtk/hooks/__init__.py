"""Hooks: the RealtimeKit connection and HTTP client (``airflow_provider_rtk.hooks.realtimekit``)."""
