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


@pytest.mark.parametrize(("lazy", "mounted"), [("False", ["/realtimekit"]), ("True", [])])
def test_the_api_server_mounts_it_when_providers_are_discovered_eagerly(
    lazy: str, mounted: list[str], tmp_path: Path
) -> None:
    """Airflow 3.3 loads the plugins of provider info only with ``[core] lazy_discover_providers =
    False`` (plugins_manager._get_plugins); the README says so. A fresh Airflow process each (the
    plugin manager caches what it loaded), a few seconds each on an idle machine."""
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

    assert out.stdout.strip().splitlines()[-1] == repr(mounted)
