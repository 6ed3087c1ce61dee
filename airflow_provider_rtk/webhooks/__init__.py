"""The webhook receiver: RealtimeKit's signed deliveries become asset events (see README, "Webhooks").

Nothing is imported here: the plugin manager loads :mod:`.plugin` in every Airflow process, and the
receiver's pieces (FastAPI, cryptography, the database) load on the first delivery.
"""
