"""The emulator's own request validation, written from the API description (not the provider's models).

Every problem is reported with its field path, the way the API names fields
(``layers.default.outputs[0].storage_config.host``, ``user_ids[0]``; ``(body)`` for the body itself),
and a 400 lists them all: ``Invalid track recording request: meeting_id: is required; ...``.

Fields the description does not list are refused by default; ``unknown_fields="ignore"`` accepts them
(the service's behaviour there is not documented).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_rtk.emulator.api_facts import (
    FILE_NAME_PREFIX_PATTERN,
    KEEP_ALIVE_RANGE,
    MAX_RECORDING_SECONDS,
    MAX_USER_ID_LENGTH,
    MAX_USER_IDS,
    MEDIA_KINDS,
    MIN_COMPOSITE_SECONDS,
    OUTPUT_TYPES,
    SECRET_STORAGE_FIELDS,
    SFTP_AUTH_METHODS,
    STORAGE_FIELDS,
    STORAGE_TYPES,
    RecordingAction,
)
from airflow_provider_rtk.emulator.messages import ApiError

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.settings import UnknownFields

Generation = Literal["current", "legacy"]

_PREFIX = re.compile(FILE_NAME_PREFIX_PATTERN, re.ASCII)
_CURRENT_TRACK_FIELDS = ("meeting_id", "layers", "user_ids")
_LEGACY_TRACK_FIELDS = ("meeting_id", "layers", "max_seconds")
_CURRENT_LAYER_FIELDS = ("file_name_prefix", "media_kind")
_LEGACY_LAYER_FIELDS = ("file_name_prefix", "outputs")
_COMPOSITE_OBJECTS = (
    "audio_config",
    "interactive_config",
    "realtimekit_bucket_config",
    "rtmp_out_config",
    "video_config",
)
_COMPOSITE_FIELDS = (
    "meeting_id",
    "allow_multiple_recordings",
    "file_name_prefix",
    "max_seconds",
    "storage_config",
    "url",
    *_COMPOSITE_OBJECTS,
)
_MEETING_FLAGS = (
    "record_on_start",
    "live_stream_on_start",
    "persist_chat",
    "summarize_on_end",
    "transcribe_on_end",
)


def child(path: str, key: str | int) -> str:
    """The path of ``key`` below ``path``: ``layers`` + ``default`` -> ``layers.default``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


@dataclass
class Checker:
    """Collects every problem of one body; the ``*_at`` methods return the value, or ``None`` if bad."""

    what: str
    unknown_fields: UnknownFields = "reject"
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.problems.append((path or "(body)", message))

    def error(self) -> ApiError:
        listing = "; ".join(f"{path}: {message}" for path, message in self.problems)
        return ApiError(400, f"Invalid {self.what}: {listing}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise self.error()

    def object_at(
        self,
        value: Any,
        path: str,
        known: Collection[str] | None,
        required: Collection[str] = (),
        unknown_hint: str = "",
    ) -> dict[str, Any] | None:
        """A JSON object with ``required`` fields; fields outside ``known`` (unless ``None``) refused."""
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return None
        for name in required:
            if name not in value:
                self.add(child(path, name), "is required")
        if known is not None and self.unknown_fields == "reject":
            for name in value:
                if name not in known:
                    self.add(child(path, name), f"is not a field of this object{unknown_hint}")
        return value

    def string_at(
        self, value: Any, path: str, *, min_length: int = 0, max_length: int | None = None
    ) -> str | None:
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return None
        if len(value) < min_length:
            self.add(path, "must not be empty" if min_length == 1 else f"needs {min_length}+ characters")
            return None
        if max_length is not None and len(value) > max_length:
            self.add(path, f"must be at most {max_length} characters long")
            return None
        return value

    def choice_at(self, value: Any, path: str, choices: Collection[str]) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.add(path, f"must be one of {', '.join(choices)}")
            return None
        return value

    def number_at(
        self,
        value: Any,
        path: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        whole: bool = False,
        exclusive_minimum: bool = False,
    ) -> float | None:
        """A JSON number (``true``/``false`` are not numbers) within the bounds."""
        kind = "a whole number" if whole else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.add(path, f"must be {kind}")
            return None
        if whole and value != int(value):
            self.add(path, f"must be {kind}")
            return None
        low_ok = minimum is None or (value > minimum if exclusive_minimum else value >= minimum)
        if not low_ok or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{'above' if exclusive_minimum else 'at least'} {minimum:g}"
            high = "" if maximum is None else f"at most {maximum:g}"
            self.add(path, f"must be {kind} {' and '.join(part for part in (low, high) if part)}")
            return None
        return float(value)

    def boolean_at(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.add(path, "must be true or false")
            return None
        return value

    def array_at(
        self, value: Any, path: str, *, min_items: int = 0, max_items: int | None = None
    ) -> list[Any]:
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return []
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            upper = f"{max_items}" if max_items is not None else "any number of"
            self.add(path, f"must hold {min_items} to {upper} items")
        return value

    def prefix_at(self, value: Any, path: str, *, pattern: bool) -> str | None:
        text = self.string_at(value, path)
        if text is not None and pattern and not _PREFIX.fullmatch(text):
            self.add(path, f"must match {FILE_NAME_PREFIX_PATTERN} (letters, digits, _, -, spaces)")
            return None
        return text

    def storage_config_at(self, value: Any, path: str) -> dict[str, Any] | None:
        """A ``storage_config``: ``type`` required; sftp needs ``host`` and ``username``, and the
        secret its ``auth_method`` names; only sftp takes an ``auth_method``."""
        config = self.object_at(value, path, STORAGE_FIELDS, required=("type",))
        if config is None:
            return None
        kind = (
            self.choice_at(config["type"], child(path, "type"), STORAGE_TYPES) if "type" in config else None
        )
        for name in STORAGE_FIELDS:
            if name in ("type", "port", "auth_method") or name not in config:
                continue
            self.string_at(config[name], child(path, name), min_length=0 if name == "path" else 1)
        if "port" in config:
            self.number_at(config["port"], child(path, "port"), minimum=1, maximum=65_535, whole=True)
        method = config.get("auth_method")
        if method is not None:
            self.choice_at(method, child(path, "auth_method"), SFTP_AUTH_METHODS)
        if kind == "sftp":
            for needed in ("host", "username"):
                if needed not in config:
                    self.add(child(path, needed), "is required for sftp storage")
            secret = {"KEY": "private_key", "PASSWORD": "password"}.get(method or "")
            if secret and secret not in config:
                self.add(child(path, secret), f"is required when auth_method is {method}")
        elif kind is not None and "auth_method" in config:
            self.add(child(path, "auth_method"), f"is only for sftp storage, not {kind}")
        return config


def public_storage_config(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A storage config as an answer shows it: the write-only secrets (and nulls) left out."""
    if config is None:
        return None
    return {k: v for k, v in config.items() if k not in SECRET_STORAGE_FIELDS and v is not None}


# --------------------------------------------------------------------------------------------------
# Start a track recording (both generations of the body)


@dataclass(frozen=True)
class TrackStart:
    """A valid track-recording body, as the emulator needs it."""

    meeting_id: str
    generation: Generation
    #: (layer name, file name prefix or ``None``), in body order; empty means one default layer.
    layers: list[tuple[str, str | None]]
    user_ids: list[str] | None = None
    max_seconds: int | None = None
    storage_configs: list[dict[str, Any]] = field(default_factory=list)


def _layer_generation(layers: Any) -> bool:
    return isinstance(layers, dict) and any(isinstance(v, dict) and "outputs" in v for v in layers.values())


def body_generation(body: Any) -> Generation:
    """``legacy`` when the body uses a field only the legacy generation has (``max_seconds``,
    ``layers.*.outputs``); otherwise ``current`` (a bare ``meeting_id`` counts as current)."""
    if isinstance(body, dict) and ("max_seconds" in body or _layer_generation(body.get("layers"))):
        return "legacy"
    return "current"


def _meeting_id_at(check: Checker, body: dict[str, Any]) -> str | None:
    if "meeting_id" not in body:
        return None  # reported as required
    return check.string_at(body["meeting_id"], "meeting_id", min_length=1)


def parse_track_start(
    body: Any, *, legacy_only: bool = False, unknown_fields: UnknownFields = "reject"
) -> TrackStart:
    """Validate a ``POST /recordings/track`` body; a 400 names every bad field.

    ``legacy_only`` (the older API): every body is read as the legacy generation (``layers`` required).
    """
    check = Checker("track recording request", unknown_fields)
    generation: Generation = "legacy" if legacy_only else body_generation(body)
    legacy = generation == "legacy"
    hint = (
        " (the legacy body has max_seconds and layers.*.outputs, not user_ids or media_kind)"
        if legacy
        else ""
    )
    top = check.object_at(
        body,
        "",
        _LEGACY_TRACK_FIELDS if legacy else _CURRENT_TRACK_FIELDS,
        required=("meeting_id", "layers") if legacy else ("meeting_id",),
        unknown_hint=hint,
    )
    if top is None:
        raise check.error()
    meeting_id = _meeting_id_at(check, top)
    layers: list[tuple[str, str | None]] = []
    configs: list[dict[str, Any]] = []
    if "layers" in top:
        raw_layers = check.object_at(top["layers"], "layers", None)
        for name, raw in (raw_layers or {}).items():
            path = child("layers", name)
            layer = check.object_at(
                raw, path, _LEGACY_LAYER_FIELDS if legacy else _CURRENT_LAYER_FIELDS, unknown_hint=hint
            )
            if layer is None:
                continue
            prefix = None
            if "file_name_prefix" in layer:
                prefix = check.prefix_at(
                    layer["file_name_prefix"], child(path, "file_name_prefix"), pattern=not legacy
                )
            if not legacy and "media_kind" in layer:
                check.choice_at(layer["media_kind"], child(path, "media_kind"), MEDIA_KINDS)
            if legacy and "outputs" in layer:
                configs += _outputs_at(check, layer["outputs"], child(path, "outputs"))
            layers.append((name, prefix))
    user_ids = None
    if not legacy and "user_ids" in top:
        raw_ids = check.array_at(top["user_ids"], "user_ids", min_items=1, max_items=MAX_USER_IDS)
        user_ids = [
            user
            for index, item in enumerate(raw_ids)
            if (
                user := check.string_at(
                    item, child("user_ids", index), min_length=1, max_length=MAX_USER_ID_LENGTH
                )
            )
            is not None
        ]
    max_seconds = None
    if legacy and "max_seconds" in top:
        seconds = check.number_at(
            top["max_seconds"],
            "max_seconds",
            minimum=0,
            maximum=MAX_RECORDING_SECONDS,
            exclusive_minimum=True,
        )
        max_seconds = None if seconds is None else max(1, math.ceil(seconds))
    check.raise_if_any()
    assert meeting_id is not None
    return TrackStart(meeting_id, generation, layers, user_ids, max_seconds, configs)


def _outputs_at(check: Checker, value: Any, path: str) -> list[dict[str, Any]]:
    """Legacy ``outputs[]``: ``type`` (default REALTIMEKIT_BUCKET); STORAGE_CONFIG needs a storage_config."""
    configs = []
    for index, raw in enumerate(check.array_at(value, path)):
        where = child(path, index)
        output = check.object_at(raw, where, ("type", "storage_config"))
        if output is None:
            continue
        kind = check.choice_at(output.get("type", OUTPUT_TYPES[0]), child(where, "type"), OUTPUT_TYPES)
        config = output.get("storage_config")
        if kind == "STORAGE_CONFIG" and config is None:
            check.add(child(where, "storage_config"), "is required for a STORAGE_CONFIG output")
        elif kind == "REALTIMEKIT_BUCKET" and config is not None:
            check.add(child(where, "storage_config"), "is only for a STORAGE_CONFIG output")
        elif config is not None and (
            parsed := check.storage_config_at(config, child(where, "storage_config"))
        ):
            configs.append(parsed)
    return configs


# --------------------------------------------------------------------------------------------------
# The other bodies


@dataclass(frozen=True)
class CompositeStart:
    """A valid ``POST /recordings`` body."""

    meeting_id: str
    max_seconds: int | None
    allow_multiple: bool
    file_name_prefix: str | None
    storage_config: dict[str, Any] | None


def parse_composite_start(body: Any, *, unknown_fields: UnknownFields = "reject") -> CompositeStart:
    """Validate a composite-recording body (nested ``*_config`` objects are only checked to be objects)."""
    check = Checker("recording request", unknown_fields)
    top = check.object_at(body, "", _COMPOSITE_FIELDS, required=("meeting_id",))
    if top is None:
        raise check.error()
    meeting_id = _meeting_id_at(check, top)
    seconds = None
    if "max_seconds" in top:
        seconds = check.number_at(
            top["max_seconds"],
            "max_seconds",
            minimum=MIN_COMPOSITE_SECONDS,
            maximum=MAX_RECORDING_SECONDS,
            whole=True,
        )
    allow = (
        check.boolean_at(top["allow_multiple_recordings"], "allow_multiple_recordings")
        if "allow_multiple_recordings" in top
        else False
    )
    prefix = (
        check.string_at(top["file_name_prefix"], "file_name_prefix", min_length=1)
        if "file_name_prefix" in top
        else None
    )
    if "url" in top:
        check.string_at(top["url"], "url", min_length=1)
    for name in _COMPOSITE_OBJECTS:
        if name in top:
            check.object_at(top[name], name, None)
    config = top.get("storage_config")
    storage = check.storage_config_at(config, "storage_config") if config is not None else None
    check.raise_if_any()
    assert meeting_id is not None
    return CompositeStart(meeting_id, None if seconds is None else int(seconds), bool(allow), prefix, storage)


def parse_action(body: Any, *, unknown_fields: UnknownFields = "reject") -> RecordingAction:
    """``{"action": "stop" | "pause" | "resume"}``."""
    check = Checker("recording action request", unknown_fields)
    top = check.object_at(body, "", ("action",), required=("action",))
    action = None
    if top is not None and "action" in top:
        action = check.choice_at(top["action"], "action", [a.value for a in RecordingAction])
    check.raise_if_any()
    assert action is not None
    return RecordingAction(action)


@dataclass(frozen=True)
class MeetingCreate:
    title: str | None
    options: dict[str, Any]


def parse_meeting(body: Any) -> MeetingCreate:
    """``POST /meetings``: the fields the emulator keeps are checked; the many others are accepted."""
    check = Checker("meeting request")
    top = check.object_at(body, "", None)
    if top is None:
        raise check.error()
    title = check.string_at(top["title"], "title") if "title" in top else None
    options: dict[str, Any] = {}
    for flag in _MEETING_FLAGS:
        if flag in top:
            options[flag] = check.boolean_at(top[flag], flag)
    if "session_keep_alive_time_in_secs" in top:
        low, high = KEEP_ALIVE_RANGE
        keep = check.number_at(
            top["session_keep_alive_time_in_secs"],
            "session_keep_alive_time_in_secs",
            minimum=low,
            maximum=high,
        )
        options["session_keep_alive_time_in_secs"] = (
            top["session_keep_alive_time_in_secs"] if keep is not None else None
        )
    check.raise_if_any()
    return MeetingCreate(title, options)
