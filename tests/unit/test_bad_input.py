"""Malformed operator input: every case is rejected before any request, naming the exact field path."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from airflow_provider_rtk.exceptions import RealtimeKitConnectionConfigError, RealtimeKitPayloadError
from airflow_provider_rtk.hooks._api import HttpRetryPolicy
from airflow_provider_rtk.hooks.realtimekit import ConnectionSettings, RealtimeKitHook
from airflow_provider_rtk.models import build_track_request, parse_track_request

MEETING = "97440c6a-140b-40a9-9499-b23fd7a3868a"
TOKEN = "TOKEN-abc123"
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
