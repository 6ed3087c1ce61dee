"""API text a client cut mid-emoji (a lone surrogate: a valid JSON escape such as ``"\\ud83d"`` but no
character) in a real DAG run: the task's XCom must still be stored (Airflow encodes it as UTF-8)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import recordings_of, xcom


def _cut_mid_emoji(payload: bytes) -> bytes:
    """An answer whose recordings have a file name and a storage path cut mid-emoji."""
    try:
        answer: Any = json.loads(payload)
    except ValueError:
        return payload

    def cut(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                cut(item)
        elif isinstance(value, dict):
            if "output_file_name" in value:
                value["output_file_name"] = "cut \U0001f600\ud83d.mp4"
                value["storage_config"] = {"type": "aws", "path": "in\ud83d"}
            for item in value.values():
                cut(item)

    cut(answer)
    return json.dumps(answer).encode()  # ASCII: the lone surrogate travels as "\ud83d"


@pytest.fixture
def cutting_proxy(emulator, monkeypatch):
    """A loopback proxy in front of the emulator that cuts the text of every recording it answers."""
    from tests.hostile_server import HostileServer, forward_to

    with HostileServer(
        fallback=forward_to(emulator.origin, rewrite=_cut_mid_emoji),
        account_id=emulator.account_id,
        app_id=emulator.app_id,
    ) as proxy:
        conn = {**emulator.airflow_connection(), "host": proxy.base_url}
        monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))
        yield proxy


def test_a_started_recording_whose_text_was_cut_is_pushed_to_xcom(emulator, live_meeting, cutting_proxy, run):
    """Before, the start task failed pushing its XCom (``UnicodeEncodeError`` in Airflow's supervisor)
    after the recording had started, on every try; now the text reads as U+FFFD and the task succeeds."""
    result = run("rtk_test_start", live_meeting)

    assert result.state == "success", result.output[-3000:]
    assert result.task().try_number == 1
    pushed = xcom(result.dag_run, "start")
    assert pushed["output_file_name"] == "cut \U0001f600\ufffd.mp4"
    assert pushed["storage_config"] == {"type": "aws", "path": "in\ufffd"}
    assert len(recordings_of(emulator, live_meeting)) == 1
