"""The receiver is an Airflow plugin of the provider, cheap to import, mounted by the api-server."""

from __future__ import annotations

import subprocess
import sys

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
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    (app,) = RealtimeKitWebhooksPlugin.fastapi_apps
    assert app["url_prefix"] == URL_PREFIX == "/realtimekit"
    assert isinstance(app["app"], LazyReceiverApp)
    assert not any(URL_PREFIX.startswith(prefix) for prefix in RESERVED_URL_PREFIXES)


def test_importing_the_plugin_loads_no_receiver_piece() -> None:
    """Airflow's plugin manager imports the plugin in every process."""
    code = (
        "import sys, airflow_provider_rtk.webhooks.plugin\n"
        "heavy = [m for m in ('fastapi', 'airflow_provider_rtk.webhooks.app', "
        "'airflow_provider_rtk.webhooks.recorder', 'airflow_provider_rtk.models') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip().splitlines()[-1] == "[]"
