"""The Airflow plugin of the webhook receiver, registered in the provider info (``plugins``).

Airflow's plugin manager imports this module in every process, so it imports nothing but the
plugin base: the FastAPI app (:mod:`airflow_provider_rtk.webhooks.app`) is built on the first
request the api-server routes to ``/realtimekit``.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowPlugin

#: Where the api-server mounts the receiver: deliveries go to ``/realtimekit/webhooks/{conn_id}``.
URL_PREFIX = "/realtimekit"


class LazyReceiverApp:
    """An ASGI app that builds the receiver on its first request (and keeps it)."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from airflow_provider_rtk.webhooks.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class RealtimeKitWebhooksPlugin(AirflowPlugin):
    """Serves ``POST /realtimekit/webhooks/{conn_id}`` in Airflow's api-server."""

    name = "realtimekit_webhooks"
    fastapi_apps = [{"app": LazyReceiverApp(), "url_prefix": URL_PREFIX, "name": "RealtimeKit webhooks"}]
