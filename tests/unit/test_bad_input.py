"""Malformed operator input: every case is rejected before any request, naming the exact field path."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import respx
from airflow.providers.common.compat.sdk import AirflowNotFoundException

from airflow_provider_rtk.exceptions import RealtimeKitConnectionConfigError, RealtimeKitPayloadError
from airflow_provider_rtk.hooks._api import HttpRetryPolicy
from airflow_provider_rtk.hooks.realtimekit import ConnectionSettings, RealtimeKitHook
from airflow_provider_rtk.models import build_track_request, parse_track_request
from tests.api_answers import MEETING, TOKEN

OUT0 = "layers.default.outputs[0]"
SC = f"{OUT0}.storage_config"
LEGACY = {"default": {}}  # layers that make a max_seconds body otherwise valid


def storage(**config: Any) -> dict[str, Any]:
    """Legacy layers with one STORAGE_CONFIG output holding ``config``."""
    return {"default": {"outputs": [{"type": "STORAGE_CONFIG", "storage_config": config}]}}


def sftp(**changes: Any) -> dict[str, Any]:
    config = {
        "type": "sftp",
        "host": "sftp.example.com",
        "username": "rec",
        "auth_method": "KEY",
        "private_key": "PRIVATE-KEY-VALUE",
    }
    config.update(changes)
    return storage(**{key: value for key, value in config.items() if value is not None})


# (case id, keyword arguments of build_track_request besides a valid meeting_id, expected path)
CASES: list[tuple[str, dict[str, Any], str]] = [
    # max_seconds, as it may arrive after templating
    ("max_seconds-text", {"max_seconds": "abc", "layers": LEGACY}, "max_seconds"),
    ("max_seconds-bool", {"max_seconds": True, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-false", {"max_seconds": False, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-fraction", {"max_seconds": 1.5, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-fraction-text", {"max_seconds": "1.5", "layers": LEGACY}, "max_seconds"),
    ("max_seconds-negative", {"max_seconds": -1, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-zero", {"max_seconds": 0, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-zero-text", {"max_seconds": "0", "layers": LEGACY}, "max_seconds"),
    ("max_seconds-over-a-day", {"max_seconds": 86_401, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-huge", {"max_seconds": 10**9, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-list", {"max_seconds": [60], "layers": LEGACY}, "max_seconds"),
    ("max_seconds-dict", {"max_seconds": {"seconds": 60}, "layers": LEGACY}, "max_seconds"),
    ("max_seconds-without-layers", {"max_seconds": 60}, "layers"),
    # layers
    ("layers-bad-json", {"layers": '{"default": {'}, "layers"),
    ("layers-not-json", {"layers": "default"}, "layers"),
    ("layers-python-repr", {"layers": "{'default': {}}"}, "layers"),
    ("layers-a-list", {"layers": [{"file_name_prefix": "x"}]}, "layers"),
    ("layers-json-list", {"layers": '[{"file_name_prefix": "x"}]'}, "layers"),
    ("layers-int", {"layers": 42}, "layers"),
    ("layer-not-a-dict", {"layers": {"default": "standup"}}, "layers.default"),
    ("layer-name-slash", {"layers": {"a/b": {}}}, "layers.a/b.[key]"),
    ("layer-name-too-long", {"layers": {"x" * 65: {}}}, f"layers.{'x' * 65}.[key]"),
    ("layer-unknown-field", {"layers": {"default": {"prefix": "x"}}}, "layers.default.prefix"),
    ("prefix-slash", {"layers": {"default": {"file_name_prefix": "a/b"}}}, "layers.default.file_name_prefix"),
    ("prefix-empty", {"layers": {"default": {"file_name_prefix": ""}}}, "layers.default.file_name_prefix"),
    ("prefix-dot", {"layers": {"default": {"file_name_prefix": "x.y"}}}, "layers.default.file_name_prefix"),
    ("prefix-int", {"layers": {"default": {"file_name_prefix": 5}}}, "layers.default.file_name_prefix"),
    (
        "prefix-too-long",
        {"layers": {"default": {"file_name_prefix": "p" * 257}}},
        "layers.default.file_name_prefix",
    ),
    ("media-kind-video", {"layers": {"default": {"media_kind": "video"}}}, "layers.default.media_kind"),
    ("media-kind-upper", {"layers": {"default": {"media_kind": "AUDIO"}}}, "layers.default.media_kind"),
    (
        "second-layer-bad",
        {"layers": {"default": {}, "b": {"file_name_prefix": "a/b"}}},
        "layers.b.file_name_prefix",
    ),
    # outputs
    ("outputs-empty", {"layers": {"default": {"outputs": []}}}, "layers.default.outputs"),
    (
        "outputs-not-a-list",
        {"layers": {"default": {"outputs": {"type": "REALTIMEKIT_BUCKET"}}}},
        "layers.default.outputs",
    ),
    ("output-not-a-dict", {"layers": {"default": {"outputs": ["REALTIMEKIT_BUCKET"]}}}, OUT0),
    ("output-type-unknown", {"layers": {"default": {"outputs": [{"type": "S3"}]}}}, f"{OUT0}.type"),
    ("output-type-lower", {"layers": {"default": {"outputs": [{"type": "storage_config"}]}}}, f"{OUT0}.type"),
    ("output-unknown-field", {"layers": {"default": {"outputs": [{"bucket": "b"}]}}}, f"{OUT0}.bucket"),
    (
        "storage-config-missing",
        {"layers": {"default": {"outputs": [{"type": "STORAGE_CONFIG"}]}}},
        f"{OUT0}.storage_config",
    ),
    (
        "storage-config-with-bucket-output",
        {
            "layers": {
                "default": {"outputs": [{"type": "REALTIMEKIT_BUCKET", "storage_config": {"type": "aws"}}]}
            }
        },
        f"{OUT0}.storage_config",
    ),
    (
        "storage-config-with-default-output",
        {"layers": {"default": {"outputs": [{"storage_config": {"type": "gcs", "bucket": "b"}}]}}},
        f"{OUT0}.storage_config",
    ),
    (
        "second-output-bad",
        {"layers": {"default": {"outputs": [{}, {"type": "STORAGE_CONFIG"}]}}},
        "layers.default.outputs[1].storage_config",
    ),
    (
        "storage-config-not-a-dict",
        {"layers": {"default": {"outputs": [{"type": "STORAGE_CONFIG", "storage_config": "aws"}]}}},
        SC,
    ),
    # storage_config
    ("storage-type-unknown", {"layers": storage(type="ftp", host="h")}, f"{SC}.type"),
    ("storage-type-upper", {"layers": storage(type="AWS", bucket="b")}, f"{SC}.type"),
    ("storage-type-missing", {"layers": storage(bucket="b")}, f"{SC}.type"),
    (
        "storage-unknown-field",
        {"layers": storage(type="aws", bucket="b", secret_key="x")},
        f"{SC}.secret_key",
    ),
    ("storage-bucket-empty", {"layers": storage(type="aws", bucket="")}, f"{SC}.bucket"),
    ("storage-region-int", {"layers": storage(type="aws", region=1)}, f"{SC}.region"),
    ("storage-secret-int", {"layers": storage(type="aws", secret=12345)}, f"{SC}.secret"),
    ("sftp-without-host", {"layers": sftp(host=None)}, f"{SC}.host"),
    ("sftp-empty-host", {"layers": sftp(host="")}, f"{SC}.host"),
    ("sftp-without-username", {"layers": sftp(username=None)}, f"{SC}.username"),
    ("key-without-private-key", {"layers": sftp(private_key=None, password="pw")}, f"{SC}.private_key"),
    (
        "password-without-password",
        {"layers": sftp(auth_method="PASSWORD", private_key=None)},
        f"{SC}.password",
    ),
    ("auth-method-unknown", {"layers": sftp(auth_method="TOKEN")}, f"{SC}.auth_method"),
    ("auth-method-lower", {"layers": sftp(auth_method="key")}, f"{SC}.auth_method"),
    (
        "auth-method-on-aws",
        {"layers": storage(type="aws", bucket="b", auth_method="KEY")},
        f"{SC}.auth_method",
    ),
    (
        "auth-method-on-gcs",
        {"layers": storage(type="gcs", auth_method="PASSWORD", password="p")},
        f"{SC}.auth_method",
    ),
    ("port-zero", {"layers": sftp(port=0)}, f"{SC}.port"),
    ("port-too-big", {"layers": sftp(port=70_000)}, f"{SC}.port"),
    ("port-text", {"layers": sftp(port="x")}, f"{SC}.port"),
    ("port-bool", {"layers": sftp(port=True)}, f"{SC}.port"),
    ("port-fraction", {"layers": sftp(port=22.5)}, f"{SC}.port"),
    # user_ids
    ("user-ids-101", {"user_ids": [f"u{i}" for i in range(101)]}, "user_ids"),
    ("user-ids-empty-list", {"user_ids": []}, "user_ids"),
    ("user-ids-empty-json", {"user_ids": "[]"}, "user_ids"),
    ("user-id-empty", {"user_ids": ["ok", ""]}, "user_ids[1]"),
    ("user-id-257", {"user_ids": ["u" * 257]}, "user_ids[0]"),
    ("user-id-int", {"user_ids": [1]}, "user_ids[0]"),
    ("user-id-null", {"user_ids": ["a", None]}, "user_ids[1]"),
    ("user-ids-bare-text", {"user_ids": "u1"}, "user_ids"),
    ("user-ids-comma-text", {"user_ids": "u1,u2"}, "user_ids"),
    ("user-ids-json-string", {"user_ids": '"u1"'}, "user_ids"),
    ("user-ids-dict", {"user_ids": {"u1": True}}, "user_ids"),
    ("user-ids-int", {"user_ids": 5}, "user_ids"),
    # mixing generations
    ("mix-user-ids-max-seconds", {"user_ids": ["u1"], "max_seconds": 60, "layers": LEGACY}, "user_ids"),
    ("mix-user-ids-outputs", {"user_ids": ["u1"], "layers": {"default": {"outputs": [{}]}}}, "user_ids"),
    (
        "mix-media-kind-outputs",
        {"layers": {"default": {"media_kind": "audio", "outputs": [{}]}}},
        "layers.default.media_kind",
    ),
    (
        "mix-media-kind-max-seconds",
        {"layers": {"default": {"media_kind": "audio"}}, "max_seconds": 60},
        "layers.default.media_kind",
    ),
]

MEETING_CASES: list[tuple[str, Any]] = [
    ("empty", ""),
    ("blank", "   "),
    ("slash", "a/b"),
    ("dot-dot", "../x"),
    ("space", "my meeting"),
    ("query", "m?x=1"),
    ("leading-dash", "-abc"),
    ("too-long", "m" * 257),
    ("none", None),
    ("int", 123),
    ("list", [MEETING]),
]


def test_the_table_is_big_and_distinct():
    assert len(CASES) + len(MEETING_CASES) >= 45
    assert len({case_id for case_id, _, _ in CASES}) == len(CASES)
    assert len({json.dumps(kwargs, sort_keys=True, default=str) for _, kwargs, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("kwargs", "path"), [(k, p) for _, k, p in CASES], ids=[c for c, _, _ in CASES])
def test_bad_input_rejected_with_exact_path(kwargs, path):
    with pytest.raises(RealtimeKitPayloadError) as info:
        build_track_request(meeting_id=MEETING, **kwargs)
    error = info.value
    assert error.paths == [path]
    assert f"{path}: " in str(error)
    assert str(error).startswith("Invalid track recording request: ")


@pytest.mark.parametrize("meeting_id", [m for _, m in MEETING_CASES], ids=[c for c, _ in MEETING_CASES])
def test_bad_meeting_id(meeting_id):
    with pytest.raises(RealtimeKitPayloadError) as info:
        build_track_request(meeting_id=meeting_id, layers={"default": {"file_name_prefix": "ok"}})
    assert info.value.paths == ["meeting_id"]
    assert "meeting_id: " in str(info.value)


def test_empty_layer_name_path_has_no_empty_segment():
    """An empty layer name should be shown quoted (``layers."".[key]``), not as ``layers..[key]``."""
    with pytest.raises(RealtimeKitPayloadError) as info:
        build_track_request(meeting_id=MEETING, layers={"": {"file_name_prefix": "x"}})
    assert info.value.paths == ['layers."".[key]']
    assert 'layers."".[key]: ' in str(info.value)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"meeting_id": MEETING, "record_video": True}, "record_video"),
        ({"meeting_id": MEETING, "layer": {"default": {}}}, "layer"),
        ({"meeting_id": MEETING, "userIds": ["u1"]}, "userIds"),
        ({"meeting_id": MEETING, "maxSeconds": 60}, "maxSeconds"),
        ({"meeting_id": MEETING, "storage_config": {"type": "aws"}}, "storage_config"),
        ({"layers": {"default": {}}}, "meeting_id"),
    ],
)
def test_unknown_top_level_fields(body, path):
    with pytest.raises(RealtimeKitPayloadError) as info:
        parse_track_request(body)
    assert info.value.paths == [path]
    assert f"{path}: " in str(info.value)


@pytest.mark.parametrize("body", [None, "meeting", ["meeting_id"], 7])
def test_body_not_a_mapping(body):
    with pytest.raises(RealtimeKitPayloadError) as info:
        parse_track_request(body)
    assert info.value.paths == ["(body)"]


def test_every_error_reported_together():
    with pytest.raises(RealtimeKitPayloadError) as info:
        build_track_request(
            meeting_id="a b", layers={"default": {"file_name_prefix": "x.y"}}, user_ids=["", "u" * 257]
        )
    assert sorted(info.value.paths) == sorted(
        ["meeting_id", "layers.default.file_name_prefix", "user_ids[0]", "user_ids[1]"]
    )


def test_secret_values_never_in_the_error():
    layers = storage(
        type="sftp",
        host="h",
        username="u",
        auth_method="KEY",
        password="PW-SECRET-1",
        access_key="AK-SECRET-2",
        port="x",
    )
    with pytest.raises(RealtimeKitPayloadError) as info:
        build_track_request(meeting_id=MEETING, layers=json.dumps(layers))
    text = f"{info.value} {info.value!r} {info.value.errors!r}"
    assert info.value.paths == [f"{SC}.port"]
    assert "PW-SECRET-1" not in text
    assert "AK-SECRET-2" not in text


# --------------------------------------------------------------------------------------------------
# No request is ever sent for bad input


@pytest.mark.parametrize(
    "body",
    [
        {"meeting_id": MEETING, "max_seconds": "abc", "layers": LEGACY},
        {"meeting_id": MEETING, "layers": sftp(host=None)},
        {"meeting_id": MEETING, "user_ids": [""]},
        {"meeting_id": "../x"},
        {"meeting_id": MEETING, "user_ids": ["u"], "max_seconds": 60, "layers": LEGACY},
        {"meeting_id": MEETING, "extra": 1},
    ],
    ids=["max-seconds", "sftp-host", "user-id", "meeting-id", "mixed", "unknown-field"],
)
def test_hook_sends_nothing_for_invalid_mapping(monkeypatch, body):
    conn = {
        "conn_type": "realtimekit",
        "password": TOKEN,
        "host": "http://rtk.test/client/v4",
        "extra": {"account_id": "ACC", "app_id": "APP"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))
    hook = RealtimeKitHook(retry_policy=HttpRetryPolicy(max_attempts=1))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()  # would answer anything: a request must not even be tried
        with pytest.raises(RealtimeKitPayloadError):
            hook.start_track_recording(body)
    assert route.call_count == 0
    assert not mock.calls
    hook.close()


# --------------------------------------------------------------------------------------------------
# Missing connection settings


def make_connection(
    conn_id: str = "rtk_test",
    password: str | None = TOKEN,
    extra: Any = None,
    host: str | None = None,
    port: int | None = None,
):
    """``airflow.sdk.Connection`` exists (and reads JSON-text extras) on Airflow 3.0 as on 3.3."""
    from airflow.sdk import Connection

    return Connection(
        conn_id=conn_id,
        conn_type="realtimekit",
        password=password,
        host=host,
        port=port,
        extra=None if extra is None else json.dumps(extra),
    )


ALL_MISSING = ("password (the API token)", "extra.account_id", "extra.app_id")


@pytest.mark.parametrize(
    ("password", "extra", "missing"),
    [
        (None, {"account_id": "ACC", "app_id": "APP"}, ["password (the API token)"]),
        ("", {"account_id": "ACC", "app_id": "APP"}, ["password (the API token)"]),
        (" \t", {"account_id": "ACC", "app_id": "APP"}, ["password (the API token)"]),
        (TOKEN, None, ["extra.account_id", "extra.app_id"]),
        (TOKEN, {}, ["extra.account_id", "extra.app_id"]),
        (TOKEN, {"app_id": "APP"}, ["extra.account_id"]),
        (TOKEN, {"account_id": "ACC"}, ["extra.app_id"]),
        (TOKEN, {"account_id": "ACC", "app_id": ""}, ["extra.app_id"]),
        (TOKEN, {"account_id": "  ", "app_id": "APP"}, ["extra.account_id"]),
        (TOKEN, {"account_id": None, "app_id": None}, ["extra.account_id", "extra.app_id"]),
        (TOKEN, {"accountId": "ACC", "appId": "APP"}, ["extra.account_id", "extra.app_id"]),
        (None, None, list(ALL_MISSING)),
    ],
)
def test_missing_connection_settings(password, extra, missing):
    with pytest.raises(RealtimeKitConnectionConfigError) as info:
        ConnectionSettings.from_connection(make_connection(password=password, extra=extra))
    message = str(info.value)
    assert "'rtk_test'" in message
    for name in ALL_MISSING:
        assert (name in message) == (name in missing), name
    assert TOKEN not in message
    assert isinstance(info.value, ValueError)


def test_complete_connection_settings():
    settings = ConnectionSettings.from_connection(
        make_connection(extra={"account_id": "ACC", "app_id": "APP"}, host="rtk.example", port=8443)
    )
    assert settings == ConnectionSettings(
        base_url="https://rtk.example:8443", account_id="ACC", app_id="APP", api_token=TOKEN
    )
    assert TOKEN not in repr(settings)


def test_numeric_ids_in_extra_rejected_as_non_text():
    """Ids go into the URL path: only text is taken (a JSON number is named, not converted)."""
    with pytest.raises(RealtimeKitConnectionConfigError) as info:
        ConnectionSettings.from_connection(make_connection(extra={"account_id": 123, "app_id": 456}))
    message = str(info.value)
    assert "'rtk_test'" in message
    assert "extra.account_id must be text" in message
    assert "extra.app_id must be text" in message


# --------------------------------------------------------------------------------------------------
# Issue 9: hostile connection extras, templated values and form values. Each case names its field
# and sends no request (a catch-all respx route would answer anything and must stay uncalled).

GOOD_EXTRA = {"account_id": "ACC", "app_id": "APP"}
CAP = "extra.max_response_bytes"
USER_INFO = "host must not hold user info"


def with_extra(**changes: Any) -> dict[str, Any]:
    """Connection changes: a valid extra with ``changes`` on top."""
    return {"extra": {**GOOD_EXTRA, **changes}}


# (case id, connection changes, the field the error must name)
CONNECTION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("account-dot-dot-path", with_extra(account_id="a/../../x"), "extra.account_id"),
    ("account-leading-dot-dot", with_extra(account_id="../x"), "extra.account_id"),
    ("account-only-dot-dot", with_extra(account_id=".."), "extra.account_id"),
    ("account-query", with_extra(account_id="acc?x=1"), "extra.account_id"),
    ("account-fragment", with_extra(account_id="acc#top"), "extra.account_id"),
    ("account-percent", with_extra(account_id="acc%2F.."), "extra.account_id"),
    ("account-inner-space", with_extra(account_id="my acc"), "extra.account_id"),
    ("account-list", with_extra(account_id=["ACC"]), "extra.account_id"),
    ("account-bool", with_extra(account_id=True), "extra.account_id"),
    ("account-float", with_extra(account_id=1.5), "extra.account_id"),
    ("account-object", with_extra(account_id={"id": "ACC"}), "extra.account_id"),
    ("app-slash", with_extra(app_id="APP/recordings"), "extra.app_id"),
    ("app-query-rewrite", with_extra(app_id="APP?redirect=evil"), "extra.app_id"),
    ("app-tab", with_extra(app_id="APP\tX"), "extra.app_id"),
    ("app-non-ascii", with_extra(app_id="appé"), "extra.app_id"),
    ("app-backslash", with_extra(app_id="app\\..\\x"), "extra.app_id"),
    ("timeout-nan", with_extra(timeout="nan"), "extra.timeout"),
    ("timeout-inf", with_extra(timeout="inf"), "extra.timeout"),
    ("timeout-negative", with_extra(timeout=-1), "extra.timeout"),
    ("timeout-zero", with_extra(timeout=0), "extra.timeout"),
    ("timeout-word", with_extra(timeout="soon"), "extra.timeout"),
    ("timeout-bool", with_extra(timeout=True), "extra.timeout"),
    ("timeout-huge", with_extra(timeout=1e9), "extra.timeout"),
    ("timeout-list", with_extra(timeout=[30]), "extra.timeout"),
    ("attempts-fraction", with_extra(max_attempts=2.5), "extra.max_attempts"),
    ("attempts-zero", with_extra(max_attempts=0), "extra.max_attempts"),
    ("attempts-word", with_extra(max_attempts="many"), "extra.max_attempts"),
    ("attempts-thousand", with_extra(max_attempts=1000), "extra.max_attempts"),
    ("attempts-nan", with_extra(max_attempts="nan"), "extra.max_attempts"),
    ("size-cap-tiny", with_extra(max_response_bytes=10), CAP),
    ("size-cap-fraction", with_extra(max_response_bytes=4096.5), CAP),
    ("size-cap-negative-text", with_extra(max_response_bytes="-1"), CAP),
    ("second-start-word", with_extra(second_start="maybe"), "extra.second_start must be one of"),
    ("second-start-bool", with_extra(second_start=True), "extra.second_start must be one of"),
    ("second-start-list", with_extra(second_start=["refused"]), "extra.second_start must be one of"),
    ("extra-not-an-object", {"extra": [1]}, "extra must be a JSON object"),
    ("token-newline", {"password": "TOKEN\nX-Injected: 1"}, "password (the API token)"),
    ("token-non-ascii", {"password": "TOKÉN-abc"}, "password (the API token)"),
    ("token-nul", {"password": "TOKEN\x00abc"}, "password (the API token)"),
    ("token-inner-space", {"password": "TOKEN abc"}, "password (the API token)"),
    (
        "host-user-info",
        {"host": "https://user:hunter2-pw@rtk.test/client/v4"},
        "host must not hold user info",
    ),
    ("host-user-only", {"host": "someone@rtk.test"}, "host must not hold user info"),
    ("host-ftp", {"host": "ftp://rtk.test/client/v4"}, "host must start with http"),
    ("host-query", {"host": "https://rtk.test/client/v4?x=1"}, "host must not have a query"),
    ("host-fragment", {"host": "https://rtk.test/client/v4#x"}, "host must not have a query"),
    ("host-bad-port", {"host": "https://rtk.test:99999/client/v4"}, "host has an invalid port"),
    ("host-no-name", {"host": "https:///client/v4"}, "host has no host name"),
    ("host-space", {"host": "rtk test/client/v4"}, "host must not hold whitespace"),
    ("port-out-of-range", {"host": "rtk.test", "port": 70_000}, "port must be between"),
]


def _connection_from(changes: dict[str, Any]):
    fields = {"password": TOKEN, "extra": GOOD_EXTRA, **changes}
    return make_connection(
        password=fields["password"], extra=fields["extra"], host=fields.get("host"), port=fields.get("port")
    )


AIRFLOW_3_0 = __import__("airflow").__version__.startswith("3.0.")


def _as_env_json(conn: Any) -> str:
    """The connection as ``AIRFLOW_CONN_*`` JSON (``Connection.as_json`` does not exist on 3.0)."""
    fields = {"conn_type": conn.conn_type, "password": conn.password, "host": conn.host, "port": conn.port}
    # extra as JSON text: 3.0 refuses a whole env connection whose extra is not an object, 3.3 parses it
    fields["extra"] = (
        conn.extra if isinstance(conn.extra, str) or conn.extra is None else json.dumps(conn.extra)
    )
    return json.dumps({key: value for key, value in fields.items() if value is not None})


@pytest.mark.parametrize(
    ("changes", "named"), [c[1:] for c in CONNECTION_CASES], ids=[c[0] for c in CONNECTION_CASES]
)
def test_hostile_connection_rejected_before_any_request(monkeypatch, changes, named):
    conn = _connection_from(changes)
    monkeypatch.setenv("AIRFLOW_CONN_RTK_TEST", _as_env_json(conn))
    if not isinstance(changes.get("extra", {}), dict) and AIRFLOW_3_0:
        # version specific: Airflow 3.0 itself refuses an env connection whose extra is no object
        with pytest.raises(AirflowNotFoundException):
            RealtimeKitHook("rtk_test").get_recording("rec-1")
        return
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        hook = RealtimeKitHook("rtk_test")
        with pytest.raises(RealtimeKitConnectionConfigError) as info:
            hook.get_recording("rec-1")
        ok, message = hook.test_connection()
    assert route.call_count == 0
    assert not mock.calls
    assert named in str(info.value)
    assert "'rtk_test'" in str(info.value)
    assert not ok
    assert named in message
    for secret in (TOKEN, conn.password, "hunter2-pw"):
        assert secret not in str(info.value)
        assert secret not in message


def test_host_without_scheme_is_https_and_a_clean_url():
    settings = ConnectionSettings.from_connection(
        make_connection(extra=GOOD_EXTRA, host=" rtk.test:8443/v4/ ")
    )
    assert settings.base_url == "https://rtk.test:8443/v4"


def test_numeric_text_extras_taken():
    settings = ConnectionSettings.from_connection(
        make_connection(
            extra={**GOOD_EXTRA, "timeout": " 2.5 ", "max_attempts": "3", "max_response_bytes": "65536"}
        )
    )
    assert (settings.timeout, settings.max_attempts, settings.max_response_bytes) == (2.5, 3, 65536)


@pytest.mark.parametrize(
    ("value", "chosen", "refused"),
    [
        (None, "unknown", False),
        ("", "unknown", False),
        (" Refused ", "refused", True),
        ("accepted", "accepted", False),
    ],
)
def test_second_start_extra(value, chosen, refused):
    extra = GOOD_EXTRA if value is None else {**GOOD_EXTRA, "second_start": value}
    settings = ConnectionSettings.from_connection(make_connection(extra=extra))
    assert (settings.second_start, settings.second_start_refused) == (chosen, refused)


def test_every_connection_problem_named_at_once():
    conn = make_connection(
        password="TOK\x01", extra={"account_id": "a/b", "app_id": "APP", "timeout": "nan"}, host="u@h"
    )
    with pytest.raises(RealtimeKitConnectionConfigError) as info:
        ConnectionSettings.from_connection(conn)
    for named in ("extra.account_id", "password (the API token)", "host must not", "extra.timeout"):
        assert named in str(info.value)
    assert "TOK\x01" not in str(info.value)


# Templated values: what a template renders when an upstream XCom is missing or a form stays empty.
# (case id, start operator arguments besides meeting_id, the field named)
NOTHING_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("max-seconds-None", {"max_seconds": "None", "layers": LEGACY}, "max_seconds"),
    ("max-seconds-null", {"max_seconds": "null", "layers": LEGACY}, "max_seconds"),
    ("max-seconds-empty", {"max_seconds": "", "layers": LEGACY}, "max_seconds"),
    ("user-ids-None", {"user_ids": "None"}, "user_ids"),
    ("user-ids-null", {"user_ids": "null"}, "user_ids"),
    ("user-ids-blank", {"user_ids": "  "}, "user_ids"),
    ("layers-None", {"layers": "None"}, "layers"),
    ("layers-null", {"layers": "null"}, "layers"),
    ("layers-double-encoded", {"layers": json.dumps(json.dumps({"default": {}}))}, "layers"),
    ("layers-double-encoded-secrets", {"layers": json.dumps(json.dumps(sftp()))}, "layers"),
    ("user-ids-double-encoded", {"user_ids": json.dumps(json.dumps(["u1"]))}, "user_ids"),
    ("layers-nested-too-deep", {"layers": "[" * 100_000 + "]" * 100_000}, "layers"),
]

# Form values pasted into JSON text: a quote in a form value adds fields (the example DAGs no longer
# do this; an operator given such text must still refuse what it adds).
FORM_TEMPLATE = '{"default": {"file_name_prefix": "%s"}}'
FORM_CASES: list[tuple[str, str, str]] = [
    ("form-adds-media-kind", 'x", "media_kind": "video', "layers.default.media_kind"),
    ("form-adds-a-field", 'x", "record_everything": "yes', "layers.default.record_everything"),
    (
        "form-redirects-sftp-host",
        'x"}, "evil": {"outputs": [{"type": "STORAGE_CONFIG", "storage_conn_id": "rec_sftp", '
        '"storage_config": {"host": "evil.example"}}]}, "z": {"file_name_prefix": "z',
        "layers.evil.outputs[0].storage_config.host",
    ),
    ("form-breaks-the-json", 'x"', "layers"),
]

# Storage connections: the credentials go only to the connection's destination, and only from a
# connection marked for recordings.
MARK = {"realtimekit_storage": True}
STORAGE_CONNECTIONS = {
    "rec_sftp": {
        "conn_type": "sftp",
        "host": "sftp.internal",
        "login": "rec",
        "password": "SFTP-PW-91",
        "extra": MARK,
    },
    "rec_sftp_nohost": {"conn_type": "sftp", "login": "rec", "password": "SFTP-PW-92", "extra": MARK},
    "rec_s3": {
        "conn_type": "aws",
        "login": "AK-93",
        "password": "SK-94",
        "extra": {"bucket": "rec-bucket", "region_name": "eu-west-1", **MARK},
    },
    "some_db": {"conn_type": "postgres", "host": "db.internal", "password": "DB-PW-95", "extra": MARK},
    "admin_sftp": {"conn_type": "sftp", "host": "sftp.internal", "login": "root", "password": "SFTP-PW-96"},
    "admin_s3": {"conn_type": "aws", "login": "AK-97", "password": "SK-98", "extra": {"bucket": "b"}},
}


def conn_output(conn_id: str, **config: Any) -> dict[str, Any]:
    output: dict[str, Any] = {"type": "STORAGE_CONFIG", "storage_conn_id": conn_id}
    if config:
        output["storage_config"] = config
    return {"default": {"outputs": [output]}}


STORAGE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("sftp-host-override", conn_output("rec_sftp", host="evil.example"), f"{SC}.host"),
    ("sftp-port-override", conn_output("rec_sftp", port=2022), f"{SC}.port"),
    ("sftp-host-on-hostless-conn", conn_output("rec_sftp_nohost", host="evil.example"), f"{SC}.host"),
    ("sftp-username-override", conn_output("rec_sftp", username="root"), f"{SC}.username"),
    ("inline-password-with-conn", conn_output("rec_sftp", password="mine"), f"{SC}.password"),
    ("inline-secret-with-conn", conn_output("rec_s3", secret="mine"), f"{SC}.secret"),
    ("s3-bucket-override", conn_output("rec_s3", bucket="attacker-bucket"), f"{SC}.bucket"),
    ("s3-region-override", conn_output("rec_s3", region="us-east-1"), f"{SC}.region"),
    ("aws-conn-for-sftp", conn_output("rec_s3", type="sftp", path="x/"), f"{SC}.type"),
    ("postgres-conn-as-storage", conn_output("some_db"), f"{OUT0}.storage_conn_id"),
    ("unmarked-sftp-conn", conn_output("admin_sftp"), f"{OUT0}.storage_conn_id"),
    ("unmarked-aws-conn", conn_output("admin_s3", path="x/"), f"{OUT0}.storage_conn_id"),
    ("s3-host-added", conn_output("rec_s3", host="evil.example"), f"{SC}.host"),
    (
        "storage-config-not-object",
        {"default": {"outputs": [{"storage_conn_id": "rec_sftp", "storage_config": "host=evil"}]}},
        f"{OUT0}.storage_config",
    ),
]

# Operator arguments checked when the DAG is parsed: (case id, class, arguments, the field named)
PARSE_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("start-timeout-negative", "start", {"timeout": -5}, "timeout"),
    ("start-timeout-zero", "start", {"timeout": 0}, "timeout"),
    ("start-timeout-nan", "start", {"timeout": float("nan")}, "timeout"),
    ("start-timeout-word", "start", {"timeout": "soon"}, "timeout"),
    ("start-timeout-negative-timedelta", "start", {"timeout": timedelta(seconds=-1)}, "timeout"),
    ("start-poll-zero", "start", {"poll_interval": 0}, "poll_interval"),
    ("start-poll-word", "start", {"poll_interval": "fast"}, "poll_interval"),
    ("start-poll-inf", "start", {"poll_interval": float("inf")}, "poll_interval"),
    ("session-sensor-poke-zero", "session_sensor", {"poke_interval": 0}, "poke_interval"),
    ("recording-sensor-poke-word", "recording_sensor", {"poke_interval": "abc"}, "poke_interval"),
    ("recording-sensor-poke-negative", "recording_sensor", {"poke_interval": -1}, "poke_interval"),
    ("recording-trigger-poll-zero", "recording_trigger", {"poll_interval": 0}, "poll_interval"),
    ("session-trigger-poll-inf", "session_trigger", {"poll_interval": float("inf")}, "poll_interval"),
    ("recording-trigger-poll-bool", "recording_trigger", {"poll_interval": True}, "poll_interval"),
]


def build(kind: str, **arguments: Any) -> Any:
    from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator
    from airflow_provider_rtk.sensors import RealtimeKitActiveSessionSensor, RealtimeKitRecordingSensor
    from airflow_provider_rtk.triggers import RealtimeKitActiveSessionTrigger, RealtimeKitRecordingTrigger

    if kind == "start":
        return RealtimeKitStartTrackRecordingOperator(task_id="t", meeting_id=MEETING, **arguments)
    if kind == "session_sensor":
        return RealtimeKitActiveSessionSensor(task_id="s", meeting_id=MEETING, **arguments)
    if kind == "recording_sensor":
        return RealtimeKitRecordingSensor(task_id="s", recording_id="rec-1", **arguments)
    if kind == "recording_trigger":
        return RealtimeKitRecordingTrigger(recording_id="rec-1", **arguments)
    return RealtimeKitActiveSessionTrigger(meeting_id=MEETING, **arguments)


@pytest.fixture
def connections(monkeypatch):
    """realtimekit_default (pointing at a mocked host) and the storage connections above."""
    conn = {"conn_type": "realtimekit", "password": TOKEN, "host": "http://rtk.test/client/v4"}
    monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps({**conn, "extra": GOOD_EXTRA}))
    for conn_id, fields in STORAGE_CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


class _TaskInstance:
    task_id, map_index, try_number = "t", -1, 1

    def xcom_push(self, key: str, value: Any) -> None:
        raise AssertionError("nothing may be pushed for rejected input")


def execute_start(**arguments: Any) -> RealtimeKitPayloadError:
    """Run the start operator's execute (rendered values as given); it must raise before any request."""
    operator = build("start", **arguments)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        with pytest.raises(RealtimeKitPayloadError) as info:
            operator.execute({"ti": _TaskInstance()})
    assert route.call_count == 0
    assert not mock.calls
    return info.value


@pytest.mark.parametrize(
    ("arguments", "path"), [c[1:] for c in NOTHING_CASES], ids=[c[0] for c in NOTHING_CASES]
)
def test_rendered_nothing_and_double_encoding_are_field_errors(connections, arguments, path):
    error = execute_start(**arguments)
    assert error.paths == [path]
    assert f"{path}: " in str(error)
    assert "PRIVATE-KEY-VALUE" not in str(error)


@pytest.mark.parametrize(("value", "path"), [c[1:] for c in FORM_CASES], ids=[c[0] for c in FORM_CASES])
def test_form_values_pasted_into_json_cannot_add_fields(connections, value, path):
    error = execute_start(layers=FORM_TEMPLATE % value)
    assert path in error.paths


@pytest.mark.parametrize(
    ("layers", "path"), [c[1:] for c in STORAGE_CASES], ids=[c[0] for c in STORAGE_CASES]
)
def test_connection_credentials_go_only_to_its_destination(connections, layers, path):
    error = execute_start(layers=layers, max_seconds=60)
    assert error.paths == [path]
    text = f"{error} {error!r}"
    for fields in STORAGE_CONNECTIONS.values():
        assert fields["password"] not in text


@pytest.mark.parametrize("kind", ["session_sensor", "recording_sensor"])
@pytest.mark.parametrize("value", [0, 0.001])
def test_a_tight_poke_interval_from_default_args_is_rejected_at_parse(kind, value):
    """``poke_interval`` given through the DAG's ``default_args`` reaches the sensor past its own
    arguments; the check holds for it too."""
    from airflow.sdk import DAG

    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        with (
            DAG("d", schedule=None, default_args={"poke_interval": value}),
            pytest.raises(RealtimeKitPayloadError) as info,
        ):
            build(kind)
    assert route.call_count == 0
    assert info.value.paths == ["poke_interval"]


def test_a_poke_interval_from_default_args_is_taken():
    from airflow.sdk import DAG

    with DAG("d", schedule=None, default_args={"poke_interval": 7}):
        assert build("recording_sensor").poke_interval == 7


@pytest.mark.parametrize(
    ("kind", "arguments", "name"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES]
)
def test_bad_intervals_and_timeouts_rejected_at_parse(kind, arguments, name):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        with pytest.raises(RealtimeKitPayloadError) as info:
            build(kind, **arguments)
    assert route.call_count == 0
    assert info.value.paths == [name]


@pytest.mark.parametrize(
    ("kind", "arguments", "attribute", "value"),
    [
        ("start", {"poll_interval": "5"}, "poll_interval", 5.0),
        ("start", {"timeout": "90"}, "timeout", 90.0),
        ("start", {"timeout": timedelta(minutes=2)}, "timeout", 120.0),
        ("recording_sensor", {"poke_interval": "30"}, "poke_interval", 30.0),
        ("recording_trigger", {"poll_interval": "2.5"}, "poll_interval", 2.5),
    ],
)
def test_numeric_text_intervals_are_taken(kind, arguments, attribute, value):
    assert getattr(build(kind, **arguments), attribute) == value


@pytest.mark.parametrize("recording_id", ["None", "", "null", "  ", None, 42])
def test_action_operator_refuses_rendered_nothing_as_recording_id(connections, recording_id):
    """``PUT /recordings/None`` must never be sent."""
    from airflow_provider_rtk.operators.recording import RealtimeKitRecordingActionOperator

    operator = RealtimeKitRecordingActionOperator(task_id="a", recording_id=recording_id, action="stop")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        with pytest.raises(RealtimeKitPayloadError) as info:
            operator.execute({"ti": _TaskInstance()})
    assert route.call_count == 0
    assert info.value.paths == ["recording_id"]


def test_issue_9_table_has_at_least_forty_new_cases():
    new = CONNECTION_CASES + NOTHING_CASES + FORM_CASES + STORAGE_CASES + PARSE_CASES
    assert len(new) >= 40
    assert len({case[0] for case in new}) == len(new)
