"""The provider as Airflow's command line sees it (a subprocess per command, so not in the unit loop)."""

from __future__ import annotations

import os
import subprocess
import sys


def _airflow_cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    )
    return result.stdout


def test_airflow_cli_lists_provider_and_connection_type() -> None:
    assert "airflow-provider-rtk" in _airflow_cli("providers", "list", "--output", "plain")
    hooks = _airflow_cli("providers", "hooks", "--output", "plain")
    assert "realtimekit" in hooks
    assert "RealtimeKitHook" in hooks
