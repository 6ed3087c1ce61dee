"""Transfer operators of the RealtimeKit provider: a recording's files to any storage Airflow knows."""
