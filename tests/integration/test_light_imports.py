"""What importing the modules a DAG file imports loads, each probe in a fresh interpreter (a
subprocess each, so not in the unit loop): the provider's light modules stay light. The example DAG
files themselves: ``test_dagbag.py``."""

from __future__ import annotations

import subprocess
import sys


def test_assets_and_the_live_session_trigger_import_neither_each_other_nor_the_models() -> None:
    """A DAG file may import ``assets`` and build the trigger: neither loads the models (the event
    comes from ``triggers.events`` when it is used), and the trigger never loads ``assets``."""
    probe = (
        "import sys; import airflow_provider_rtk.assets;"
        "from airflow_provider_rtk.triggers.live_session import RealtimeKitLiveSessionTrigger;"
        "RealtimeKitLiveSessionTrigger(meeting_ids='m-1');"
        "print('LOADED=' + ','.join(sorted(m for m in sys.modules if m.startswith("
        "('airflow_provider_rtk.models', 'airflow_provider_rtk.triggers.events')))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "LOADED=\n" in result.stdout, result.stdout
    trigger_probe = (
        "import sys; from airflow_provider_rtk.models import ActiveSession;"
        "from airflow_provider_rtk.triggers.live_session import RealtimeKitLiveSessionTrigger;"
        "RealtimeKitLiveSessionTrigger(meeting_ids='m-1')._event("
        "ActiveSession.model_validate({'id': 's-1', 'associated_id': 'm-1', 'status': 'LIVE'}));"
        "print('ASSETS=' + str('airflow_provider_rtk.assets' in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", trigger_probe], capture_output=True, text=True, check=True)
    assert "ASSETS=False" in result.stdout, result.stdout + result.stderr


def test_sensor_modules_import_and_instantiate_cheaply():
    code = (
        "import sys, airflow.sdk\n"
        "import airflow_provider_rtk.sensors.recording, airflow_provider_rtk.sensors.active_session\n"
        "import airflow_provider_rtk.links\n"
        "airflow_provider_rtk.sensors.recording.RealtimeKitRecordingSensor(task_id='r', recording_id='R',"
        " target_status='recording', deferrable=True)\n"
        "airflow_provider_rtk.sensors.active_session.RealtimeKitActiveSessionSensor(task_id='s',"
        " meeting_id='M')\n"
        "heavy = ('airflow_provider_rtk.hooks.', 'airflow_provider_rtk.models', "
        "'airflow_provider_rtk.triggers.')\n"
        "print('HEAVY=' + repr(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    (heavy,) = [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")]
    assert heavy == "HEAVY=[]"


def test_importing_the_exceptions_stays_light() -> None:
    """DAG files import this module (through the operators and sensors): it does not load redaction
    (several milliseconds per parse)."""
    probe = (
        "import sys, airflow_provider_rtk.exceptions, airflow_provider_rtk.sensors;"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_rtk.')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = result.stdout.strip().splitlines()[-1]
    assert "airflow_provider_rtk.exceptions" in loaded
    assert "redaction" not in loaded
