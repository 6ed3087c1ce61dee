"""The demo (``make demo``): its report helpers, and the real thing end to end in a scratch folder.

The demo is ``rtk_demo.py`` beside ``dags/`` at the repository's top level, not part of the package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from rtk_demo import last_error, short_file_name, short_id
from tests.conftest import EXAMPLE_DAGS, ROOT

DEMO = [sys.executable, str(ROOT / "rtk_demo.py")]


def test_short_id_keeps_eight_characters():
    assert short_id("5f0c1a2b-1111-2222-3333-444455556666") == "5f0c1a2b…"
    assert short_id("short") == "short"


def test_short_file_name_drops_the_peer_id_and_time_stamp():
    name = "standup_20261126_user-1_0f6b1c1e-8d3a-4c39-9a4e-2b7f8e9d0a1b_audio_audio_1795683600123.webm"
    assert short_file_name(name) == "standup_20261126_user-1_….webm"
    assert short_file_name("plain.mp4") == "plain.mp4"


def test_last_error_is_the_exception_of_the_last_traceback():
    log = "\n".join(
        [
            "2026-11-26T09:00:00Z [info     ] starting",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>',
            "ValueError: an earlier one",
            "2026-11-26T09:00:01Z [error    ] Task failed with exception [task]",
            "Traceback (most recent call last):",
            '  File "operator.py", line 2, in execute',
            "    raise RealtimeKitNotFoundError(...)",
            "airflow_provider_rtk.exceptions.RealtimeKitNotFoundError: HTTP 404: No meeting found",
            "2026-11-26T09:00:02Z [info     ] ::endgroup::",
        ]
    )
    assert (
        last_error(log)
        == "airflow_provider_rtk.exceptions.RealtimeKitNotFoundError: HTTP 404: No meeting found"
    )
    assert (
        last_error("a\n\x1b[31m2026 [error    ] XCom not found\x1b[0m\nb")
        == "2026 [error    ] XCom not found"
    )
    assert last_error("all fine") is None


def test_importing_the_demo_imports_no_airflow():
    """The demo sets Airflow's environment first: nothing may load Airflow (and its config) before."""
    probe = "import sys, rtk_demo;print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_demo_is_not_part_of_the_package():
    """It runs the repository's dags/, which an installed wheel does not have."""
    assert importlib.util.find_spec("airflow_provider_rtk.demo") is None
    assert not any(p.stem == "demo" for p in (ROOT / "airflow_provider_rtk").rglob("*.py"))


def test_without_a_dags_folder_here_it_uses_the_dags_beside_it(tmp_path):
    result = subprocess.run([*DEMO, "--help"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "usage: python rtk_demo.py" in result.stdout
    probe = "import rtk_demo; print(rtk_demo._default_dags_folder())"
    env_path = {"PYTHONPATH": str(ROOT)}
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env_path},
    )
    assert found.stdout.strip() == str(EXAMPLE_DAGS)


def test_a_missing_dags_folder_fails_at_once(tmp_path):
    result = subprocess.run(
        [*DEMO, "--dags-folder", str(tmp_path / "nowhere")], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "No DAGs folder" in result.stdout


@pytest.mark.dag
def test_the_demo_runs_every_example_dag_to_uploaded_recordings(tmp_path):
    result = subprocess.run(
        [*DEMO, "--dags-folder", str(EXAMPLE_DAGS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for dag_id in (
        "rtk_scheduled_recording",
        "rtk_manual_recording",
        "rtk_sensor_driven_recording",
        "rtk_fan_out_recordings",
    ):
        assert f"\n{dag_id}: success" in out, out
    recording_lines = [line for line in out.splitlines() if line.startswith("  recording ")]
    assert len(recording_lines) == 6, out
    assert all("  UPLOADED  files: " in line and ".webm" in line for line in recording_lines), out
    assert "went live" in out
    assert "OK: all 4 DAG runs succeeded and all 6 recordings were UPLOADED" in out
    # Airflow's own logging stays in the log files
    assert "[info" not in out
    assert "[info" not in result.stderr, result.stderr
    demo = tmp_path / ".demo"
    report = json.loads((demo / "report.json").read_text())
    assert [run["state"] for run in report["runs"]] == ["success"] * 4
    prefixes = {
        run["dag_id"]: {name.split("_user-")[0] for r in run["recordings"] for name in r["files"]}
        for run in report["runs"]
    }
    assert prefixes["rtk_manual_recording"] == {"board-review"}
    assert prefixes["rtk_sensor_driven_recording"] == {"all-hands"}
    assert (demo / "airflow-home" / "airflow.db").is_file()
    assert (demo / "logs" / "rtk_fan_out_recordings.log").stat().st_size > 0


@pytest.mark.dag
def test_a_hanging_run_ends_the_demo_with_its_log(tmp_path):
    result = subprocess.run(
        [*DEMO, "--dags-folder", str(EXAMPLE_DAGS), "--run-timeout", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rtk_scheduled_recording run did not finish within 1 s" in result.stdout
    assert ".demo/logs/rtk_scheduled_recording.log" in result.stdout
    assert (tmp_path / ".demo" / "logs" / "rtk_scheduled_recording.log").is_file()
