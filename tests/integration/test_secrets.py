"""Secrets stay secret: a DAG runs with known secret strings (API token, inline storage keys, storage
credentials from AWS and SFTP connections), and none of them appears in the task logs, the rendered
template fields, XCom, or the errors raised — while the service does receive every one of them."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import pytest
import structlog
from sqlalchemy import select

from tests.echo_encodings import AWKWARD_TAIL, ENCODINGS, decoded_views
from tests.integration.conftest import load_dag

if TYPE_CHECKING:
    from tests.hostile_server import Handler, Seen


@dataclass(frozen=True)
class Secrets:
    """Secret strings of one test. Fresh for every test: Airflow's secret masker is process-wide, so a
    value one test registered would be masked in the next test whatever the provider does."""

    token: str
    inline_access_key: str = field(default_factory=lambda: _fresh("INLINE-ACCESS"))
    inline_secret: str = field(default_factory=lambda: _fresh("INLINE-SECRET"))
    conn_access_key: str = field(default_factory=lambda: _fresh("CONN-ACCESS"))
    conn_secret: str = field(default_factory=lambda: _fresh("CONN-SECRET"))
    sftp_password: str = field(default_factory=lambda: _fresh("SFTP-PASS"))
    key_material: str = field(default_factory=lambda: _fresh("KEY"))

    @property
    def all(self) -> list[str]:
        return list(asdict(self).values())

    def leaks(self, text: str) -> list[str]:
        """The secrets ``text`` shows, as written or escaped (JSON once or twice, repr), or encoded as a
        server may echo them (HTML entities, URL encoding, JSON escapes, and combinations)."""
        views = decoded_views(text)
        return [
            secret
            for secret in self.all
            if any(form in text for form in _forms(secret)) or any(secret in view for view in views)
        ]


def _forms(secret: str) -> set[str]:
    escaped = json.dumps(secret)[1:-1]
    return {secret, escaped, json.dumps(escaped)[1:-1], repr(secret)[1:-1]}


def _fresh(name: str) -> str:
    return f"{name}-5ecret-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def secrets(emulator, monkeypatch) -> Secrets:
    """The connection, variables and storage connections, holding this test's secrets."""
    known = Secrets(token=emulator.api_token)
    _install(known, emulator, monkeypatch)
    return known


def _install(known: Secrets, emulator, monkeypatch) -> None:
    """Put ``known`` into the environment: the API connection, the variables, the storage connections."""
    conn = emulator.airflow_connection()
    monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps({**conn, "password": known.token}))
    # neutral names: Airflow masks variables whose names sound secret; these must be masked by us
    monkeypatch.setenv("AIRFLOW_VAR_RTK_TEST_VALUE_A", known.inline_access_key)
    monkeypatch.setenv("AIRFLOW_VAR_RTK_TEST_VALUE_B", known.inline_secret)
    s3 = {
        "conn_type": "aws",
        "login": known.conn_access_key,
        "password": known.conn_secret,
        "extra": {"region_name": "eu-west-1", "bucket": "conn-bucket", "realtimekit_storage": True},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RTK_TEST_S3", json.dumps(s3))
    sftp = {
        "conn_type": "sftp",
        "host": "sftp.example.test",
        "port": 2222,
        "login": "recorder",
        "password": known.sftp_password,
        "extra": {
            "private_key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{known.key_material}\n-----END",
            "realtimekit_storage": "true",  # as a connection URI gives it
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_RTK_TEST_SFTP", json.dumps(sftp))


def _stored(dag_run) -> dict[str, str]:
    """Rendered template fields and every XCom of the run, as the metadata DB holds them (every try's:
    Airflow 3.4 keeps each try's rows, keyed by the try's id; a second row of a task gets ``#n``)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_provider_rtk.version_compat import AIRFLOW_V_3_4_PLUS

    if AIRFLOW_V_3_4_PLUS:  # rendered fields belong to a try (task_instance_id), no longer to the run
        rendered = (
            select(TaskInstance.task_id, Rendered.rendered_fields)
            .join(TaskInstance, TaskInstance.id == Rendered.task_instance_id)
            .where(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
            .order_by(TaskInstance.try_number.desc())
        )
    else:
        rendered = select(Rendered.task_id, Rendered.rendered_fields).where(
            Rendered.dag_id == dag_run.dag_id, Rendered.run_id == dag_run.run_id
        )
    xcoms = select(XComModel.task_id, XComModel.key, XComModel.value).where(
        XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id
    )
    stored: dict[str, str] = {}

    def keep(name: str, value: object) -> None:
        key = name if name not in stored else f"{name}#{len(stored)}"
        stored[key] = json.dumps(value, default=str)

    with create_session() as session:
        for task_id, fields in session.execute(rendered.execution_options(include_all_attempts=True)):
            keep(f"rendered:{task_id}", fields)
        for task_id, key, value in session.execute(xcoms.execution_options(include_all_attempts=True)):
            keep(f"xcom:{task_id}:{key}", value)
    return stored


def _log_files(since: float) -> dict[str, str]:
    """Every log file Airflow wrote under its home since ``since`` (epoch seconds)."""
    from tests.conftest import AIRFLOW_HOME

    return {
        f"log file {path.relative_to(AIRFLOW_HOME)}": path.read_text(errors="replace")
        for path in AIRFLOW_HOME.rglob("*.log")
        if path.is_file() and path.stat().st_mtime >= since
    }


def _leaked_anywhere(secrets: Secrets, dag_run, output: str, since: float = 0.0) -> dict[str, list[str]]:
    """Which secrets appear in the task output, a log file, a rendered field or an XCom (empty when
    none), as written or escaped."""
    places = {"task output": output, **_log_files(since), **_stored(dag_run)}
    return {place: secrets.leaks(text) for place, text in places.items() if secrets.leaks(text)}


#: Where ``_run`` writes the run's task log (``dag.test()`` itself logs to the console only).
LOG_FILE_NAME = "rtk-run.log"


def _run(dag_id: str, meeting_id: str, capfd):
    """Run a DAG; returns it, and its console output and task log as one text. The task log (Airflow's
    structured log and the standard library's records) goes to a real file under ``AIRFLOW_HOME/logs``,
    which :func:`_log_files` reads back."""
    from airflow.sdk.log import configure_logging

    from tests.conftest import AIRFLOW_HOME

    log_dir = AIRFLOW_HOME / "logs"
    log_dir.mkdir(exist_ok=True)
    capfd.readouterr()
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    with open(log_dir / LOG_FILE_NAME, "w", encoding="utf-8") as log_file:
        configure_logging(output=log_file, cache_logger_on_first_use=False, colored_console_log=False)
        try:
            dag_run = load_dag(dag_id).test(run_conf={"meeting_id": meeting_id})
        finally:
            # put logging back as it was: nothing may keep writing to this file once it is closed
            structlog.configure(**saved_structlog)
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)
    captured = capfd.readouterr()
    task_log = (log_dir / LOG_FILE_NAME).read_text(encoding="utf-8", errors="replace")
    assert task_log.strip(), "the task log file is empty"
    return dag_run, captured.out + captured.err + task_log


@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_no_secret_reaches_logs_rendered_fields_or_xcom(emulator, live_meeting, secrets, capfd):
    dag_run, output = _run("rtk_test_secrets", live_meeting, capfd)

    assert str(dag_run.state) == "success", output[-3000:]
    # the service got every storage credential...
    (recording,) = emulator.recordings()
    sent = json.dumps(recording["request_body"])
    assert [secret for secret in secrets.all[1:] if secret not in sent] == []
    outputs = recording["request_body"]["layers"]["default"]["outputs"]
    assert outputs[1]["storage_config"] == {
        "type": "aws",
        "access_key": secrets.conn_access_key,
        "secret": secrets.conn_secret,
        "region": "eu-west-1",
        "bucket": "conn-bucket",
    }
    assert outputs[2]["storage_config"]["auth_method"] == "KEY"
    assert outputs[2]["storage_config"]["path"] == "recordings/"
    # ...and nothing else did
    stored = _stored(dag_run)
    assert {"rendered:start", "xcom:start:return_value"} <= set(stored)
    assert "Started" in output  # the task did log
    assert _leaked_anywhere(secrets, dag_run, output) == {}


@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_no_secret_reaches_openlineage_events(emulator, live_meeting, secrets, lineage_events, capfd):
    """Issue 21: the start task's lineage (and everything else the OpenLineage listener sends about the
    task: its facets, its arguments) holds no token, storage credential or link."""
    dag_run, output = _run("rtk_test_secrets", live_meeting, capfd)

    assert str(dag_run.state) == "success", output[-3000:]
    events = lineage_events()
    assert any(event["eventType"] == "COMPLETE" and event["outputs"] for event in events)
    assert secrets.leaks(json.dumps(events)) == []
    assert emulator.origin not in json.dumps(events)


@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_errors_carry_no_secret(emulator, secrets, capfd):
    """The service refuses (the meeting is not live): the failure, its log and its traceback are clean."""
    meeting_id = emulator.create_meeting("nobody here")["id"]

    dag_run, output = _run("rtk_test_secrets", meeting_id, capfd)

    assert str(dag_run.state) == "failed"
    assert "active session" in output
    assert _leaked_anywhere(secrets, dag_run, output) == {}


@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_mapped_operator_with_json_text_layers_shows_no_secret(emulator, live_meeting, secrets, capfd):
    dag_run, output = _run("rtk_test_secrets_mapped", live_meeting, capfd)

    assert str(dag_run.state) == "success", output[-3000:]
    (recording,) = emulator.recordings()
    storage = recording["request_body"]["layers"]["default"]["outputs"][0]["storage_config"]
    assert (storage["access_key"], storage["secret"]) == (secrets.inline_access_key, secrets.inline_secret)
    assert "***" in _stored(dag_run)["rendered:start"]
    assert _leaked_anywhere(secrets, dag_run, output) == {}


# --------------------------------------------------------------------------------------------------
# Issue 9: echoed errors, double-encoded layers, control characters


def _awkward(name: str) -> str:
    """A secret with what JSON and repr escape: a quote, a backslash, a newline, a control character."""
    return f'{_fresh(name)}"q\\b\nn\x01c'


@pytest.fixture
def echoing_proxy(emulator, secrets, monkeypatch):
    """A loopback proxy in front of the emulator whose start answers 400 quoting the whole request
    (body with every storage secret, headers with the token); everything else reaches the emulator."""
    from tests.hostile_server import HostileServer, echo, forward_to

    with HostileServer(
        fallback=forward_to(emulator.origin), account_id=emulator.account_id, app_id=emulator.app_id
    ) as proxy:
        proxy.route("POST", "/recordings/track", echo(400, envelope=True))
        conn = {**emulator.airflow_connection(), "password": secrets.token, "host": proxy.base_url}
        monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))
        yield proxy


@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_service_echoing_the_request_in_its_error_leaks_nothing(
    emulator, live_meeting, secrets, echoing_proxy, capfd
):
    since = time.time()
    dag_run, output = _run("rtk_test_secrets", live_meeting, capfd)

    assert str(dag_run.state) == "failed"
    (start,) = [seen for seen in echoing_proxy.seen if seen.path.endswith("/recordings/track")]
    sent = start.body.decode()
    assert [secret for secret in secrets.all[1:] if json.dumps(secret)[1:-1] not in sent] == []
    assert secrets.token in start.headers["Authorization"]  # the proxy had them all, and echoed them
    assert "HTTP 400" in output
    assert "***" in output
    assert emulator.recordings() == []
    assert _leaked_anywhere(secrets, dag_run, output, since) == {}


@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_secrets_with_control_characters_and_quotes_leak_nowhere(
    emulator, live_meeting, secrets, monkeypatch, capfd
):
    """Inline secrets holding a quote, a backslash, a newline and a control character: escaped forms
    (JSON in rendered fields and XCom, repr in tracebacks) must be masked as well as the plain one."""
    awkward = replace(
        secrets, inline_access_key=_awkward("INLINE-ACCESS"), inline_secret=_awkward("INLINE-SECRET")
    )
    monkeypatch.setenv("AIRFLOW_VAR_RTK_TEST_VALUE_A", awkward.inline_access_key)
    monkeypatch.setenv("AIRFLOW_VAR_RTK_TEST_VALUE_B", awkward.inline_secret)
    since = time.time()

    dag_run, output = _run("rtk_test_secrets", live_meeting, capfd)

    assert str(dag_run.state) == "success", output[-3000:]
    (recording,) = emulator.recordings()
    storage = recording["request_body"]["layers"]["default"]["outputs"][0]["storage_config"]
    assert (storage["access_key"], storage["secret"]) == (awkward.inline_access_key, awkward.inline_secret)
    assert _leaked_anywhere(awkward, dag_run, output, since) == {}


@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_double_encoded_layers_are_refused_and_shown_masked(
    emulator, live_meeting, secrets, monkeypatch, capfd
):
    layers = {
        "default": {
            "file_name_prefix": "twice",
            "outputs": [
                {
                    "type": "STORAGE_CONFIG",
                    "storage_config": {
                        "type": "aws",
                        "bucket": "b",
                        "access_key": secrets.inline_access_key,
                        "secret": secrets.inline_secret,
                    },
                }
            ],
        }
    }
    monkeypatch.setenv("AIRFLOW_VAR_RTK_TEST_LAYERS_TEXT", json.dumps(json.dumps(layers)))
    since = time.time()

    dag_run, output = _run("rtk_test_secrets_double_encoded", live_meeting, capfd)

    assert str(dag_run.state) == "failed"
    assert "encoded twice" in output
    assert emulator.recordings() == []  # nothing was sent
    rendered = _stored(dag_run)["rendered:start"]
    assert "***" in rendered  # the rendered view shows the (twice-decoded) layers, masked
    assert _leaked_anywhere(secrets, dag_run, output, since) == {}


# --------------------------------------------------------------------------------------------------
# Issue 18: a service echoing the body HTML-escaped, URL-encoded or JSON-escaped


def _echo_encoded(name: str):
    """The start answers 400 quoting the storage password of the body, then the whole body, each
    encoded as ``name`` says: in a JSON error envelope, or (JSON escapes) as plain text, where the
    escapes stay as the service wrote them."""
    encode = ENCODINGS[name]

    def behaviour(handler: Handler, seen: Seen) -> None:
        body = seen.body.decode()
        outputs = json.loads(body)["layers"]["default"]["outputs"]
        (password,) = [
            out["storage_config"]["password"] for out in outputs if "password" in out["storage_config"]
        ]
        message = f"storage_config.password {encode(password)} is refused; the request was {encode(body)}"
        if name.startswith("json"):
            handler.answer(400, f"Bad Request: {message}".encode(), "text/plain")
        else:
            payload = {"success": False, "error": {"code": 400, "message": message}}
            handler.answer(400, json.dumps(payload).encode())

    return behaviour


#: One of each kind at DAG level (a run costs seconds): HTML named, decimal and hex entities; percent-encoding
#: in lower case, with + for a space, of every byte; JSON ``\\/``, Go's ``\\u0026``, every character as
#: ``\\uXXXX``; two and three layers. tests/unit/test_redaction.py runs every encoding of ENCODINGS.
DAG_LEVEL_ENCODINGS = [
    "html-named-html5",
    "html-decimal",
    "html-hex-upper",
    "url-lower",
    "url-plus",
    "url-every-byte",
    "json-slash",
    "json-go",
    "json-every-char",
    "json-of-html",
    "html-of-json",
    "json-of-url-of-html",
]


@pytest.mark.parametrize("encoding", DAG_LEVEL_ENCODINGS)
@pytest.mark.realtimekit_emulator(api_token=_fresh("TOKEN"))
def test_service_echoing_the_password_encoded_leaks_nothing(
    emulator, live_meeting, secrets, monkeypatch, capfd, encoding
):
    """Every storage secret holds what HTML, URL and JSON encode; the service echoes them encoded."""
    from tests.hostile_server import HostileServer, forward_to

    awkward = replace(
        secrets,
        **{name: getattr(secrets, name) + AWKWARD_TAIL for name in asdict(secrets) if name != "token"},
    )
    _install(awkward, emulator, monkeypatch)
    with HostileServer(
        fallback=forward_to(emulator.origin), account_id=emulator.account_id, app_id=emulator.app_id
    ) as proxy:
        proxy.route("POST", "/recordings/track", _echo_encoded(encoding))
        conn = {**emulator.airflow_connection(), "password": awkward.token, "host": proxy.base_url}
        monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))
        since = time.time()

        dag_run, output = _run("rtk_test_secrets", live_meeting, capfd)

        (start,) = [seen for seen in proxy.seen if seen.path.endswith("/recordings/track")]
    assert str(dag_run.state) == "failed"
    assert (
        awkward.sftp_password
        in json.loads(start.body)["layers"]["default"]["outputs"][2]["storage_config"].values()
    )
    assert "HTTP 400" in output
    assert "storage_config.password *** is refused" in output
    assert emulator.recordings() == []
    assert _leaked_anywhere(awkward, dag_run, output, since) == {}
