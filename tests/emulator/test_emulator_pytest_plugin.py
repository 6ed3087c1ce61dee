"""The pytest plugin, as a user runs it: ``pytest -p airflow_provider_rtk.emulator.pytest_plugin``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

USER_TESTS = textwrap.dedent(
    """
    import json
    import os

    import httpx
    import pytest


    def test_fixture_gives_a_running_emulator(realtimekit_emulator):
        meeting_id = realtimekit_emulator.create_meeting("user test")["id"]
        realtimekit_emulator.start_session(meeting_id)
        headers = {"Authorization": f"Bearer {realtimekit_emulator.api_token}"}
        url = f"{realtimekit_emulator.app_url}/recordings/track"
        answer = httpx.post(url, json={"meeting_id": meeting_id}, headers=headers).json()
        assert answer["data"]["recording"]["status"] == "INVOKED"
        assert realtimekit_emulator.recordings()[0]["request_body"] == {"meeting_id": meeting_id}


    @pytest.mark.realtimekit_emulator(legacy_track=True, api_token="custom", second_start="accept")
    def test_marker_sets_options(realtimekit_emulator):
        assert realtimekit_emulator.api_token == "custom"
        assert realtimekit_emulator.settings.legacy_track is True
        assert realtimekit_emulator.settings.second_start == "accept"


    @pytest.mark.realtimekit_emulator(
        webhooks=[{"name": "sink", "url": "{sink}", "events": ["meeting.started"]}]
    )
    def test_marker_points_webhooks_at_the_sink(realtimekit_emulator, realtimekit_webhook_sink):
        realtimekit_emulator.start_session("m1")
        (received,) = realtimekit_webhook_sink.wait(1)
        assert json.loads(received.body)["event"] == "meeting.started"
        assert received.headers["rtk-webhook-id"] == realtimekit_emulator.webhooks()[0]["id"]


    def test_connection_fixture_sets_the_airflow_connection(realtimekit_connection):
        connection = json.loads(os.environ["AIRFLOW_CONN_REALTIMEKIT_DEFAULT"])
        assert connection["host"] == realtimekit_connection.base_url
        assert connection["password"] == realtimekit_connection.api_token
    """
)


def test_plugin_fixtures_in_a_user_project(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "airflow_provider_rtk.emulator.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "--strict-markers",
            "-q",
            str(tmp_path / "test_user.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
