"""Secrets stay secret: a DAG runs with known secret strings (API token, inline storage keys, storage
credentials from AWS and SFTP connections), and none of them appears in the task logs, the rendered
template fields, XCom, or the errors raised — while the service does receive every one of them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.integration.conftest import load_dag

TOKEN = "rtk-TOKEN-5ecret-a1b2c3"
INLINE_ACCESS_KEY = "INLINE-ACCESS-5ecret-0001"
INLINE_SECRET = "INLINE-SECRET-5ecret-0002"
CONN_ACCESS_KEY = "CONN-ACCESS-5ecret-0003"
CONN_SECRET = "CONN-SECRET-5ecret-0004"
SFTP_PASSWORD = "SFTP-PASS-5ecret-0005"
SFTP_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nKEY-5ecret-0006\n-----END OPENSSH PRIVATE KEY-----"
SECRETS = [
    TOKEN,
    INLINE_ACCESS_KEY,
    INLINE_SECRET,
    CONN_ACCESS_KEY,
    CONN_SECRET,
    SFTP_PASSWORD,
    "KEY-5ecret-0006",
]


@pytest.fixture
def secret_setup(emulator, monkeypatch):
    conn = emulator.airflow_connection()
    monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps({**conn, "password": TOKEN}))
    monkeypatch.setenv("AIRFLOW_VAR_RTK_INLINE_ACCESS_KEY", INLINE_ACCESS_KEY)
    monkeypatch.setenv("AIRFLOW_VAR_RTK_INLINE_SECRET", INLINE_SECRET)
    monkeypatch.setenv(
        "AIRFLOW_CONN_RTK_TEST_S3",
        json.dumps(
            {
                "conn_type": "aws",
                "login": CONN_ACCESS_KEY,
                "password": CONN_SECRET,
                "extra": {"region_name": "eu-west-1", "bucket": "conn-bucket"},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_RTK_TEST_SFTP",
        json.dumps(
            {
                "conn_type": "sftp",
                "host": "sftp.example.test",
                "port": 2222,
                "login": "recorder",
                "password": SFTP_PASSWORD,
                "extra": {"private_key": SFTP_KEY},
            }
        ),
    )


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def _stored(dag_run) -> dict[str, str]:
    """Rendered template fields and every XCom of the run, as the metadata DB holds them."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rendered = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
                RenderedTaskInstanceFields.run_id == dag_run.run_id,
            )
        ).all()
        xcoms = session.scalars(
            select(XComModel).where(XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id)
        ).all()
        stored = {f"rendered:{row.task_id}": json.dumps(row.rendered_fields, default=str) for row in rendered}
        stored.update({f"xcom:{row.task_id}:{row.key}": json.dumps(row.value, default=str) for row in xcoms})
    return stored


@pytest.mark.realtimekit_emulator(api_token=TOKEN)
def test_no_secret_reaches_logs_rendered_fields_or_xcom(emulator, live_meeting, secret_setup, capfd):
    capfd.readouterr()
    dag_run = load_dag("rtk_test_secrets").test(run_conf={"meeting_id": live_meeting})
    captured = capfd.readouterr()
    output = captured.out + captured.err

    assert str(dag_run.state) == "success", output[-3000:]
    # the service got every credential...
    (recording,) = emulator.recordings()
    sent = json.dumps(recording["request_body"])
    assert [secret for secret in SECRETS[1:] if secret not in sent] == []
    outputs = recording["request_body"]["layers"]["default"]["outputs"]
    assert outputs[1]["storage_config"] == {
        "type": "aws",
        "access_key": CONN_ACCESS_KEY,
        "secret": CONN_SECRET,
        "region": "eu-west-1",
        "bucket": "conn-bucket",
    }
    assert outputs[2]["storage_config"]["auth_method"] == "KEY"
    assert outputs[2]["storage_config"]["path"] == "recordings/"
    # ...and nothing else did
    stored = _stored(dag_run)
    assert "rendered:start" in stored
    assert "xcom:start:return_value" in stored
    assert {name: _leaks(text) for name, text in stored.items() if _leaks(text)} == {}
    assert "Started" in output  # the task did log
    assert _leaks(output) == []


@pytest.mark.realtimekit_emulator(api_token=TOKEN)
def test_errors_carry_no_secret(emulator, secret_setup, capfd):
    """The service refuses (the meeting is not live): the failure, its log and its traceback are clean."""
    meeting_id = emulator.create_meeting("nobody here")["id"]
    capfd.readouterr()
    dag_run = load_dag("rtk_test_secrets").test(run_conf={"meeting_id": meeting_id})
    captured = capfd.readouterr()
    output = captured.out + captured.err

    assert str(dag_run.state) == "failed"
    assert "active session" in output
    assert _leaks(output) == []
    assert {name: _leaks(text) for name, text in _stored(dag_run).items() if _leaks(text)} == {}
