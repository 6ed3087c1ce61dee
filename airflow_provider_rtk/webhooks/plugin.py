"""The Airflow plugin of the webhook receiver, registered in the provider info (``plugins``).

Airflow's plugin manager imports this module in every process, so it imports nothing but the
plugin base: the FastAPI app (:mod:`airflow_provider_rtk.webhooks.app`) is built on the first
request the api-server routes to ``/realtimekit``.

The receiver needs Airflow 3.3+ (tested on 3.3 and 3.4): it finds the assets it feeds through the
asset-watcher model, which Airflow 3.0 lacks. Below 3.3 the plugin mounts nothing (deliveries to the
path get the api-server's 404, which the service does not retry).
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as _airflow_version
from airflow.providers.common.compat.sdk import AirflowPlugin
from packaging.version import Version

#: Where the api-server mounts the receiver: deliveries go to ``/realtimekit/webhooks/{conn_id}``.
URL_PREFIX = "/realtimekit"
#: Whether this Airflow has what the receiver reads (its asset-watcher model: 3.3+ as tested).
RECEIVER_SUPPORTED: bool = Version(Version(_airflow_version).base_version) >= Version("3.3")


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
    fastapi_apps = (
        [{"app": LazyReceiverApp(), "url_prefix": URL_PREFIX, "name": "RealtimeKit webhooks"}]
        if RECEIVER_SUPPORTED
        else []
    )
