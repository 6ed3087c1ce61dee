"""The receiver is an Airflow plugin of the provider, registered by its provider info, mounted under
its own prefix. That importing it is cheap and that the api-server mounts it (fresh processes each):
``tests/integration/test_webhook_plugin.py``."""

from __future__ import annotations

from airflow_provider_rtk.get_provider_info import get_provider_info
from airflow_provider_rtk.webhooks.plugin import URL_PREFIX, LazyReceiverApp, RealtimeKitWebhooksPlugin


def test_the_provider_info_registers_the_plugin() -> None:
    plugins = get_provider_info()["plugins"]

    assert plugins == [
        {
            "name": "realtimekit_webhooks",
            "plugin-class": "airflow_provider_rtk.webhooks.plugin.RealtimeKitWebhooksPlugin",
        }
    ]


def test_the_plugin_mounts_one_app_outside_airflows_reserved_prefixes() -> None:
    from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS

    if not AIRFLOW_V_3_3_PLUS:  # the floor: no asset-watcher model to read, so nothing is mounted
        assert RealtimeKitWebhooksPlugin.fastapi_apps == []
        return
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    (app,) = RealtimeKitWebhooksPlugin.fastapi_apps
    assert app["url_prefix"] == URL_PREFIX == "/realtimekit"
    assert isinstance(app["app"], LazyReceiverApp)
    assert not any(URL_PREFIX.startswith(prefix) for prefix in RESERVED_URL_PREFIXES)
