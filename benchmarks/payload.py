"""Benchmark 2: validating a track-recording body (pydantic models) against ``jsonschema`` doing the same.

The peer builds the same body and validates it with a JSON Schema written here from the rules the models
enforce (field types and patterns, unknown fields rejected, sftp needs host and username, auth method
needs its secret, the two body generations cannot be mixed, ``max_seconds`` needs layers). Before
timing, both are run on valid and invalid bodies and must agree on which ones they accept.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import Row

SECTION = "2. Payload validation (per call, in-process)"

_NULL = {"type": "null"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (``None`` is how the models spell "not set"); the cheap form, one type list."""
    return {**schema, "type": [schema["type"], "null"]}


_ID = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$"}
_NON_EMPTY = {"type": "string", "minLength": 1}
_SECRET = {"type": "string"}


def _when(field: str, value: Any) -> dict[str, Any]:
    """``field`` is present and equals ``value``."""
    return {"required": [field], "properties": {field: {"const": value}}}


def _present(field: str, kind: str) -> dict[str, Any]:
    """``field`` is present and not null."""
    return {"required": [field], "properties": {field: {"type": kind}}}


STORAGE_CONFIG: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"enum": ["aws", "azure", "digitalocean", "gcs", "sftp"]},
        "bucket": _nullable(_NON_EMPTY),
        "region": _nullable(_NON_EMPTY),
        "path": _nullable({"type": "string"}),
        "host": _nullable(_NON_EMPTY),
        "port": _nullable({"type": "integer", "minimum": 1, "maximum": 65_535}),
        "username": _nullable(_NON_EMPTY),
        "auth_method": {"enum": ["KEY", "PASSWORD", None]},
        "access_key": _nullable(_SECRET),
        "secret": _nullable(_SECRET),
        "password": _nullable(_SECRET),
        "private_key": _nullable(_SECRET),
    },
    "allOf": [
        {
            "if": _when("type", "sftp"),
            "then": {"allOf": [_present("host", "string"), _present("username", "string")]},
            "else": {"properties": {"auth_method": _NULL}},
        },
        {"if": _when("auth_method", "KEY"), "then": _present("private_key", "string")},
        {"if": _when("auth_method", "PASSWORD"), "then": _present("password", "string")},
    ],
}

TRACK_OUTPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["REALTIMEKIT_BUCKET", "STORAGE_CONFIG"]},
        "storage_config": _nullable(STORAGE_CONFIG),
    },
    "if": _when("type", "STORAGE_CONFIG"),
    "then": _present("storage_config", "object"),
    "else": {"properties": {"storage_config": _NULL}},
}

TRACK_LAYER: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "file_name_prefix": _nullable({"type": "string", "pattern": r"^[-\w\s]+$", "maxLength": 256}),
        "media_kind": {"enum": ["audio", None]},
        "outputs": _nullable({"type": "array", "minItems": 1, "items": TRACK_OUTPUT}),
    },
}


def _some_layer_has(field: str, kind: str) -> dict[str, Any]:
    """``layers`` is an object and at least one layer sets ``field``."""
    return {
        "required": ["layers"],
        "properties": {
            "layers": {"type": "object", "not": {"additionalProperties": {"not": _present(field, kind)}}}
        },
    }


LEGACY_FIELDS = {"anyOf": [_present("max_seconds", "integer"), _some_layer_has("outputs", "array")]}
CURRENT_FIELDS = {"anyOf": [_present("user_ids", "array"), _some_layer_has("media_kind", "string")]}

TRACK_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["meeting_id"],
    "properties": {
        "meeting_id": _ID,
        "layers": _nullable(
            {
                "type": "object",
                "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": r"^[-\w]+$"},
                "additionalProperties": TRACK_LAYER,
            }
        ),
        "max_seconds": _nullable({"type": "integer", "exclusiveMinimum": 0, "maximum": 86_400}),
        "user_ids": _nullable(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"type": "string", "minLength": 1, "maxLength": 256},
            }
        ),
    },
    "allOf": [
        {"not": {"allOf": [LEGACY_FIELDS, CURRENT_FIELDS]}},
        {
            "if": _present("max_seconds", "integer"),
            "then": {
                "required": ["layers"],
                "properties": {"layers": {"type": "object", "minProperties": 1}},
            },
        },
    ],
}

LEGACY_LAYERS: dict[str, Any] = {
    "default": {
        "file_name_prefix": "standup_20261126",
        "outputs": [
            {
                "type": "STORAGE_CONFIG",
                "storage_config": {
                    "type": "sftp",
                    "host": "sftp.example.com",
                    "port": 22,
                    "username": "recorder",
                    "auth_method": "PASSWORD",
                    "password": "s3cr3t-password",
                    "path": "recordings/standup/",
                },
            }
        ],
    }
}
CURRENT_LAYERS: dict[str, Any] = {"default": {"file_name_prefix": "standup_20261126", "media_kind": "audio"}}
USER_IDS = ["user-1", "user-2", "user-3"]
MEETING_ID = "bbb8ac2c-b5ac-4c7e-8d3b-8c2d1c2f6f3a"

#: (meeting_id, layers, max_seconds, user_ids) of the timed calls.
LEGACY_CALL = (MEETING_ID, LEGACY_LAYERS, 3600, None)
CURRENT_CALL = (MEETING_ID, CURRENT_LAYERS, None, USER_IDS)
INVALID_LAYERS = copy.deepcopy(LEGACY_LAYERS)
del INVALID_LAYERS["default"]["outputs"][0]["storage_config"]["host"]
INVALID_CALL = (MEETING_ID, INVALID_LAYERS, 3600, None)


def _layers_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    layers = copy.deepcopy(LEGACY_LAYERS)
    change(layers["default"])
    return layers


def _sftp(layer: dict[str, Any]) -> dict[str, Any]:
    return layer["outputs"][0]["storage_config"]  # type: ignore[no-any-return]


#: (what, call, valid?) on which the peer must agree with the models.
AGREEMENT_CASES: list[tuple[str, tuple[Any, Any, Any, Any], bool]] = [
    ("legacy sftp", LEGACY_CALL, True),
    ("current", CURRENT_CALL, True),
    ("bare meeting id", (MEETING_ID, None, None, None), True),
    ("legacy bucket", (MEETING_ID, {"d": {"outputs": [{"type": "REALTIMEKIT_BUCKET"}]}}, 60, None), True),
    ("sftp without host", INVALID_CALL, False),
    ("generations mixed", (MEETING_ID, LEGACY_LAYERS, None, USER_IDS), False),
    ("max_seconds True", (MEETING_ID, LEGACY_LAYERS, True, None), False),
    ("max_seconds 0", (MEETING_ID, LEGACY_LAYERS, 0, None), False),
    ("max_seconds without layers", (MEETING_ID, None, 60, None), False),
    ("unknown layer field", (MEETING_ID, _layers_with(lambda lay: lay.update(codec="vp8")), 60, None), False),
    (
        "bad prefix",
        (MEETING_ID, _layers_with(lambda lay: lay.update(file_name_prefix="a/b")), 60, None),
        False,
    ),
    (
        "auth_method on aws",
        (MEETING_ID, _layers_with(lambda lay: _sftp(lay).update(type="aws")), 60, None),
        False,
    ),
    (
        "PASSWORD without password",
        (MEETING_ID, _layers_with(lambda lay: _sftp(lay).pop("password")), 60, None),
        False,
    ),
    (
        "STORAGE_CONFIG without config",
        (MEETING_ID, _layers_with(lambda lay: lay["outputs"][0].pop("storage_config")), 60, None),
        False,
    ),
    ("meeting id with a slash", ("a/b", CURRENT_LAYERS, None, None), False),
    ("empty user_ids", (MEETING_ID, CURRENT_LAYERS, None, []), False),
]


def make_peer() -> Callable[..., dict[str, Any]]:
    """The peer: build the same body, validate it with ``jsonschema``, raise naming every bad field."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(TRACK_REQUEST_SCHEMA)
    validator.check_schema(TRACK_REQUEST_SCHEMA)

    def peer_build(meeting_id: Any, layers: Any = None, max_seconds: Any = None, user_ids: Any = None) -> Any:
        body: dict[str, Any] = {
            "meeting_id": meeting_id.strip() if isinstance(meeting_id, str) else meeting_id
        }
        if layers is not None:
            body["layers"] = layers
        if max_seconds is not None:
            body["max_seconds"] = max_seconds
        if user_ids is not None:
            body["user_ids"] = user_ids
        errors = list(validator.iter_errors(body))
        if errors:
            raise ValueError("; ".join(f"{error.json_path}: {error.message}" for error in errors))
        return body

    return peer_build


def _accepts(func: Callable[..., Any], call: tuple[Any, ...]) -> bool:
    try:
        func(*call)
    except ValueError:  # RealtimeKitPayloadError is a ValueError too
        return False
    return True


def per_call_seconds(func: Callable[[], Any], target: float = 0.03) -> Callable[[], float]:
    """A sampler: seconds per call of ``func``, over a loop calibrated to last about ``target``."""
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            func()
        if time.perf_counter() - start >= target / 4:
            break
        loops *= 2
    loops *= 4

    def sample() -> float:
        start = time.perf_counter()
        for _ in range(loops):
            func()
        return (time.perf_counter() - start) / loops

    return sample


def _swallow(func: Callable[..., Any], call: tuple[Any, ...]) -> Callable[[], None]:
    def run_invalid() -> None:
        try:
            func(*call)
        except ValueError:
            return
        raise AssertionError("the invalid body was accepted")

    return run_invalid


def run(*, quick: bool) -> tuple[list[Row], list[str], list[str]]:
    """The rows of benchmark 2, context lines and findings."""
    from airflow_provider_rtk.models import build_track_request

    try:
        peer = make_peer()
    except ImportError as error:
        return [], [f"2 skipped: jsonschema is not importable ({error})"], []

    disagreements = [
        f"{what} (models {'accept' if _accepts(build_track_request, call) else 'reject'}, "
        f"jsonschema {'accepts' if _accepts(peer, call) else 'rejects'})"
        for what, call, _ in AGREEMENT_CASES
        if _accepts(build_track_request, call) != _accepts(peer, call)
    ]
    wrong = [what for what, call, valid in AGREEMENT_CASES if _accepts(build_track_request, call) != valid]
    context = [
        f"jsonschema peer agrees with the models on {len(AGREEMENT_CASES) - len(disagreements)} of "
        f"{len(AGREEMENT_CASES)} bodies (valid and invalid) checked before timing"
    ]
    findings = [f"peer and models disagree: {', '.join(disagreements)}"] if disagreements else []
    findings += [f"models gave an unexpected verdict on: {', '.join(wrong)}"] if wrong else []

    cases = [
        (
            "legacy body, sftp storage_config",
            lambda: build_track_request(*LEGACY_CALL),
            lambda: peer(*LEGACY_CALL),
        ),
        ("current body, user_ids", lambda: build_track_request(*CURRENT_CALL), lambda: peer(*CURRENT_CALL)),
        (
            "invalid (sftp without host): error",
            _swallow(build_track_request, INVALID_CALL),
            _swallow(peer, INVALID_CALL),
        ),
    ]
    rounds = 3 if quick else 9
    rows = []
    for name, ours_func, peer_func in cases:
        ours_sample, peer_sample = per_call_seconds(ours_func), per_call_seconds(peer_func)
        ours: list[float] = []
        theirs: list[float] = []
        for round_no in range(rounds):  # alternate who goes first
            pair = (ours_sample, peer_sample) if round_no % 2 == 0 else (peer_sample, ours_sample)
            first, second = pair[0](), pair[1]()
            ours.append(first if round_no % 2 == 0 else second)
            theirs.append(second if round_no % 2 == 0 else first)
        rows.append(
            Row(SECTION, f"build_track_request: {name}", ours, theirs, "jsonschema, same rules", unit="µs")
        )
    return rows, context, findings
