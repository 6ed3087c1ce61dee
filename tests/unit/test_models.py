"""Request and answer models: both generations of the track body, every API rule, secrets, recordings."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.models import (
    ActiveSession,
    OutputType,
    Recording,
    RecordingStatus,
    SftpAuthMethod,
    StorageConfig,
    StorageType,
    TrackLayer,
    TrackOutput,
    TrackRecordingRequest,
    build_track_request,
    parse_track_request,
)
from tests.api_answers import MEETING

OUT = "layers.default.outputs[0]"
SC = f"{OUT}.storage_config"

ACCESS_KEY = "AKIA-ACCESS-KEY-VALUE-1"
SECRET = "s3cr3t-SECRET-VALUE-2"
PASSWORD = "pw-PASSWORD-VALUE-3"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- PRIVATE-KEY-VALUE-4"
ALL_SECRETS = (ACCESS_KEY, SECRET, PASSWORD, PRIVATE_KEY)


def current_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "meeting_id": MEETING,
        "layers": {"default": {"file_name_prefix": "standup", "media_kind": "audio"}},
        "user_ids": ["u1", "u2"],
    }
    body.update(extra)
    return body


def legacy_body(storage_config: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    config = storage_config or {
        "type": "sftp",
        "host": "sftp.example.com",
        "port": 22,
        "username": "rec",
        "auth_method": "KEY",
        "private_key": PRIVATE_KEY,
        "password": PASSWORD,
        "path": "recordings/",
    }
    body: dict[str, Any] = {
        "meeting_id": MEETING,
        "max_seconds": 3600,
        "layers": {
            "default": {
                "file_name_prefix": "standup",
                "outputs": [{"type": "STORAGE_CONFIG", "storage_config": config}],
            }
        },
    }
    body.update(extra)
    return body


def aws_config() -> dict[str, Any]:
    return {
        "type": "aws",
        "bucket": "my-bucket",
        "region": "us-east-1",
        "access_key": ACCESS_KEY,
        "secret": SECRET,
        "path": "rtk/",
    }


def with_storage(**fields: Any) -> dict[str, Any]:
    """A legacy body whose single output has the given storage_config."""
    return legacy_body(storage_config=fields)


def rejected(body: Any) -> RealtimeKitPayloadError:
    with pytest.raises(RealtimeKitPayloadError) as info:
        parse_track_request(body)
    return info.value


# --------------------------------------------------------------------------------------------------
# Valid bodies of both generations


class TestValidBodies:
    def test_bare_meeting_id_is_current_and_sends_only_it(self):
        request = parse_track_request({"meeting_id": MEETING})
        assert request.generation == "current"
        assert request.to_api_body() == {"meeting_id": MEETING}

    def test_current_body_round_trips(self):
        body = current_body()
        request = parse_track_request(body)
        assert request.generation == "current"
        assert request.to_api_body() == body
        assert request.layers is not None
        assert request.layers["default"].media_kind == "audio"
        assert request.user_ids == ["u1", "u2"]

    def test_legacy_sftp_body_round_trips_with_secrets_revealed(self):
        body = legacy_body()
        request = parse_track_request(body)
        assert request.generation == "legacy"
        assert request.to_api_body() == body
        config = request.storage_configs()[0]
        assert config.type is StorageType.SFTP
        assert config.auth_method is SftpAuthMethod.KEY
        assert config.port == 22

    @pytest.mark.parametrize("storage_type", ["aws", "azure", "digitalocean", "gcs"])
    def test_legacy_bucket_storages(self, storage_type):
        config = {**aws_config(), "type": storage_type}
        body = legacy_body(storage_config=config)
        request = parse_track_request(body)
        assert request.to_api_body() == body
        assert request.storage_configs()[0].type.value == storage_type

    def test_legacy_sftp_with_password_auth(self):
        config = {
            "type": "sftp",
            "host": "h.example",
            "username": "u",
            "auth_method": "PASSWORD",
            "password": PASSWORD,
        }
        request = parse_track_request(legacy_body(storage_config=config))
        assert request.to_api_body()["layers"]["default"]["outputs"][0]["storage_config"] == config

    def test_legacy_sftp_without_auth_method_is_allowed(self):
        config = {"type": "sftp", "host": "h.example", "username": "u"}
        request = parse_track_request(legacy_body(storage_config=config))
        assert request.storage_configs()[0].auth_method is None

    def test_legacy_realtimekit_bucket_output_and_default_type(self):
        body = {
            "meeting_id": MEETING,
            "max_seconds": 60,
            "layers": {"default": {"outputs": [{"type": "REALTIMEKIT_BUCKET"}, {}]}},
        }
        request = parse_track_request(body)
        assert request.generation == "legacy"
        outputs = request.layers["default"].outputs
        assert [o.type for o in outputs] == [OutputType.REALTIMEKIT_BUCKET, OutputType.REALTIMEKIT_BUCKET]
        # the default type is not sent when the user did not give it
        assert request.to_api_body() == body

    def test_max_seconds_bounds(self):
        for seconds in (1, 86_400):
            body = {"meeting_id": MEETING, "max_seconds": seconds, "layers": {"default": {}}}
            assert parse_track_request(body).to_api_body() == body

    def test_user_ids_bounds(self):
        for ids in (["x"], [f"u{i}" for i in range(100)], ["a" * 256]):
            body = {"meeting_id": MEETING, "user_ids": ids}
            assert parse_track_request(body).to_api_body() == body

    @pytest.mark.parametrize("prefix", ["standup", "team-a_1", "weekly sync", "A", "_"])
    def test_file_name_prefix_accepted(self, prefix):
        body = {"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": prefix}}}
        assert parse_track_request(body).to_api_body() == body

    def test_several_layers(self):
        body = {
            "meeting_id": MEETING,
            "layers": {"default": {"file_name_prefix": "a"}, "speakers-2": {"media_kind": "audio"}},
        }
        assert parse_track_request(body).to_api_body() == body

    def test_parse_accepts_request_instance_as_is(self):
        request = parse_track_request(current_body())
        assert parse_track_request(request) is request


class TestGeneration:
    @pytest.mark.parametrize(
        ("body", "generation"),
        [
            ({"meeting_id": MEETING}, "current"),
            ({"meeting_id": MEETING, "user_ids": ["a"]}, "current"),
            ({"meeting_id": MEETING, "layers": {"default": {"media_kind": "audio"}}}, "current"),
            ({"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": "p"}}}, "current"),
            (
                {"meeting_id": MEETING, "max_seconds": 5, "layers": {"default": {"file_name_prefix": "p"}}},
                "legacy",
            ),
            ({"meeting_id": MEETING, "layers": {"default": {"outputs": [{}]}}}, "legacy"),
        ],
    )
    def test_detected(self, body, generation):
        assert parse_track_request(body).generation == generation

    def test_user_ids_with_max_seconds_rejected_at_user_ids(self):
        error = rejected(
            {"meeting_id": MEETING, "user_ids": ["a"], "max_seconds": 10, "layers": {"default": {}}}
        )
        assert error.paths == ["user_ids"]
        assert "max_seconds" in str(error)

    def test_media_kind_with_outputs_rejected_at_media_kind(self):
        error = rejected(
            {"meeting_id": MEETING, "layers": {"default": {"media_kind": "audio", "outputs": [{}]}}}
        )
        assert error.paths == ["layers.default.media_kind"]
        assert "layers.default.outputs" in str(error)

    def test_mixing_across_layers_rejected(self):
        error = rejected(
            {
                "meeting_id": MEETING,
                "layers": {"a": {"outputs": [{}]}, "b": {"media_kind": "audio"}},
            }
        )
        assert error.paths == ["layers.b.media_kind"]

    def test_user_ids_with_legacy_outputs_rejected(self):
        error = rejected({"meeting_id": MEETING, "user_ids": ["a"], "layers": {"default": {"outputs": [{}]}}})
        assert error.paths == ["user_ids"]

    def test_legacy_max_seconds_needs_layers(self):
        error = rejected({"meeting_id": MEETING, "max_seconds": 10})
        assert error.paths == ["layers"]


# --------------------------------------------------------------------------------------------------
# Every rule of the API facts, with the exact full path


RULES: list[tuple[str, dict[str, Any], str]] = [
    ("storage type enum", with_storage(type="ftp", host="h", username="u"), f"{SC}.type"),
    ("storage type required", with_storage(bucket="b"), f"{SC}.type"),
    (
        "auth_method enum",
        with_storage(type="sftp", host="h", username="u", auth_method="TOKEN"),
        f"{SC}.auth_method",
    ),
    (
        "auth_method only for sftp",
        with_storage(type="aws", bucket="b", auth_method="KEY"),
        f"{SC}.auth_method",
    ),
    ("sftp needs host", with_storage(type="sftp", username="u"), f"{SC}.host"),
    ("sftp needs username", with_storage(type="sftp", host="h"), f"{SC}.username"),
    (
        "KEY needs private_key",
        with_storage(type="sftp", host="h", username="u", auth_method="KEY", password=PASSWORD),
        f"{SC}.private_key",
    ),
    (
        "PASSWORD needs password",
        with_storage(type="sftp", host="h", username="u", auth_method="PASSWORD", private_key=PRIVATE_KEY),
        f"{SC}.password",
    ),
    ("port too small", with_storage(type="sftp", host="h", username="u", port=0), f"{SC}.port"),
    ("port too large", with_storage(type="sftp", host="h", username="u", port=65_536), f"{SC}.port"),
    (
        "STORAGE_CONFIG needs storage_config",
        {"meeting_id": MEETING, "layers": {"default": {"outputs": [{"type": "STORAGE_CONFIG"}]}}},
        f"{OUT}.storage_config",
    ),
    (
        "REALTIMEKIT_BUCKET takes no storage_config",
        {
            "meeting_id": MEETING,
            "layers": {
                "default": {"outputs": [{"type": "REALTIMEKIT_BUCKET", "storage_config": aws_config()}]}
            },
        },
        f"{OUT}.storage_config",
    ),
    (
        "output type enum",
        {"meeting_id": MEETING, "layers": {"default": {"outputs": [{"type": "S3"}]}}},
        f"{OUT}.type",
    ),
    (
        "outputs not empty",
        {"meeting_id": MEETING, "layers": {"default": {"outputs": []}}},
        "layers.default.outputs",
    ),
    (
        "file_name_prefix pattern slash",
        {"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": "a/b"}}},
        "layers.default.file_name_prefix",
    ),
    (
        "file_name_prefix pattern dot",
        {"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": "x.y"}}},
        "layers.default.file_name_prefix",
    ),
    (
        "file_name_prefix pattern empty",
        {"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": ""}}},
        "layers.default.file_name_prefix",
    ),
    (
        "media_kind audio only",
        {"meeting_id": MEETING, "layers": {"default": {"media_kind": "video"}}},
        "layers.default.media_kind",
    ),
    ("user_ids at least one", {"meeting_id": MEETING, "user_ids": []}, "user_ids"),
    ("user_ids at most 100", {"meeting_id": MEETING, "user_ids": [f"u{i}" for i in range(101)]}, "user_ids"),
    ("user id not empty", {"meeting_id": MEETING, "user_ids": ["ok", ""]}, "user_ids[1]"),
    ("user id at most 256", {"meeting_id": MEETING, "user_ids": ["a" * 257]}, "user_ids[0]"),
    ("user id a string", {"meeting_id": MEETING, "user_ids": [5]}, "user_ids[0]"),
    (
        "max_seconds positive",
        {"meeting_id": MEETING, "max_seconds": 0, "layers": {"default": {}}},
        "max_seconds",
    ),
    (
        "max_seconds not negative",
        {"meeting_id": MEETING, "max_seconds": -5, "layers": {"default": {}}},
        "max_seconds",
    ),
    (
        "max_seconds at most a day",
        {"meeting_id": MEETING, "max_seconds": 86_401, "layers": {"default": {}}},
        "max_seconds",
    ),
    (
        "max_seconds not a bool",
        {"meeting_id": MEETING, "max_seconds": True, "layers": {"default": {}}},
        "max_seconds",
    ),
    ("meeting_id required", {"layers": {"default": {}}}, "meeting_id"),
    ("unknown top-level field", {"meeting_id": MEETING, "record_video": True}, "record_video"),
    (
        "unknown layer field",
        {"meeting_id": MEETING, "layers": {"default": {"prefix": "x"}}},
        "layers.default.prefix",
    ),
    ("unknown storage field", with_storage(type="aws", bucket="b", secret_key="x"), f"{SC}.secret_key"),
]


@pytest.mark.parametrize(
    ("body", "path"), [(body, path) for _, body, path in RULES], ids=[name for name, _, _ in RULES]
)
def test_rule_rejected_with_exact_path(body, path):
    error = rejected(body)
    assert path in error.paths
    assert all(e.path == path for e in error.errors), error.paths
    assert path in str(error)


def test_all_errors_reported_at_once():
    body = {
        "meeting_id": "a/b",
        "user_ids": [""],
        "layers": {"default": {"file_name_prefix": "x.y", "media_kind": "video"}},
    }
    error = rejected(body)
    assert sorted(error.paths) == sorted(
        [
            "meeting_id",
            "user_ids[0]",
            "layers.default.file_name_prefix",
            "layers.default.media_kind",
        ]
    )


def test_payload_error_is_value_error_with_field_errors():
    error = rejected({"meeting_id": ""})
    assert isinstance(error, ValueError)
    assert error.errors[0].path == "meeting_id"
    assert str(error.errors[0]).startswith("meeting_id: ")
    assert str(error).startswith("Invalid track recording request: meeting_id: ")


# --------------------------------------------------------------------------------------------------
# to_api_body: only what the user set


class TestApiBody:
    def test_explicit_nones_dropped(self):
        request = parse_track_request(
            {"meeting_id": MEETING, "layers": None, "user_ids": None, "max_seconds": None}
        )
        assert request.to_api_body() == {"meeting_id": MEETING}

    def test_no_media_kind_default_added(self):
        body = {"meeting_id": MEETING, "layers": {"default": {"file_name_prefix": "p"}}}
        assert parse_track_request(body).to_api_body() == body

    def test_no_storage_nulls_sent(self):
        body = legacy_body(storage_config={"type": "gcs", "bucket": "b"})
        sent = parse_track_request(body).to_api_body()
        assert sent["layers"]["default"]["outputs"][0]["storage_config"] == {"type": "gcs", "bucket": "b"}
        assert "null" not in json.dumps(sent)

    def test_model_instances_only_send_what_was_set(self):
        request = TrackRecordingRequest(
            meeting_id=MEETING,
            layers={
                "default": TrackLayer(
                    outputs=[
                        TrackOutput(
                            type=OutputType.STORAGE_CONFIG,
                            storage_config=StorageConfig(type="aws", secret=SECRET),
                        )
                    ]
                )
            },
        )
        assert request.to_api_body() == {
            "meeting_id": MEETING,
            "layers": {
                "default": {
                    "outputs": [
                        {"type": "STORAGE_CONFIG", "storage_config": {"type": "aws", "secret": SECRET}}
                    ]
                }
            },
        }

    def test_body_is_json_ready(self):
        sent = parse_track_request(legacy_body()).to_api_body()
        assert json.loads(json.dumps(sent)) == sent
        assert sent["layers"]["default"]["outputs"][0]["storage_config"]["auth_method"] == "KEY"

    def test_input_not_mutated(self):
        body = legacy_body()
        snapshot = copy.deepcopy(body)
        parse_track_request(body).to_api_body()
        assert body == snapshot


# --------------------------------------------------------------------------------------------------
# Secrets: revealed only by to_api_body


def secret_request() -> TrackRecordingRequest:
    body = {
        "meeting_id": MEETING,
        "layers": {
            "default": {
                "outputs": [
                    {"type": "STORAGE_CONFIG", "storage_config": aws_config()},
                    {
                        "type": "STORAGE_CONFIG",
                        "storage_config": {
                            "type": "sftp",
                            "host": "h",
                            "username": "u",
                            "auth_method": "KEY",
                            "private_key": PRIVATE_KEY,
                            "password": PASSWORD,
                        },
                    },
                ]
            }
        },
    }
    return parse_track_request(body)


class TestSecrets:
    def test_to_api_body_reveals_every_secret(self):
        sent = json.dumps(secret_request().to_api_body())
        for secret in ALL_SECRETS:
            assert secret in sent

    @pytest.mark.parametrize(
        "render",
        [
            repr,
            str,
            lambda r: str(r.model_dump()),
            lambda r: json.dumps(r.model_dump(mode="json")),
            lambda r: r.model_dump_json(),
            lambda r: repr(r.layers),
            lambda r: repr(r.storage_configs()),
            lambda r: str(r.storage_configs()[1]),
            lambda r: str(r.storage_configs()[0].model_dump(exclude_none=True)),
        ],
        ids=[
            "repr",
            "str",
            "dump",
            "dump-json-mode",
            "dump-json",
            "layers-repr",
            "configs-repr",
            "config-str",
            "config-dump",
        ],
    )
    def test_never_shown_elsewhere(self, render):
        text = render(secret_request())
        for secret in ALL_SECRETS:
            assert secret not in text
        assert "sftp" in text or "aws" in text  # the render really showed the storage config

    def test_masked_dump_marks_secrets(self):
        dumped = secret_request().model_dump(mode="json")
        configs = [o["storage_config"] for o in dumped["layers"]["default"]["outputs"]]
        assert configs[0]["access_key"] == "***"
        assert configs[0]["secret"] == "***"
        assert configs[1]["private_key"] == "***"
        assert configs[1]["password"] == "***"

    def test_secret_values_lists_all(self):
        assert sorted(secret_request().secret_values()) == sorted(ALL_SECRETS)

    def test_secret_values_skips_empty(self):
        config = StorageConfig(type="aws", secret="", access_key=ACCESS_KEY)
        assert config.secret_values() == [ACCESS_KEY]

    def test_secrets_not_in_validation_errors(self):
        body = with_storage(
            type="sftp",
            username=PASSWORD,
            auth_method="KEY",
            password=PASSWORD,
            access_key=ACCESS_KEY,
            unknown=SECRET,
        )
        error = rejected(body)
        text = f"{error} {error!r} {error.errors!r}"
        for secret in ALL_SECRETS:
            assert secret not in text
        assert f"{SC}.unknown" in error.paths

    def test_secret_of_wrong_type_not_echoed(self):
        error = rejected(with_storage(type="aws", secret=["SECRET-IN-A-LIST-5"]))
        assert error.paths == [f"{SC}.secret"]
        assert "SECRET-IN-A-LIST-5" not in str(error)


# --------------------------------------------------------------------------------------------------
# build_track_request: operator input after templating


class TestBuildTrackRequest:
    def test_layers_as_json_text(self):
        layers = {"default": {"file_name_prefix": "standup", "media_kind": "audio"}}
        request = build_track_request(meeting_id=MEETING, layers=json.dumps(layers))
        assert request.to_api_body() == {"meeting_id": MEETING, "layers": layers}

    def test_layers_as_dict(self):
        layers = {"default": {"file_name_prefix": "x"}}
        assert build_track_request(MEETING, layers=layers).to_api_body()["layers"] == layers

    def test_layers_as_track_layer_instances(self):
        request = build_track_request(MEETING, layers={"default": TrackLayer(file_name_prefix="x")})
        assert request.to_api_body() == {
            "meeting_id": MEETING,
            "layers": {"default": {"file_name_prefix": "x"}},
        }

    def test_layers_mixing_instances_and_dicts(self):
        request = build_track_request(
            MEETING,
            layers={
                "a": TrackLayer(outputs=[TrackOutput()]),
                "b": {"outputs": [{"type": "REALTIMEKIT_BUCKET"}]},
            },
            max_seconds=30,
        )
        assert request.generation == "legacy"
        assert request.to_api_body() == {
            "meeting_id": MEETING,
            "layers": {"a": {"outputs": [{}]}, "b": {"outputs": [{"type": "REALTIMEKIT_BUCKET"}]}},
            "max_seconds": 30,
        }

    def test_user_ids_as_json_text(self):
        request = build_track_request(MEETING, user_ids='["u1", "u2"]')
        assert request.user_ids == ["u1", "u2"]

    def test_user_ids_as_list(self):
        assert build_track_request(MEETING, user_ids=["a"]).to_api_body() == {
            "meeting_id": MEETING,
            "user_ids": ["a"],
        }

    @pytest.mark.parametrize(("text", "value"), [("3600", 3600), (" 60 ", 60), ("86400", 86_400)])
    def test_max_seconds_as_numeric_text(self, text, value):
        request = build_track_request(MEETING, layers={"default": {}}, max_seconds=text)
        assert request.max_seconds == value
        assert request.to_api_body()["max_seconds"] == value

    def test_none_means_unset(self):
        request = build_track_request(MEETING, layers=None, max_seconds=None, user_ids=None)
        assert request.to_api_body() == {"meeting_id": MEETING}
        assert request.generation == "current"

    @pytest.mark.parametrize("nothing", ["", "None", "null", "  ", " None ", "null\n"])
    def test_text_that_rendered_nothing_is_an_error_not_a_drop(self, nothing):
        """A missing XCom renders 'None': leaving the field out would record everyone, for ever."""
        with pytest.raises(RealtimeKitPayloadError) as info:
            build_track_request(MEETING, layers=nothing, max_seconds=nothing, user_ids=nothing)
        assert info.value.paths == ["layers", "max_seconds", "user_ids"]
        assert "missing value" in str(info.value)

    def test_meeting_id_stripped(self):
        assert build_track_request(f"  {MEETING}\n").meeting_id == MEETING

    def test_bad_layers_json_names_field(self):
        with pytest.raises(RealtimeKitPayloadError) as info:
            build_track_request(MEETING, layers='{"default": {')
        assert info.value.paths == ["layers"]
        assert "not valid JSON" in str(info.value)

    def test_bad_user_ids_json_names_field(self):
        with pytest.raises(RealtimeKitPayloadError) as info:
            build_track_request(MEETING, user_ids="[u1, u2]")
        assert info.value.paths == ["user_ids"]
        assert "user_ids: not valid JSON" in str(info.value)

    def test_caller_dict_not_mutated(self):
        layers = {"default": {"file_name_prefix": "x"}}
        build_track_request(MEETING, layers=layers)
        assert layers == {"default": {"file_name_prefix": "x"}}


# --------------------------------------------------------------------------------------------------
# Answers: recordings and statuses


TRACK_RECORDING = {
    "id": "rec-1",
    "status": "UPLOADED",
    "meeting_id": MEETING,
    "session_id": "sess-1",
    "invoked_time": "2026-07-01T10:00:00.000Z",
    "started_time": "2026-07-01T10:00:03.000Z",
    "stopped_time": "2026-07-01T10:30:00.000Z",
    "output_file_name": None,
    "recording_duration": 1797,
    "file_size": 123456.0,
    "download_url": [
        {
            "layer_name": "default",
            "download_urls": {
                "standup_u1_p1_mic_audio_1751364003000.webm": {"download_url": "https://r2.example/a?sig=1"},
                "standup_u2_p2_mic_audio_1751364003000.webm": {"download_url": "https://r2.example/b?sig=2"},
            },
        },
        {"layer_name": "other", "download_urls": {"x.webm": {"download_url": None}}},
    ],
    "download_url_expiry": "2026-07-08T10:30:00.000Z",
    "audio_download_url": None,
    "start_reason": {"reason": "API_CALL", "caller": {"name": "api", "type": "ORGANIZATION"}},
    "stop_reason": {"reason": "ALL_PEERS_LEFT"},
}


class TestRecording:
    def test_track_list_form(self):
        recording = Recording.model_validate(TRACK_RECORDING)
        assert recording.status is RecordingStatus.UPLOADED
        assert recording.download_links == {
            "standup_u1_p1_mic_audio_1751364003000.webm": "https://r2.example/a?sig=1",
            "standup_u2_p2_mic_audio_1751364003000.webm": "https://r2.example/b?sig=2",
        }
        assert recording.invoked_time == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
        assert recording.start_reason.reason == "API_CALL"
        assert recording.stop_reason.reason == "ALL_PEERS_LEFT"

    def test_composite_string_form(self):
        recording = Recording.model_validate(
            {
                "id": "r",
                "status": "UPLOADED",
                "output_file_name": "meeting.mp4",
                "download_url": "https://r2.example/meeting.mp4",
            }
        )
        assert recording.download_links == {"meeting.mp4": "https://r2.example/meeting.mp4"}

    def test_composite_string_form_without_file_name(self):
        recording = Recording.model_validate({"id": "r", "status": "UPLOADED", "download_url": "https://x/y"})
        assert recording.download_links == {"recording": "https://x/y"}

    def test_no_links_yet(self):
        recording = Recording.model_validate({"id": "r", "status": "RECORDING", "download_url": None})
        assert recording.download_links == {}

    def test_unknown_fields_tolerated_and_kept(self):
        data = {**TRACK_RECORDING, "new_field": {"nested": [1, 2]}, "meeting": {"id": MEETING, "title": "t"}}
        recording = Recording.model_validate(data)
        assert recording.model_extra == {
            "new_field": {"nested": [1, 2]},
            "meeting": {"id": MEETING, "title": "t"},
        }
        assert recording.to_xcom()["new_field"] == {"nested": [1, 2]}

    def test_to_xcom_is_json_and_drops_storage_secrets(self):
        data = {
            **TRACK_RECORDING,
            "storage_config": {
                "type": "aws",
                "bucket": "b",
                "region": "r",
                "access_key": ACCESS_KEY,
                "secret": SECRET,
                "password": PASSWORD,
                "private_key": PRIVATE_KEY,
            },
        }
        xcom = Recording.model_validate(data).to_xcom()
        text = json.dumps(xcom)
        for secret in ALL_SECRETS:
            assert secret not in text
        assert xcom["storage_config"] == {"type": "aws", "bucket": "b", "region": "r"}
        assert xcom["id"] == "rec-1"
        assert xcom["status"] == "UPLOADED"
        assert xcom["invoked_time"].startswith("2026-07-01T10:00:00")
        assert "download_url" not in xcom  # pre-signed links leave XCom unless asked for
        assert (
            Recording.model_validate(data).to_xcom(links=True)["download_url"][0]["layer_name"] == "default"
        )

    def test_to_xcom_drops_storage_secrets_the_service_echoes_anywhere(self):
        """Issue 18: a service echoing the request's layers (or nesting a storage config) in its answer
        puts no storage secret into XCom, even in a task that never sent them (a sensor's read)."""
        config = {"type": "sftp", "host": "h", "password": PASSWORD, "private_key": PRIVATE_KEY}
        data = {
            **TRACK_RECORDING,
            "layers": {"default": {"outputs": [{"type": "STORAGE_CONFIG", "storage_config": config}]}},
            "storage_config": {"type": "aws", "bucket": "b", "nested": {"secret": SECRET}},
            "request": [{"access_key": ACCESS_KEY}],
        }
        xcom = Recording.model_validate(data).to_xcom()
        text = json.dumps(xcom)
        for secret in ALL_SECRETS:
            assert secret not in text
        assert xcom["layers"]["default"]["outputs"][0]["storage_config"] == {"type": "sftp", "host": "h"}
        assert xcom["storage_config"] == {"type": "aws", "bucket": "b", "nested": {}}

    def test_a_status_it_does_not_know_is_kept_and_not_finished(self):
        """Issue 21: a newer service's status is read, kept by value, and finishes nothing."""
        recording = Recording.model_validate({"id": "r", "status": "ARCHIVING", "new_field": 1})
        assert recording.status.value == "ARCHIVING"
        assert not recording.status.is_known
        assert not recording.status.is_terminal
        assert not recording.status.is_capturing
        assert recording.to_xcom()["status"] == "ARCHIVING"
        assert recording.model_extra == {"new_field": 1}
        again = Recording.model_validate_json(recording.model_dump_json())
        assert again.status == recording.status
        assert Recording.model_validate({"id": "r", "status": "ARCHIVING"}).status is recording.status

    @pytest.mark.parametrize("status", ["", "   ", 42, None, "X" * 65])
    def test_a_status_that_is_no_status_is_refused(self, status):
        with pytest.raises(ValueError, match="status"):
            Recording.model_validate({"id": "r", "status": status})

    def test_active_session(self):
        session = ActiveSession.model_validate({"id": "s", "status": "LIVE", "live_participants": 3, "x": 1})
        assert session.is_live
        assert not ActiveSession.model_validate({"id": "s", "status": "ENDED"}).is_live


class TestRecordingStatus:
    @pytest.mark.parametrize(
        ("status", "terminal", "capturing"),
        [
            ("INVOKED", False, True),
            ("RECORDING", False, True),
            ("PAUSED", False, True),
            ("UPLOADING", False, False),
            ("UPLOADED", True, False),
            ("ERRORED", True, False),
        ],
    )
    def test_flags(self, status, terminal, capturing):
        assert RecordingStatus(status).is_terminal is terminal
        assert RecordingStatus(status).is_capturing is capturing

    def test_parse_many_text(self):
        assert RecordingStatus.parse_many("RECORDING, paused,uploaded") == [
            RecordingStatus.RECORDING,
            RecordingStatus.PAUSED,
            RecordingStatus.UPLOADED,
        ]

    def test_parse_many_list_and_members(self):
        assert RecordingStatus.parse_many(["errored", RecordingStatus.INVOKED]) == [
            RecordingStatus.ERRORED,
            RecordingStatus.INVOKED,
        ]

    def test_parse_many_refuses_a_status_the_service_invented_since(self):
        """An answer may carry a status this provider does not know; a filter the user writes may not."""
        assert not RecordingStatus("ARCHIVING").is_known
        with pytest.raises(ValueError, match="ARCHIVING"):
            RecordingStatus.parse_many("archiving")
        with pytest.raises(ValueError, match="ARCHIVING"):
            RecordingStatus.parse_many([RecordingStatus("ARCHIVING")])

    def test_parse_many_unknown_names_it_and_lists_known(self):
        with pytest.raises(ValueError, match="BOGUS") as info:
            RecordingStatus.parse_many("RECORDING,bogus")
        assert "known statuses: INVOKED, RECORDING, PAUSED, UPLOADING, UPLOADED, ERRORED" in str(info.value)


# --------------------------------------------------------------------------------------------------
# Every answer the cloudflare SDK's types (5.7 and later: types/realtime_kit/recording_*_response.py)
# or Cloudflare's docs allow. Written here from those types and pages; never read from elsewhere.

#: ``storage_config`` as the SDK's four union members type it: every field optional (``type`` too),
#: ``port`` a number, no ``secret``/``password``/``private_key``; member 1 requires ``access_key`` and
#: ``region`` typed ``object``.
SDK_STORAGE_CONFIGS = {
    "member0_gcs": {"type": "gcs", "bucket": "recordings", "path": "standup/", "region": "us-east1"},
    "member0_without_type": {"bucket": "recordings", "path": "standup/"},
    "member1_aws": {"type": "aws", "access_key": "AKIAEXAMPLE", "region": "us-east-1", "bucket": "b"},
    "member1_object_values": {"access_key": {"id": "k"}, "region": ["eu"], "type": "digitalocean"},
    "member2_sftp_key": {
        "type": "sftp",
        "auth_method": "KEY",
        "host": "sftp.example.com",
        "port": 22.0,
        "username": "rtk",
        "path": "/in",
    },
    "member3_sftp_password": {"type": "sftp", "auth_method": "PASSWORD", "host": "h", "port": 2222},
    "member3_without_type": {"auth_method": "PASSWORD", "host": "h", "username": "u"},
    "empty": {},
}

#: ``Data`` of ``RecordingGetOneRecordingResponse``: every field the SDK types, with its own types.
SDK_RECORDING = {
    "id": "97440c6a-140b-40a9-9499-b23fd7a3868a",
    "audio_download_url": "https://r2.example/audio.mp3?sig=1",
    "download_url": "https://r2.example/meeting.mp4?sig=1",
    "download_url_expiry": "2026-07-08T10:00:00.000Z",
    "file_size": 1048576.0,
    "invoked_time": "2026-07-01T10:00:00.000Z",
    "output_file_name": "meeting.mp4",
    "session_id": "b1a9d0e4-1c2f-4d6b-9a55-0f2c3e4d5a6b",
    "started_time": "2026-07-01T10:00:03.000Z",
    "status": "UPLOADED",
    "stopped_time": "2026-07-01T10:30:00.000Z",
    "recording_duration": 1797,
    "start_reason": {
        "caller": {"name": "api", "type": "ORGANIZATION", "user_Id": "u-1"},
        "reason": "API_CALL",
    },
    "stop_reason": {"caller": {"name": "Ann", "type": "USER", "user_Id": "u-2"}, "reason": "INTERNAL_ERROR"},
    "storage_config": None,
}

#: ``RecordingGetRecordingsResponse`` items carry a ``meeting`` object and its ``recording_config``.
SDK_LISTED_RECORDING = {
    **SDK_RECORDING,
    "meeting": {
        "id": MEETING,
        "created_at": "2026-07-01T09:00:00.000Z",
        "updated_at": "2026-07-01T09:00:00.000Z",
        "live_stream_on_start": False,
        "persist_chat": False,
        "record_on_start": False,
        "session_keep_alive_time_in_secs": 60,
        "status": "ACTIVE",
        "summarize_on_end": False,
        "title": "standup",
    },
    "recording_config": {
        "audio_config": {"channel": "stereo", "codec": "AAC", "export_file": True},
        "file_name_prefix": "standup",
        "max_seconds": 3600,
        "realtimekit_bucket_config": {"enabled": True},
        "storage_config": {"type": "aws", "access_key": "AKIAEXAMPLE", "region": "us-east-1"},
        "video_config": {"codec": "H264", "export_file": True, "height": 720, "width": 1280},
    },
}

#: The track-recording guide's answer: ``download_url`` as the per-layer list.
DOCS_TRACK_RECORDING = {
    "id": "rec-track-1",
    "status": "UPLOADED",
    "meeting_id": MEETING,
    "invoked_time": "2026-07-01T10:00:00Z",
    "download_url": [
        {
            "layer_name": "default",
            "download_urls": {
                "default_u1_p1_mic_audio_1751364003000.webm": {"download_url": "https://r2.example/a?sig=1"},
                "default_u2_p2_mic_audio_1751364003000.webm": {"download_url": "https://r2.example/b?sig=2"},
            },
        }
    ],
    "download_url_expiry": "2026-07-08T10:00:00Z",
}


class TestAnswersTheSdkAndDocsAllow:
    @pytest.mark.parametrize("config", SDK_STORAGE_CONFIGS.values(), ids=SDK_STORAGE_CONFIGS.keys())
    def test_every_storage_config_variant_parses(self, config):
        recording = Recording.model_validate({**SDK_RECORDING, "storage_config": config})
        assert recording.storage_config == config
        assert recording.to_xcom()["storage_config"] == {k: v for k, v in config.items() if k != "access_key"}

    def test_the_sdks_recording_parses_with_every_field(self):
        recording = Recording.model_validate(SDK_RECORDING)
        assert recording.status is RecordingStatus.UPLOADED
        assert recording.download_links == {"meeting.mp4": "https://r2.example/meeting.mp4?sig=1"}
        assert recording.stop_reason.caller.user_Id == "u-2"
        assert recording.file_size == 1048576.0

    def test_a_listed_recording_keeps_its_meeting_and_config(self):
        from airflow_provider_rtk.models import RecordingPage

        page = RecordingPage.from_answer(
            [SDK_LISTED_RECORDING], {"page_no": 1, "total_count": 1.0, "start_offset": 0.0, "end_offset": 1.0}
        )
        assert not page.unreadable
        (recording,) = page.recordings
        assert recording.model_extra["meeting"]["title"] == "standup"
        assert "access_key" not in json.dumps(recording.to_xcom())

    @pytest.mark.parametrize(
        ("download_url", "links"),
        [
            ("https://r2.example/x.webm", {"track.webm": "https://r2.example/x.webm"}),
            (
                DOCS_TRACK_RECORDING["download_url"],
                {
                    "default_u1_p1_mic_audio_1751364003000.webm": "https://r2.example/a?sig=1",
                    "default_u2_p2_mic_audio_1751364003000.webm": "https://r2.example/b?sig=2",
                },
            ),
            ([], {}),
            (None, {}),
        ],
        ids=["sdk-string", "docs-list", "empty-list", "none"],
    )
    def test_a_track_recordings_download_url_in_either_form(self, download_url, links):
        data = {**DOCS_TRACK_RECORDING, "output_file_name": "track.webm", "download_url": download_url}
        assert Recording.model_validate(data).download_links == links

    def test_the_sdks_track_start_answer_parses(self):
        """``RecordingStartTrackRecordingResponse.data.recording``: the SDK's fields, no meeting id."""
        recording = Recording.model_validate(
            {k: SDK_RECORDING[k] for k in ("id", "invoked_time", "output_file_name", "status")}
            | {"status": "INVOKED", "download_url": None}
        )
        assert recording.status is RecordingStatus.INVOKED
        assert recording.download_links == {}
