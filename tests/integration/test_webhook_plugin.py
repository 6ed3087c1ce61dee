"""The receiver plugin in fresh Airflow processes (subprocesses, so not in the unit loop): importing
it loads no receiver piece, and the api-server's plugin manager mounts it when providers are
discovered eagerly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


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


@pytest.mark.parametrize("lazy", ["True", "False"])
def test_the_api_server_mounts_it_once_however_providers_are_discovered(lazy: str, tmp_path: Path) -> None:
    """Installing the provider is enough: the ``airflow.plugins`` entry point loads the plugin with the
    default ``[core] lazy_discover_providers = True`` (provider-info plugins load only with ``False``),
    and with ``False`` the provider info's copy of it is skipped, not mounted twice. A fresh Airflow
    process each (the plugin manager caches what it loaded), a few seconds each on an idle machine."""
    code = (
        "from airflow import plugins_manager\n"
        "apps, _ = plugins_manager.get_fastapi_plugins()\n"
        "print([a.get('url_prefix') for a in apps])\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": lazy,
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path / "plugins"),
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)

    assert out.stdout.strip().splitlines()[-1] == repr(["/realtimekit"])
