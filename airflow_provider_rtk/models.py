"""Pydantic models of the RealtimeKit track-recording API: request bodies (both generations) and answers.

Requests are strict (unknown fields are rejected, every rule of the API is checked, errors name the full
field path); answers are lenient (unknown fields are kept, so a newer service does not break a parse).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from airflow_provider_rtk.arguments import ID_PATTERN as ID_PATTERN  # re-exported: the rules live there
from airflow_provider_rtk.arguments import ID_RE, as_utc
from airflow_provider_rtk.arguments import RENDERED_NOTHING as RENDERED_NOTHING
from airflow_provider_rtk.arguments import decode_json_field as decode_json_field
from airflow_provider_rtk.arguments import decode_layers as decode_layers
from airflow_provider_rtk.arguments import nothing_rendered_error as nothing_rendered_error
from airflow_provider_rtk.arguments import rendered_nothing as rendered_nothing
from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError
from airflow_provider_rtk.redaction import SECRET_STORAGE_FIELDS as SECRET_STORAGE_FIELDS

#: ``file_name_prefix`` as the API documents it.
FILE_NAME_PREFIX_PATTERN = r"^[-\w\s]+$"
#: The service stops any recording after 24 hours; a longer ``max_seconds`` is a mistake.
MAX_RECORDING_SECONDS = 86_400
MAX_USER_IDS = 100


def _reject_bool(value: Any) -> Any:
    """``True`` is not a number of seconds or a port, though Python says it is an int."""
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer, not a boolean")
    return value


ResourceId = Annotated[str, Field(min_length=1, max_length=256, pattern=ID_PATTERN)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
Integer = Annotated[int, BeforeValidator(_reject_bool)]


#: How many statuses the service invents that this provider does not know are remembered as members
#: (so ``is`` compares them like the known ones); beyond it each reading makes its own (``==`` holds).
_MAX_UNKNOWN_STATUSES = 32


class RecordingStatus(str, Enum):
    """Status of a recording. ``UPLOADED`` and ``ERRORED`` are terminal.

    A status the service reports that is not listed here (a newer service) is read, not refused: it
    is kept by value (``RecordingStatus("ARCHIVING").value == "ARCHIVING"``), is not :attr:`is_known`,
    and counts as neither terminal nor capturing, so every wait keeps waiting and nothing is stopped
    on its account. User input (:meth:`parse_many`, a ``target_status``) still takes known ones only.
    """

    INVOKED = "INVOKED"
    RECORDING = "RECORDING"
    PAUSED = "PAUSED"
    UPLOADING = "UPLOADING"
    UPLOADED = "UPLOADED"
    ERRORED = "ERRORED"

    @classmethod
    def _missing_(cls, value: object) -> RecordingStatus | None:
        """An unknown non-empty status of a newer service, kept as it is (see the class docstring)."""
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        if len(cls._value2member_map_) < len(cls._member_names_) + _MAX_UNKNOWN_STATUSES:
            member = cast("RecordingStatus", cls._value2member_map_.setdefault(value, member))
        return member

    @property
    def is_known(self) -> bool:
        """One of the statuses this provider knows (not one a newer service invented)."""
        return self._name_ in type(self)._member_names_

    @property
    def is_terminal(self) -> bool:
        """Nothing will change any more."""
        return self in (RecordingStatus.UPLOADED, RecordingStatus.ERRORED)

    @property
    def is_capturing(self) -> bool:
        """Still taking media in: such a recording must be stopped by someone."""
        return self in (RecordingStatus.INVOKED, RecordingStatus.RECORDING, RecordingStatus.PAUSED)

    @classmethod
    def parse_many(cls, value: str | Iterable[str | RecordingStatus]) -> list[RecordingStatus]:
        """``"RECORDING,paused"`` or ``["UPLOADED"]`` as statuses; the error names what is unknown."""
        items = value.split(",") if isinstance(value, str) else list(value)
        by_value: dict[str, RecordingStatus] = {status.value: status for status in cls}
        statuses = [item if isinstance(item, cls) else by_value.get(item.strip().upper()) for item in items]
        unknown = [
            item.strip().upper() if isinstance(item, str) else str(item)
            for item, status in zip(items, statuses, strict=True)
            if status is None or not status.is_known
        ]
        if unknown:
            known = ", ".join(s.value for s in cls)
            raise ValueError(f"{unknown[0]!r} is not a valid RecordingStatus; known statuses: {known}")
        return [status for status in statuses if status is not None]


class StorageType(str, Enum):
    AWS = "aws"
    AZURE = "azure"
    DIGITALOCEAN = "digitalocean"
    GCS = "gcs"
    SFTP = "sftp"


class SftpAuthMethod(str, Enum):
    KEY = "KEY"
    PASSWORD = "PASSWORD"


class OutputType(str, Enum):
    REALTIMEKIT_BUCKET = "REALTIMEKIT_BUCKET"
    STORAGE_CONFIG = "STORAGE_CONFIG"


class RecordingAction(str, Enum):
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"


def _rule_error(field: str, message: str) -> PydanticCustomError:
    """An error from a cross-field rule, pointing at ``field`` below the model that raised it."""
    return PydanticCustomError("realtimekit_rule", message, {"field": field})


class _RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, use_enum_values=False)

    def to_api_body(self) -> dict[str, Any]:
        """The JSON body to send: only the fields that were set, secrets revealed."""
        return self.model_dump(
            mode="json", exclude_unset=True, exclude_none=True, context={"reveal_secrets": True}
        )


class StorageConfig(_RequestModel):
    """Where a legacy-generation output uploads files. Secrets are write-only and never shown."""

    type: StorageType
    bucket: NonEmptyStr | None = None
    region: NonEmptyStr | None = None
    path: str | None = None
    host: NonEmptyStr | None = None
    port: Annotated[Integer, Field(ge=1, le=65_535)] | None = None
    username: NonEmptyStr | None = None
    auth_method: SftpAuthMethod | None = None
    access_key: SecretStr | None = None
    secret: SecretStr | None = None
    password: SecretStr | None = None
    private_key: SecretStr | None = None

    @field_serializer(*SECRET_STORAGE_FIELDS, when_used="unless-none")
    def _dump_secret(self, value: SecretStr, info: SerializationInfo) -> str:
        if info.context and info.context.get("reveal_secrets"):
            return value.get_secret_value()
        return "***"

    @model_validator(mode="after")
    def _check_storage_rules(self) -> StorageConfig:
        if self.type is StorageType.SFTP:
            for required in ("host", "username"):
                if getattr(self, required) is None:
                    raise _rule_error(required, f"sftp storage needs a {required}")
            if self.auth_method is SftpAuthMethod.KEY and self.private_key is None:
                raise _rule_error("private_key", "auth_method KEY needs a private_key")
            if self.auth_method is SftpAuthMethod.PASSWORD and self.password is None:
                raise _rule_error("password", "auth_method PASSWORD needs a password")
        elif self.auth_method is not None:
            raise _rule_error("auth_method", f"only sftp storage takes an auth_method, not {self.type.value}")
        return self

    def secret_values(self) -> list[str]:
        """Every secret this config holds, for the secret masker."""
        return [
            value.get_secret_value()
            for value in (getattr(self, name) for name in SECRET_STORAGE_FIELDS)
            if value is not None and value.get_secret_value()
        ]


class TrackOutput(_RequestModel):
    """Legacy generation: one destination of a layer (RealtimeKit's bucket or your own storage)."""

    type: OutputType = OutputType.REALTIMEKIT_BUCKET
    storage_config: StorageConfig | None = None

    @model_validator(mode="after")
    def _check_output_rules(self) -> TrackOutput:
        if self.type is OutputType.STORAGE_CONFIG and self.storage_config is None:
            raise _rule_error("storage_config", "a STORAGE_CONFIG output needs a storage_config")
        if self.type is OutputType.REALTIMEKIT_BUCKET and self.storage_config is not None:
            raise _rule_error("storage_config", "only a STORAGE_CONFIG output takes a storage_config")
        return self


class TrackLayer(_RequestModel):
    """One layer of a track recording: a file name prefix, and per generation media kind or outputs."""

    file_name_prefix: Annotated[str, Field(pattern=FILE_NAME_PREFIX_PATTERN, max_length=256)] | None = None
    media_kind: Literal["audio"] | None = None
    outputs: Annotated[list[TrackOutput], Field(min_length=1)] | None = None


LayerName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[-\w]+$")]
UserId = Annotated[str, Field(min_length=1, max_length=256)]


class TrackRecordingRequest(_RequestModel):
    """Body of ``POST /recordings/track``.

    Two generations exist. *Current*: ``layers.*.file_name_prefix`` / ``media_kind`` and ``user_ids``;
    the service answers with the recording. *Legacy*: ``layers.*.outputs[]`` with ``storage_config``
    and ``max_seconds``; the service answers 200 with no body. The two cannot be mixed.
    """

    meeting_id: ResourceId
    layers: dict[LayerName, TrackLayer] | None = None
    max_seconds: Annotated[Integer, Field(gt=0, le=MAX_RECORDING_SECONDS)] | None = None
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=MAX_USER_IDS)] | None = None

    @model_validator(mode="after")
    def _check_generation(self) -> TrackRecordingRequest:
        legacy = self._fields_of_generation("legacy")
        current = self._fields_of_generation("current")
        if legacy and current:
            raise _rule_error(
                current[0],
                f"{current[0]} belongs to the current API and cannot be combined with the legacy "
                f"{legacy[0]}; use one generation of the body",
            )
        if self.max_seconds is not None and not self.layers:
            raise _rule_error("layers", "the legacy body (with max_seconds) needs layers")
        return self

    def _fields_of_generation(self, generation: Literal["legacy", "current"]) -> list[str]:
        top = "max_seconds" if generation == "legacy" else "user_ids"
        layer_field = "outputs" if generation == "legacy" else "media_kind"
        found = [top] if getattr(self, top) is not None else []
        for name, layer in (self.layers or {}).items():
            if getattr(layer, layer_field) is not None:
                found.append(f"layers.{name}.{layer_field}")
        return found

    @property
    def generation(self) -> Literal["legacy", "current"]:
        """Which generation of the API body this is (a bare ``meeting_id`` counts as current)."""
        return "legacy" if self._fields_of_generation("legacy") else "current"

    def storage_configs(self) -> list[StorageConfig]:
        return [
            output.storage_config
            for layer in (self.layers or {}).values()
            for output in layer.outputs or []
            if output.storage_config is not None
        ]

    def secret_values(self) -> list[str]:
        """Every secret in the body (storage credentials), for the secret masker."""
        return [secret for config in self.storage_configs() for secret in config.secret_values()]


# --------------------------------------------------------------------------------------------------
# Turning user input into a validated request, with errors that name the field.


def format_location(location: Iterable[int | str]) -> str:
    """``("layers", "default", "outputs", 0, "host")`` -> ``layers.default.outputs[0].host``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "":
            path += '.""' if path else '""'
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def field_errors(error: ValidationError, prefix: Iterable[int | str] = ()) -> list[FieldError]:
    """The errors of a pydantic ``ValidationError`` as field paths and messages (no input values)."""
    result = []
    for item in error.errors(include_input=False, include_url=False):
        location: list[int | str] = [*prefix, *item["loc"]]
        extra_field = (item.get("ctx") or {}).get("field")
        if extra_field:
            location.append(extra_field)
        result.append(FieldError(format_location(location), item["msg"]))
    return result


def is_unset(value: Any) -> bool:
    """Whether an argument was left out (``None``). Text that rendered to nothing is not "unset": it
    is an error (:func:`rendered_nothing`), never silently dropped."""
    return value is None


def _plain(value: Any) -> Any:
    """Model instances inside user input stay as they are; containers are walked."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def build_track_request(
    meeting_id: Any,
    layers: Any = None,
    max_seconds: Any = None,
    user_ids: Any = None,
) -> TrackRecordingRequest:
    """Validate operator input into a request body, or raise :class:`RealtimeKitPayloadError`.

    ``layers`` may be a mapping (of dicts or :class:`TrackLayer`), JSON text, or ``None``;
    ``user_ids`` a list or JSON text; ``max_seconds`` an int or numeric text. ``None`` leaves a field
    out; text a template renders for nothing (``''``, ``'None'``, ``'null'``) is an error.
    """
    if meeting_id is None or rendered_nothing(meeting_id):
        raise RealtimeKitPayloadError(
            [FieldError("meeting_id", "is empty (did its template render nothing?)")]
        )
    nothing = [
        nothing_rendered_error(name, value)
        for name, value in (("layers", layers), ("max_seconds", max_seconds), ("user_ids", user_ids))
        if rendered_nothing(value)
    ]
    if nothing:
        raise RealtimeKitPayloadError(nothing)
    body: dict[str, Any] = {"meeting_id": meeting_id.strip() if isinstance(meeting_id, str) else meeting_id}
    if layers is not None:
        body["layers"] = _plain(decode_layers(layers))
    if max_seconds is not None:
        body["max_seconds"] = max_seconds.strip() if isinstance(max_seconds, str) else max_seconds
    if user_ids is not None:
        body["user_ids"] = decode_json_field("user_ids", user_ids)
    return parse_track_request(body)


def parse_track_request(body: Any) -> TrackRecordingRequest:
    """Validate a raw body (as the service receives it) or raise :class:`RealtimeKitPayloadError`."""
    if isinstance(body, TrackRecordingRequest):
        return body
    try:
        return TrackRecordingRequest.model_validate(body)
    except ValidationError as error:
        raise RealtimeKitPayloadError(field_errors(error)) from None


# --------------------------------------------------------------------------------------------------
# Answers of the service.


class _ResponseModel(BaseModel):
    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)


class Caller(_ResponseModel):
    name: str | None = None
    type: str | None = None
    user_Id: str | None = None


class StartReason(_ResponseModel):
    reason: str | None = None
    caller: Caller | None = None


class StopReason(_ResponseModel):
    reason: str | None = None
    caller: Caller | None = None


class TrackFileLink(_ResponseModel):
    download_url: str | None = None


class TrackLayerDownloads(_ResponseModel):
    """One entry of the list form of ``download_url`` that track recordings return."""

    layer_name: str | None = None
    download_urls: dict[str, TrackFileLink] = Field(default_factory=dict)


class Recording(_ResponseModel):
    """A recording as the service reports it."""

    id: str
    status: RecordingStatus
    meeting_id: str | None = None
    session_id: str | None = None
    invoked_time: datetime | None = None
    started_time: datetime | None = None
    stopped_time: datetime | None = None
    output_file_name: str | None = None
    recording_duration: int | None = None
    file_size: float | None = None
    download_url: str | list[TrackLayerDownloads] | None = None
    download_url_expiry: datetime | None = None
    audio_download_url: str | None = None
    start_reason: StartReason | None = None
    stop_reason: StopReason | None = None
    #: as sent: the SDK types it as a union of four shapes, every field optional (``type`` too), and
    #: answers carry no secret; a mapping reads them all (and any newer one), and ``to_xcom`` still
    #: leaves out any secret field a service might echo
    storage_config: dict[str, Any] | None = None

    def invoked_since(self, moment: datetime) -> bool:
        """Whether it was invoked at or after ``moment`` (a time without zone counts as UTC)."""
        if self.invoked_time is None:
            return False
        return as_utc(self.invoked_time) >= as_utc(moment)

    @property
    def download_links(self) -> dict[str, str]:
        """File name -> URL, from either form of ``download_url``."""
        if isinstance(self.download_url, str):
            return {self.output_file_name or "recording": self.download_url}
        links: dict[str, str] = {}
        for layer in self.download_url or []:
            for file_name, link in layer.download_urls.items():
                if link.download_url:
                    links[file_name] = link.download_url
        return links

    def to_xcom(self, *, links: bool = False) -> dict[str, Any]:
        """A JSON-ready dict for XCom: storage secrets (if the service ever echoed them, wherever in its
        answer) left out, and the pre-signed download links too unless ``links`` (whoever holds one
        can fetch the file)."""
        data = self.model_dump(mode="json")
        if not links:
            for name in DOWNLOAD_LINK_FIELDS:
                data.pop(name, None)
        cleaned: dict[str, Any] = _without_secret_fields(data)
        return cleaned


def _without_secret_fields(value: Any) -> Any:
    """``value`` with every storage-secret field (``password``, ``secret``...) left out, at any depth."""
    if isinstance(value, dict):
        return {
            key: _without_secret_fields(item)
            for key, item in value.items()
            if key not in SECRET_STORAGE_FIELDS
        }
    if isinstance(value, list):
        return [_without_secret_fields(item) for item in value]
    return value


#: The fields of a recording that hold pre-signed links (bearer credentials until they expire).
DOWNLOAD_LINK_FIELDS = ("download_url", "audio_download_url")


class Paging(_ResponseModel):
    total_count: int = 0
    start_offset: int = 0
    end_offset: int = 0


class UnreadableRecording(_ResponseModel):
    """An item of a list page the models could not read (an unknown status, a fractional duration,
    a missing field: often another client's recording): its id if it has a plain one, and why."""

    id: str | None = None
    problem: str


def _unreadable(item: Any, error: ValidationError) -> UnreadableRecording:
    """What is known of an item that failed validation (never its values, only its id and the fields
    that were wrong)."""
    raw_id = item.get("id") if isinstance(item, dict) else None
    plain_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= 256 and ID_RE.fullmatch(raw_id) else None
    problems = [
        f"{format_location(problem['loc']) if problem['loc'] else '(item)'}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)
    ]
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return UnreadableRecording(id=plain_id, problem="; ".join(problems[:3]) + more)


class RecordingPage(_ResponseModel):
    recordings: list[Recording]
    paging: Paging
    #: items the models could not read, skipped: one bad item concerns that recording only
    unreadable: list[UnreadableRecording] = Field(default_factory=list)

    @classmethod
    def from_answer(cls, data: Any, paging: Mapping[str, Any], *, most: int | None = None) -> RecordingPage:
        """A list answer's page, read item by item: an item the models reject is skipped (and named
        in ``unreadable``), the rest kept. More than ``most`` items (what was asked for) is a wrong
        answer (``ValueError``), refused before any item is read."""
        items = list(data or [])
        if most is not None and len(items) > most:
            raise ValueError(f"the page holds {len(items)} recordings, more than the {most} asked for")
        recordings: list[Recording] = []
        unreadable: list[UnreadableRecording] = []
        for item in items:
            try:
                recordings.append(Recording.model_validate(item))
            except ValidationError as error:
                unreadable.append(_unreadable(item, error))
        return cls(recordings=recordings, paging=Paging.model_validate(paging), unreadable=unreadable)


class ActiveSession(_ResponseModel):
    """The live session of a meeting."""

    id: str
    associated_id: str | None = None
    status: str | None = None
    live_participants: int | None = None
    meeting_display_name: str | None = None
    started_at: str | None = None

    @property
    def is_live(self) -> bool:
        return self.status == "LIVE"

    @property
    def is_ended(self) -> bool:
        return self.status == "ENDED"

    @classmethod
    def read_many(cls, items: Iterable[Any]) -> tuple[list[ActiveSession], list[str]]:
        """The sessions of a list answer that can be read, and for each item that cannot: its place
        and why (field paths and messages, never the item's content)."""
        sessions: list[ActiveSession] = []
        problems: list[str] = []
        for index, item in enumerate(items):
            try:
                sessions.append(cls.model_validate(item))
            except ValidationError as error:
                why = "; ".join(str(problem) for problem in field_errors(error))
                problems.append(f"item {index}: {why}")
        return sessions, problems


class SessionPage(_ResponseModel):
    """One page of ``GET /sessions``: the sessions that could be read, the paging object, and for each
    item that could not be read, its place on the page and why (``skipped``; never its content)."""

    sessions: list[ActiveSession]
    paging: Paging
    skipped: list[str] = Field(default_factory=list)

    @classmethod
    def from_answer(cls, data: Any, paging: Mapping[str, Any]) -> SessionPage:
        """A ``GetSessions`` answer's page (``data`` holds ``sessions``, or is the list), read item by
        item like :meth:`RecordingPage.from_answer`; ``TypeError`` when there is no list."""
        sessions = data.get("sessions") if isinstance(data, dict) else data
        if not isinstance(sessions, list):
            raise TypeError("data.sessions is not a list")
        readable, skipped = ActiveSession.read_many(sessions)
        return cls(sessions=readable, paging=Paging.model_validate(paging), skipped=skipped)

    @property
    def is_last(self) -> bool:
        empty = not self.sessions and not self.skipped
        return empty or self.paging.end_offset >= self.paging.total_count


class Meeting(_ResponseModel):
    id: str
    title: str | None = None
    status: str | None = None
    record_on_start: bool | None = None
    transcribe_on_end: bool | None = None
    summarize_on_end: bool | None = None
    created_at: datetime | None = None


# --------------------------------------------------------------------------------------------------
# Post-meeting transcripts and summaries (``GET /sessions/{session_id}/transcript`` and ``/summary``)


def _lenient_moment(value: Any) -> Any:
    """An expiry that cannot be read is unknown (``None``), not a reason to refuse the answer."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        except ValueError:
            return None
    return None


class SessionDocument(_ResponseModel):
    """A post-meeting file of a session (its transcript or its summary): where to download it, and
    until when. ``download_url`` is ``None`` while the service has none to give (not ready yet).

    The two operations name their fields differently (``transcript_download_url`` and
    ``transcript_download_url_expiry``, but ``summaryDownloadUrl`` and ``summaryDownloadUrlExpiry``);
    each model reads both spellings of its own fields, and ``sessionId`` or ``session_id``."""

    session_id: str | None = Field(default=None, validation_alias=AliasChoices("sessionId", "session_id"))

    @field_validator("*", mode="before")
    @classmethod
    def _lenient_expiry(cls, value: Any, info: ValidationInfo) -> Any:
        return _lenient_moment(value) if (info.field_name or "").endswith("_expiry") else value

    @property
    def download_url(self) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def download_url_expiry(self) -> datetime | None:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def is_ready(self) -> bool:
        return bool(self.download_url)


class SessionTranscript(SessionDocument):
    """``GET /sessions/{session_id}/transcript``: a link to the session's transcript (CSV)."""

    transcript_download_url: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("transcript_download_url", "transcriptDownloadUrl"),
    )
    transcript_download_url_expiry: datetime | None = Field(
        default=None,
        validation_alias=AliasChoices("transcript_download_url_expiry", "transcriptDownloadUrlExpiry"),
    )

    @property
    def download_url(self) -> str | None:
        return self.transcript_download_url or None

    @property
    def download_url_expiry(self) -> datetime | None:
        return self.transcript_download_url_expiry


class SessionSummary(SessionDocument):
    """``GET /sessions/{session_id}/summary``: a link to the session's summary (plain text)."""

    summary_download_url: str | None = Field(
        default=None, repr=False, validation_alias=AliasChoices("summaryDownloadUrl", "summary_download_url")
    )
    summary_download_url_expiry: datetime | None = Field(
        default=None,
        validation_alias=AliasChoices("summaryDownloadUrlExpiry", "summary_download_url_expiry"),
    )

    @property
    def download_url(self) -> str | None:
        return self.summary_download_url or None

    @property
    def download_url_expiry(self) -> datetime | None:
        return self.summary_download_url_expiry


# Webhooks (the webhooks API: ``/webhooks``)


class Webhook(_ResponseModel):
    """A webhook of the app as the service reports it."""

    id: str
    url: str
    name: str | None = None
    events: list[str] = Field(default_factory=list)
    enabled: bool = True
    created_at: str | None = None
    updated_at: str | None = None

    def to_xcom(self) -> dict[str, Any]:
        """The webhook's id, name, URL, events and whether it is enabled (nothing secret)."""
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "events": sorted(self.events),
            "enabled": self.enabled,
        }


class WebhookRequest(BaseModel):
    """The body that creates or replaces a webhook: ``{name, url, events, enabled}``, checked."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=256)
    url: str
    events: list[str]
    enabled: bool = True

    @classmethod
    def of(cls, *, name: Any, url: Any, events: Any, enabled: Any = True) -> WebhookRequest:
        """A checked request; a :class:`RealtimeKitPayloadError` names every bad field, before any
        request is sent."""
        from airflow_provider_rtk.arguments import webhook_events_argument, webhook_url_argument

        problems: list[FieldError] = []
        checked: dict[str, Any] = {}
        for field, check in (
            ("url", lambda: webhook_url_argument(url, what="webhook request")),
            ("events", lambda: webhook_events_argument(events, what="webhook request")),
        ):
            try:
                checked[field] = check()
            except RealtimeKitPayloadError as error:
                problems.extend(error.errors)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 256:
            problems.append(FieldError("name", "must be text of 1 to 256 characters"))
        if not isinstance(enabled, bool):
            problems.append(FieldError("enabled", "must be true or false"))
        if problems:
            raise RealtimeKitPayloadError(problems, what="webhook request")
        return cls(name=name.strip(), enabled=enabled, **checked)
