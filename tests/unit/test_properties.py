"""Property tests: valid bodies (either generation) round-trip; a single corruption is caught at its path.

Strategies are built from the API rules; each corruption knows the one path it breaks and draws bodies
on which it can act. Runs are derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.models import build_track_request, parse_track_request

SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Per corruption: there are many corruptions, each gets fewer examples.
CORRUPTION_SETTINGS = settings(SETTINGS, max_examples=25)

# ------------------------------------------------------------------------------------------------
# Valid bodies, from the rules

meeting_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True)
layer_names = st.from_regex(r"[-A-Za-z0-9_]{1,16}", fullmatch=True)
prefixes = st.from_regex(r"[-A-Za-z0-9_ ]{1,24}", fullmatch=True)
user_ids = st.text(min_size=1, max_size=256)
texts = st.text(min_size=1, max_size=24)
any_texts = st.text(max_size=24)
SECRET_MARK = "SECRET~"
#: Secrets carry a mark, so a test can tell that none of them is shown (empty secrets are allowed too).
secrets = st.one_of(st.just(""), st.text(max_size=16).map(lambda text: f"{SECRET_MARK}{text}"))
seconds = st.integers(min_value=1, max_value=86_400)
ports = st.integers(min_value=1, max_value=65_535)
AUTH_METHODS = (None, "KEY", "PASSWORD")

current_layers = st.fixed_dictionaries(
    {}, optional={"file_name_prefix": prefixes, "media_kind": st.just("audio")}
)


@st.composite
def current_bodies(draw: st.DrawFn, layers: bool | None = None, with_user_ids: bool | None = None):
    body: dict[str, Any] = {"meeting_id": draw(meeting_ids)}
    if layers if layers is not None else draw(st.booleans()):
        body["layers"] = draw(
            st.dictionaries(layer_names, current_layers, min_size=1 if layers else 0, max_size=3)
        )
    if with_user_ids if with_user_ids is not None else draw(st.booleans()):
        body["user_ids"] = draw(
            st.one_of(
                st.lists(user_ids, min_size=1, max_size=5),
                st.lists(st.text(min_size=1, max_size=3), min_size=95, max_size=100),
            )
        )
    return body


bucket_configs = st.fixed_dictionaries(
    {"type": st.sampled_from(["aws", "azure", "digitalocean", "gcs"])},
    optional={
        "bucket": texts,
        "region": texts,
        "path": any_texts,
        "access_key": secrets,
        "secret": secrets,
        "port": ports,
    },
)


@st.composite
def sftp_configs(draw: st.DrawFn, auth_methods: tuple[str | None, ...] = AUTH_METHODS) -> dict[str, Any]:
    config: dict[str, Any] = {"type": "sftp", "host": draw(texts), "username": draw(texts)}
    config.update(draw(st.fixed_dictionaries({}, optional={"port": ports, "path": any_texts})))
    auth = draw(st.sampled_from(auth_methods))
    if auth is not None:
        config["auth_method"] = auth
    if auth == "KEY" or draw(st.booleans()):
        config["private_key"] = draw(secrets)
    if auth == "PASSWORD" or draw(st.booleans()):
        config["password"] = draw(secrets)
    return config


storage_configs = st.one_of(bucket_configs, sftp_configs())
outputs = st.one_of(
    st.just({}),
    st.just({"type": "REALTIMEKIT_BUCKET"}),
    st.fixed_dictionaries({"type": st.just("STORAGE_CONFIG"), "storage_config": storage_configs}),
)


@st.composite
def legacy_layers(draw: st.DrawFn) -> dict[str, Any]:
    layer: dict[str, Any] = {"outputs": draw(st.lists(outputs, min_size=1, max_size=3))}
    if draw(st.booleans()):
        layer["file_name_prefix"] = draw(prefixes)
    return layer


@st.composite
def legacy_bodies(draw: st.DrawFn, with_max_seconds: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "meeting_id": draw(meeting_ids),
        "layers": draw(st.dictionaries(layer_names, legacy_layers(), min_size=1, max_size=3)),
    }
    if with_max_seconds if with_max_seconds is not None else draw(st.booleans()):
        body["max_seconds"] = draw(seconds)
    return body


@st.composite
def legacy_bodies_with(draw: st.DrawFn, config: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A legacy body with (at least) one STORAGE_CONFIG output holding a config from ``config``."""
    body = draw(legacy_bodies())
    name = draw(st.sampled_from(sorted(body["layers"])))
    layer_outputs = body["layers"][name]["outputs"]
    index = draw(st.integers(min_value=0, max_value=len(layer_outputs)))
    layer_outputs.insert(index, {"type": "STORAGE_CONFIG", "storage_config": draw(config)})
    return body


bodies = st.one_of(current_bodies(), legacy_bodies())


def is_legacy(body: dict[str, Any]) -> bool:
    return "max_seconds" in body or any("outputs" in layer for layer in body.get("layers", {}).values())


# ------------------------------------------------------------------------------------------------
# Round trips


@SETTINGS
@given(current_bodies())
def test_current_bodies_round_trip(body):
    request = parse_track_request(copy.deepcopy(body))
    assert request.to_api_body() == body
    assert request.generation == "current"
    assert request.secret_values() == []


@SETTINGS
@given(st.one_of(legacy_bodies(), legacy_bodies_with(storage_configs)))
def test_legacy_bodies_round_trip(body):
    request = parse_track_request(copy.deepcopy(body))
    assert request.to_api_body() == body
    assert request.generation == "legacy"
    expected = [
        output["storage_config"][name]
        for layer in body["layers"].values()
        for output in layer["outputs"]
        if "storage_config" in output
        for name in ("access_key", "secret", "password", "private_key")
        if output["storage_config"].get(name)
    ]
    assert sorted(request.secret_values()) == sorted(expected)
    shown = repr(request) + str(request) + request.model_dump_json() + repr(request.model_dump())
    assert SECRET_MARK not in shown
    assert (SECRET_MARK in json.dumps(request.to_api_body())) == bool(expected)


@SETTINGS
@given(bodies)
def test_templated_text_input_round_trips(body):
    """What an operator gets after templating (JSON text, numeric text) builds the same body."""
    request = build_track_request(
        meeting_id=f" {body['meeting_id']} ",
        layers=json.dumps(body["layers"]) if "layers" in body else None,
        max_seconds=str(body["max_seconds"]) if "max_seconds" in body else None,
        user_ids=json.dumps(body["user_ids"]) if "user_ids" in body else None,
    )
    assert request.to_api_body() == body
    assert request.generation == ("legacy" if is_legacy(body) else "current")


# ------------------------------------------------------------------------------------------------
# Corruptions: each draws a body it can act on, breaks one thing in a copy, and says which path it broke.

Corruption = Callable[[st.DataObject, dict[str, Any]], tuple[dict[str, Any], str]]
CORRUPTIONS: dict[str, tuple[st.SearchStrategy[dict[str, Any]], Corruption]] = {}


def corruption(base: st.SearchStrategy[dict[str, Any]] = bodies):
    def register(function: Corruption) -> Corruption:
        CORRUPTIONS[function.__name__] = (base, function)
        return function

    return register


def pick_layer(
    data: st.DataObject, body: dict[str, Any], where: Callable[[dict], bool] = lambda _: True
) -> str:
    names = [name for name, layer in body["layers"].items() if where(layer)]
    return data.draw(st.sampled_from(names), label="layer")


def pick_output(data: st.DataObject, body: dict[str, Any], where: Callable[[dict], bool] = lambda _: True):
    choices = [
        (name, index)
        for name, layer in body["layers"].items()
        for index, output in enumerate(layer.get("outputs", []))
        if where(output)
    ]
    name, index = data.draw(st.sampled_from(choices), label="output")
    return body["layers"][name]["outputs"][index], f"layers.{name}.outputs[{index}]"


def has_config(output: dict[str, Any]) -> bool:
    return "storage_config" in output


def config_of_type(*types: str) -> Callable[[dict], bool]:
    return lambda output: has_config(output) and output["storage_config"]["type"] in types


def config_with_auth(method: str) -> Callable[[dict], bool]:
    return lambda output: has_config(output) and output["storage_config"].get("auth_method") == method


UNKNOWN_NAMES = st.sampled_from(["foo", "prefix", "bucket_name", "secret_key", "Layers", "x-y"])
WITH_LAYERS = st.one_of(current_bodies(layers=True), legacy_bodies())
WITH_CONFIG = legacy_bodies_with(storage_configs)


@corruption()
def bad_meeting_id(data, body):
    body["meeting_id"] = data.draw(
        st.sampled_from(["", "a/b", "../x", " x", "x y", "-x", "m" * 257, None, 5])
    )
    return body, "meeting_id"


@corruption()
def unknown_top_level_field(data, body):
    name = data.draw(st.sampled_from(["foo", "layer", "userIds", "maxSeconds", "record_video"]))
    body[name] = data.draw(st.sampled_from([1, "x", None, []]))
    return body, name


@corruption()
def layers_not_a_mapping(data, body):
    body["layers"] = data.draw(st.sampled_from([[], ["default"], "default", 5, True]))
    return body, "layers"


@corruption()
def bad_layer_name(data, body):
    name = data.draw(st.sampled_from(["a/b", "bad name", "x.y", "n" * 65]))
    body.setdefault("layers", {})[name] = {}
    return body, f"layers.{name}.[key]"


@corruption(WITH_LAYERS)
def layer_not_a_mapping(data, body):
    name = pick_layer(data, body)
    body["layers"][name] = data.draw(st.sampled_from(["x", 1, [], None]))
    return body, f"layers.{name}"


@corruption(WITH_LAYERS)
def bad_file_name_prefix(data, body):
    name = pick_layer(data, body)
    body["layers"][name]["file_name_prefix"] = data.draw(
        st.sampled_from(["a/b", "", "x.y", "a:b", 5, "p" * 257])
    )
    return body, f"layers.{name}.file_name_prefix"


@corruption(WITH_LAYERS)
def unknown_layer_field(data, body):
    name = pick_layer(data, body)
    field = data.draw(UNKNOWN_NAMES)
    body["layers"][name][field] = "x"
    return body, f"layers.{name}.{field}"


@corruption(current_bodies(layers=True))
def bad_media_kind(data, body):
    name = pick_layer(data, body)
    body["layers"][name]["media_kind"] = data.draw(st.sampled_from(["video", "AUDIO", "", 1]))
    return body, f"layers.{name}.media_kind"


@corruption(current_bodies())
def bad_user_ids(data, body):
    body["user_ids"] = data.draw(st.sampled_from([[], [f"u{i}" for i in range(101)], "u1", 5, {"u": 1}]))
    return body, "user_ids"


@corruption(current_bodies(with_user_ids=True))
def bad_user_id(data, body):
    index = data.draw(st.integers(min_value=0, max_value=len(body["user_ids"]) - 1))
    body["user_ids"][index] = data.draw(st.sampled_from(["", "u" * 257, 5, None]))
    return body, f"user_ids[{index}]"


@corruption(current_bodies(with_user_ids=True))
def mix_max_seconds_into_current(data, body):
    body["max_seconds"] = data.draw(seconds)
    body.setdefault("layers", {"default": {}})
    return body, "user_ids"


@corruption(legacy_bodies())
def mix_user_ids_into_legacy(data, body):
    body["user_ids"] = data.draw(st.lists(user_ids, min_size=1, max_size=3))
    return body, "user_ids"


@corruption(legacy_bodies())
def mix_media_kind_into_legacy(data, body):
    name = pick_layer(data, body)
    body["layers"][name]["media_kind"] = "audio"
    return body, f"layers.{name}.media_kind"


@corruption(legacy_bodies(with_max_seconds=True))
def bad_max_seconds(data, body):
    body["max_seconds"] = data.draw(st.sampled_from([0, -1, 86_401, 10**9, True, "abc", 1.5, [60]]))
    return body, "max_seconds"


@corruption(legacy_bodies(with_max_seconds=True))
def legacy_without_layers(data, body):
    del body["layers"]
    return body, "layers"


@corruption(legacy_bodies())
def empty_outputs(data, body):
    name = pick_layer(data, body)
    body["layers"][name]["outputs"] = []
    return body, f"layers.{name}.outputs"


@corruption(legacy_bodies())
def bad_output_type(data, body):
    output, path = pick_output(data, body)
    output["type"] = data.draw(st.sampled_from(["S3", "storage_config", "", 1]))
    return body, f"{path}.type"


@corruption(legacy_bodies())
def unknown_output_field(data, body):
    output, path = pick_output(data, body)
    field = data.draw(UNKNOWN_NAMES)
    output[field] = "x"
    return body, f"{path}.{field}"


@corruption(WITH_CONFIG)
def storage_output_without_config(data, body):
    output, path = pick_output(data, body, has_config)
    del output["storage_config"]
    return body, f"{path}.storage_config"


@corruption(WITH_CONFIG)
def bucket_output_with_config(data, body):
    output, path = pick_output(data, body, has_config)
    if data.draw(st.booleans()):
        output["type"] = "REALTIMEKIT_BUCKET"
    else:
        del output["type"]
    return body, f"{path}.storage_config"


@corruption(WITH_CONFIG)
def bad_storage_type(data, body):
    output, path = pick_output(data, body, has_config)
    choice = data.draw(st.sampled_from(["ftp", "AWS", "s3", "", None, "(missing)"]))
    if choice == "(missing)":
        del output["storage_config"]["type"]
    else:
        output["storage_config"]["type"] = choice
    return body, f"{path}.storage_config.type"


@corruption(WITH_CONFIG)
def unknown_storage_field(data, body):
    output, path = pick_output(data, body, has_config)
    field = data.draw(UNKNOWN_NAMES)
    output["storage_config"][field] = "x"
    return body, f"{path}.storage_config.{field}"


@corruption(WITH_CONFIG)
def bad_port(data, body):
    output, path = pick_output(data, body, has_config)
    output["storage_config"]["port"] = data.draw(st.sampled_from([0, -22, 65_536, 70_000, "x", True, 22.5]))
    return body, f"{path}.storage_config.port"


@corruption(WITH_CONFIG)
def empty_required_text(data, body):
    output, path = pick_output(data, body, has_config)
    field = data.draw(st.sampled_from(["bucket", "region", "host", "username"]))
    output["storage_config"][field] = ""
    return body, f"{path}.storage_config.{field}"


@corruption(legacy_bodies_with(sftp_configs()))
def sftp_missing_required(data, body):
    output, path = pick_output(data, body, config_of_type("sftp"))
    field = data.draw(st.sampled_from(["host", "username"]))
    del output["storage_config"][field]
    return body, f"{path}.storage_config.{field}"


@corruption(legacy_bodies_with(sftp_configs(auth_methods=("KEY",))))
def key_without_private_key(data, body):
    output, path = pick_output(data, body, config_with_auth("KEY"))
    del output["storage_config"]["private_key"]
    return body, f"{path}.storage_config.private_key"


@corruption(legacy_bodies_with(sftp_configs(auth_methods=("PASSWORD",))))
def password_auth_without_password(data, body):
    output, path = pick_output(data, body, config_with_auth("PASSWORD"))
    del output["storage_config"]["password"]
    return body, f"{path}.storage_config.password"


@corruption(legacy_bodies_with(bucket_configs))
def auth_method_off_sftp(data, body):
    output, path = pick_output(data, body, config_of_type("aws", "azure", "digitalocean", "gcs"))
    output["storage_config"]["auth_method"] = data.draw(st.sampled_from(["KEY", "PASSWORD"]))
    return body, f"{path}.storage_config.auth_method"


@corruption(WITH_CONFIG)
def bad_auth_method(data, body):
    output, path = pick_output(data, body, has_config)
    output["storage_config"]["auth_method"] = data.draw(st.sampled_from(["TOKEN", "key", "", 1]))
    return body, f"{path}.storage_config.auth_method"


def test_corruption_list_covers_the_rules():
    assert len(CORRUPTIONS) >= 25


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_single_corruption_is_rejected_at_its_path(name):
    base, corrupt = CORRUPTIONS[name]

    @CORRUPTION_SETTINGS
    @given(body=base, data=st.data())
    def check(body, data):
        parse_track_request(copy.deepcopy(body))  # the base really is valid
        broken, path = corrupt(data, copy.deepcopy(body))
        with pytest.raises(RealtimeKitPayloadError) as info:
            parse_track_request(broken)
        assert path in info.value.paths, (name, info.value.paths)
        assert f"{path}: " in str(info.value)

    check()
