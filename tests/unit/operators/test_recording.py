"""The start and action operators on their own: templating, secrets kept out of rendered fields,
validation before any request, and what they push to XCom. HTTP is mocked with respx only."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.models import TrackLayer
from airflow_provider_rtk.operators.recording import (
    RealtimeKitRecordingActionOperator,
    RealtimeKitStartTrackRecordingOperator,
    mask_layer_secrets,
)
from airflow_provider_rtk.version_compat import AIRFLOW_V_3_3_PLUS
from tests.api_answers import APP_URL, set_conn

MEETING = "5f0c6f3e-1f7d-4d7e-9a51-0b5a2f9a4c11"
RECORDING = {
    "id": "rec-1",
    "status": "INVOKED",
    "invoked_time": "2026-11-26T10:00:00Z",
    "meeting_id": MEETING,
}
SFTP_LAYERS = {
    "default": {
        "file_name_prefix": "standup",
        "outputs": [
            {
                "type": "STORAGE_CONFIG",
                "storage_config": {
                    "type": "sftp",
                    "host": "sftp.test",
                    "username": "rec",
                    "auth_method": "PASSWORD",
                    "password": "pw-5ecret-777",
                },
            }
        ],
    }
}


@pytest.fixture(autouse=True)
def connection(monkeypatch):
    set_conn(
        monkeypatch,
        password="TOKEN-op-123456",
        extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 1},
    )


class FakeTaskInstance:
    """What the operator uses of a task instance: XCom push/pull and its identity."""

    task_id = "start"
    map_index = -1
    try_number = 1
    stats_tags: dict[str, str] = {}

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int) -> Any:
        return self.xcom.get(key)


def operator(**kwargs: Any) -> RealtimeKitStartTrackRecordingOperator:
    return RealtimeKitStartTrackRecordingOperator(task_id="start", meeting_id=MEETING, **kwargs)


def test_templated_fields_and_json_rendering() -> None:
    op = operator()
    assert set(op.template_fields) == {"meeting_id", "layers", "max_seconds", "user_ids", "if_active"}
    assert op.template_fields_renderers["layers"] == "json"


def test_unknown_if_active_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(RealtimeKitPayloadError, match="if_active: must be one of"):
        operator(if_active="sometimes")
    assert operator(if_active="{{ params.policy }}").if_active == "{{ params.policy }}"


@pytest.mark.parametrize(
    "layers",
    [SFTP_LAYERS, json.dumps(SFTP_LAYERS), {"default": TrackLayer.model_validate(SFTP_LAYERS["default"])}],
    ids=["dict", "json-text", "model"],
)
def test_secrets_are_masked_in_every_form_of_layers(layers: Any) -> None:
    masked, found = mask_layer_secrets(layers)
    assert found == ["pw-5ecret-777"]
    assert "pw-5ecret-777" not in json.dumps(masked)
    assert "***" in json.dumps(masked)


def test_rendered_layers_show_no_secret_but_the_request_keeps_it() -> None:
    op = operator(layers=SFTP_LAYERS, max_seconds=60)
    op.render_template_fields(context={})  # type: ignore[arg-type]
    assert "pw-5ecret-777" not in json.dumps(op.layers)
    assert "pw-5ecret-777" not in repr(op.build_request())
    body = op.build_request().to_api_body()
    assert body["layers"]["default"]["outputs"][0]["storage_config"]["password"] == "pw-5ecret-777"


@respx.mock(assert_all_mocked=True)
@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        ({"meeting_id": ""}, "meeting_id"),
        ({"layers": '{"default": {'}, "layers"),
        ({"max_seconds": "soon"}, "max_seconds"),
        (
            {"layers": {"default": {"outputs": [{"type": "STORAGE_CONFIG"}]}}},
            "layers.default.outputs[0].storage_config",
        ),
        (
            {"layers": {"default": {"outputs": [{"storage_conn_id": "no_such_conn"}]}}},
            "layers.default.outputs[0].storage_conn_id",
        ),
    ],
)
def test_bad_input_fails_before_any_request(arguments: dict[str, Any], path: str) -> None:
    """respx refuses any request, so reaching the network would raise a different error."""
    op = RealtimeKitStartTrackRecordingOperator(task_id="start", **{"meeting_id": MEETING, **arguments})
    with pytest.raises(RealtimeKitPayloadError) as error:
        op.execute({"ti": FakeTaskInstance()})  # type: ignore[arg-type]
    assert path in error.value.paths


@respx.mock
def test_execute_starts_once_and_pushes_the_recording() -> None:
    respx.get(f"{APP_URL}/recordings/active-recording/{MEETING}").mock(
        return_value=httpx.Response(404, json={"success": False, "error": {"code": 404, "message": "none"}})
    )
    start = respx.post(f"{APP_URL}/recordings/track").mock(
        return_value=httpx.Response(200, json={"success": True, "data": {"recording": RECORDING}})
    )
    ti = FakeTaskInstance()

    result = operator(
        layers={"default": {"file_name_prefix": "standup_20261126"}}, user_ids='["u1"]'
    ).execute(
        {"ti": ti}  # type: ignore[arg-type]
    )

    assert start.call_count == 1
    assert json.loads(start.calls[0].request.content) == {
        "meeting_id": MEETING,
        "layers": {"default": {"file_name_prefix": "standup_20261126"}},
        "user_ids": ["u1"],
    }
    assert result["id"] == "rec-1"
    assert ti.xcom["recording_id"] == "rec-1"
    # a base URL that is not Cloudflare's, and no recording_link extra: no link, so no recording_url XCom
    # (Airflow 3.0's execution API refuses a null XCom value); what the task knows is not an XCom either
    assert set(ti.xcom) == {"recording_id"}


@respx.mock
def test_action_operator_stops_and_rejects_unknown_actions() -> None:
    stop = respx.put(f"{APP_URL}/recordings/rec-1").mock(
        return_value=httpx.Response(200, json={"success": True, "data": {**RECORDING, "status": "UPLOADING"}})
    )
    ti = FakeTaskInstance()
    op = RealtimeKitRecordingActionOperator(task_id="stop", recording_id="rec-1", action="STOP")
    assert op.execute({"ti": ti})["status"] == "UPLOADING"  # type: ignore[arg-type]
    assert json.loads(stop.calls[0].request.content) == {"action": "stop"}
    bad = RealtimeKitRecordingActionOperator(task_id="x", recording_id="rec-1", action="rewind")
    with pytest.raises(RealtimeKitPayloadError, match="action: must be one of"):
        bad.execute({"ti": ti})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        """{"default": {"outputs": [{"storage_config": {"password": "pw-5ecret-777",}}]}}""",  # bad JSON
        """{'default': {'outputs': [{'storage_config': {'password': 'pw-5ecret-777'}}]}}""",  # a dict's str
    ],
    ids=["trailing-comma", "single-quotes"],
)
def test_secrets_are_masked_in_layers_text_that_is_not_json(text: str) -> None:
    masked, found = mask_layer_secrets(text)
    assert found == ["pw-5ecret-777"]
    assert "pw-5ecret-777" not in masked
    assert "***" in masked


def test_durable_is_accepted_on_every_airflow_version_also_when_mapped() -> None:
    """DAGs written for Airflow 3.3's task state store (``durable=False``) load on older versions too."""
    import pendulum
    from airflow.sdk import DAG

    with DAG("durable_check", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        assert operator(durable=False).durable is False
        mapped = RealtimeKitStartTrackRecordingOperator.partial(task_id="many", durable=False)
        mapped.expand(meeting_id=["m1", "m2"])


@respx.mock
def test_a_stored_id_the_service_does_not_know_is_unknown_not_errored() -> None:
    """On a reconnect the mixin asks for the stored recording's status: a 404 means "unknown" (the
    retry starts afresh), never ERRORED (which would read as a recording that failed)."""
    respx.get(f"{APP_URL}/recordings/rec-gone").mock(
        return_value=httpx.Response(
            404, json={"success": False, "error": {"code": 404, "message": "no such"}}
        )
    )
    op = operator()
    status = op.get_job_status("rec-gone", {})  # type: ignore[arg-type]
    assert status == "UNKNOWN"
    assert not op.is_job_active(status)
    assert not op.is_job_succeeded(status)
    op.wait_for_completion = False
    assert not op.is_job_succeeded(status)  # not even when the task does not wait


#: What a DAG file that uses the operators must not load when it is parsed: the task's run-time code.
#: (``airflow.providers.common.compat.sdk`` too, from Airflow 3.3, where the SDK has all the operator
#: needs at parse time; Airflow's own ``@task`` may still import it.)
RUN_TIME_ONLY = (
    "airflow_provider_rtk.ownership",
    "airflow_provider_rtk.starting",
    "airflow_provider_rtk.exceptions",
    "airflow_provider_rtk.redaction",
    "airflow_provider_rtk.models",
    "airflow_provider_rtk.storage",
    "airflow_provider_rtk.assets",
    "airflow_provider_rtk.connection",
    "airflow_provider_rtk.hooks",
    "airflow_provider_rtk.triggers",
)


def test_parsing_a_dag_with_the_operators_loads_none_of_their_run_time_code() -> None:
    """DAG files are parsed every few seconds: importing the operators and building them (plain, with
    an ``IfActive`` policy or a templated one, mapped, the action operator) loads only the argument
    rules, the link and the base classes. Counts modules, not milliseconds (benchmark 1 times it)."""
    import subprocess
    import sys

    probe = (
        "import sys, airflow.sdk\n"
        "before = set(sys.modules)\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_rtk.operators.recording import (\n"
        "    RealtimeKitRecordingActionOperator as Action, RealtimeKitStartTrackRecordingOperator as Start)\n"
        "with DAG('parse_cost', schedule=None):\n"
        "    Start(task_id='plain', meeting_id='m', if_active='fail', timeout=30, poll_interval='5')\n"
        "    Start(task_id='templated', meeting_id='{{ params.m }}', if_active='{{ params.policy }}')\n"
        "    Start.partial(task_id='mapped', wait_for_completion=True).expand(meeting_id=['a', 'b'])\n"
        "    Action(task_id='stop', recording_id='r', action='stop')\n"
        "print('NEW=' + ','.join(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("NEW=")]
    loaded = set(line.removeprefix("NEW=").split(","))
    assert "airflow_provider_rtk.operators.recording" in loaded
    assert not {m for m in loaded if m.startswith(RUN_TIME_ONLY)}
    if AIRFLOW_V_3_3_PLUS:
        assert "airflow.providers.common.compat.sdk" not in loaded


def test_if_active_keeps_its_old_import_path_and_enum_values_are_accepted() -> None:
    from airflow_provider_rtk.operators import recording
    from airflow_provider_rtk.ownership import IfActive

    assert recording.IfActive is IfActive
    assert "IfActive" in recording.__all__
    assert operator(if_active=IfActive.STOP_AND_START).if_active == "stop_and_start"
    assert operator(if_active=" Fail ")._policy() is IfActive.FAIL
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        recording.Nothing  # noqa: B018
