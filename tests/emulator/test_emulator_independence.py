"""The emulator stands alone: no Airflow, no provider module outside ``airflow_provider_rtk.emulator``,
and it starts light: until its first answer it loads nothing but the standard library and itself
(its own process, as a user starts it). What start-up costs is measured in ``benchmarks/``, not here:
a timed assertion fails on a busy machine."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.request

#: The emulator needs only the standard library; these would mean it leans on the provider's stack.
FOREIGN_LIBRARIES = ("airflow", "pydantic", "httpx", "pendulum", "sqlalchemy")


def foreign(modules: list[str]) -> list[str]:
    """Modules the emulator must not load: Airflow and friends, and the provider outside the emulator."""
    bad = []
    for name in modules:
        top = name.split(".")[0]
        if top in FOREIGN_LIBRARIES:
            bad.append(name)
        elif top == "airflow_provider_rtk" and name != "airflow_provider_rtk":
            inside = name == "airflow_provider_rtk.emulator" or name.startswith(
                "airflow_provider_rtk.emulator."
            )
            if not inside:
                bad.append(name)
    return bad


def imported_modules(importtime_stderr: str) -> list[str]:
    """Module names from ``python -X importtime`` output (``import time: self | cumulative | name``)."""
    names = []
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.append(name)
    return names


def test_foreign_spots_what_it_must():
    assert foreign(["airflow.models", "airflow_provider_rtk.models", "pydantic"]) == [
        "airflow.models",
        "airflow_provider_rtk.models",
        "pydantic",
    ]
    assert foreign(["airflow_provider_rtk", "airflow_provider_rtk.emulator.state", "json"]) == []


def test_cli_help_loads_no_airflow_and_no_provider_module():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "airflow_provider_rtk.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = imported_modules(result.stderr)
    assert "--second-start" in result.stdout
    assert "airflow_provider_rtk.emulator" in modules
    assert foreign(modules) == []


SERVE_AND_REPORT = """
import json, sys, urllib.request
from airflow_provider_rtk.emulator import RealtimeKitEmulator
emulator = RealtimeKitEmulator(invoke_delay=0, upload_delay=0).start()
emulator.start_session("m1")
storage = {"type": "sftp", "host": "h", "username": "u"}
outputs = [{"type": "STORAGE_CONFIG", "storage_config": storage}]
request = urllib.request.Request(
    emulator.app_url + "/recordings/track",
    data=json.dumps({"meeting_id": "m1", "layers": {"default": {"outputs": outputs}}}).encode(),
    headers={"Authorization": "Bearer " + emulator.api_token, "Content-Type": "application/json"},
)
with urllib.request.urlopen(request) as answer:
    status = answer.status
emulator.stop()
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def test_importing_and_serving_loads_no_airflow_and_no_provider_module():
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(result.stdout)
    assert report["status"] == 200
    assert "airflow_provider_rtk.emulator.validation" in report["modules"]
    assert foreign(report["modules"]) == []


def third_party(modules: list[str]) -> list[str]:
    """Modules neither of the standard library nor of the emulator (nor its package's ``__init__``).
    A name no installed package provides is a failed probe (``copy`` tries Jython's ``org``), not a load."""
    return [
        name
        for name in modules
        if name.split(".")[0] not in sys.stdlib_module_names
        and importlib.util.find_spec(name.split(".")[0]) is not None
        and name != "airflow_provider_rtk"
        and not name.startswith("airflow_provider_rtk.emulator")
    ]


def test_third_party_spots_what_it_must():
    assert third_party(["json", "cryptography.hazmat", "airflow_provider_rtk.emulator.state"]) == [
        "cryptography.hazmat"
    ]


def test_cli_serves_its_first_answer_on_the_standard_library_alone():
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "airflow_provider_rtk.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "serving http://" in first, first
        base_url = first.split("serving ", 1)[1].split()[0]
        request = urllib.request.Request(
            f"{base_url}/accounts/a/realtime/kit/b/recordings",
            headers={"Authorization": "Bearer emulator-token"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    modules = imported_modules(stderr)
    assert "airflow_provider_rtk.emulator.server" in modules
    assert third_party([name for name in modules if name not in interpreter_start_up()]) == []


def interpreter_start_up() -> set[str]:
    """What this interpreter loads before any code runs (site's .pth hooks: the editable install's
    finder and the like), which no program can avoid."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True, check=True
    )
    return set(imported_modules(result.stderr))
