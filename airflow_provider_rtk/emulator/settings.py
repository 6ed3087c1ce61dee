"""How one emulator instance is configured, and the documented defaults (token, ids, delays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

#: The token the emulator accepts unless told otherwise (``Authorization: Bearer emulator-token``).
DEFAULT_API_TOKEN = "emulator-token"
#: Ids reported (and used in the Airflow connection) when no ids are configured; then any id is accepted.
DEFAULT_ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
DEFAULT_APP_ID = "2a95132c15732412d22c1476fa83f27a"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
#: Seconds from INVOKED to RECORDING, and from UPLOADING to UPLOADED: small, so a demo shows every status.
DEFAULT_INVOKE_DELAY = 1.0
DEFAULT_UPLOAD_DELAY = 2.0
DEFAULT_RATE_WINDOW = 60.0
#: What a track-recording start answers while the meeting is already being recorded: the API does not
#: document it. ``refuse`` (the default) answers ``second_start_status`` with ``second_start_message``;
#: ``accept`` starts a second recording beside the first.
SecondStart = Literal["refuse", "accept"]
SECOND_START_MODES: tuple[str, ...] = get_args(SecondStart)
DEFAULT_SECOND_START: SecondStart = "refuse"
DEFAULT_SECOND_START_STATUS = 409
#: ``{meeting_id}`` and ``{recording_id}`` (the recording already running) are filled in.
DEFAULT_SECOND_START_MESSAGE = "Meeting {meeting_id} is already being recorded (recording {recording_id})"
#: How connections are served: one asyncio event loop (the default; thousands of keep-alive clients)
#: or the standard library's thread per connection.
ServerKind = Literal["asyncio", "threads"]
SERVER_KINDS: tuple[str, ...] = get_args(ServerKind)
DEFAULT_SERVER: ServerKind = "asyncio"
#: Request fields the API description does not list: refused with a 400 naming them (the default),
#: or ignored. The description does not say which the service does.
UnknownFields = Literal["reject", "ignore"]
UNKNOWN_FIELD_MODES: tuple[str, ...] = get_args(UnknownFields)
DEFAULT_UNKNOWN_FIELDS: UnknownFields = "reject"
#: The API is served under this prefix, as Cloudflare's is (``https://api.cloudflare.com/client/v4``).
API_PREFIX = "/client/v4"
#: Control endpoints (no auth) live under both of these.
CONTROL_PREFIXES = (f"{API_PREFIX}/_emulator", "/_emulator")
#: Seconds between the attempts of a webhook delivery that met a 5xx or a network error (one attempt more
#: than delays). Cloudflare documents that it retries, not when: short, so a demo sees the retries.
DEFAULT_WEBHOOK_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
#: Seconds one delivery attempt may take (connect, send, answer).
DEFAULT_WEBHOOK_TIMEOUT = 10.0
#: Seconds from a session's end to its transcript, and from the transcript to the summary.
DEFAULT_TRANSCRIPT_DELAY = 2.0
DEFAULT_SUMMARY_DELAY = 1.0
#: Recorded files are served (without auth, like pre-signed links) under this path.
FILES_PREFIX = "/files"


def fill_refusal(template: str, meeting_id: str, recording_id: str) -> str:
    """A refusal message with ``{meeting_id}`` and ``{recording_id}`` filled in (other braces kept)."""
    return template.replace("{meeting_id}", meeting_id).replace("{recording_id}", recording_id)


@dataclass(frozen=True)
class EmulatorSettings:
    """Options fixed for the life of an emulator; ``account_id``/``app_id`` of ``None`` accept any id."""

    api_token: str = DEFAULT_API_TOKEN
    account_id: str | None = None
    app_id: str | None = None
    legacy_track: bool = False
    invoke_delay: float = DEFAULT_INVOKE_DELAY
    upload_delay: float = DEFAULT_UPLOAD_DELAY
    rate_limit: int | None = None
    rate_window: float = DEFAULT_RATE_WINDOW
    second_start: SecondStart = DEFAULT_SECOND_START
    second_start_status: int = DEFAULT_SECOND_START_STATUS
    second_start_message: str = DEFAULT_SECOND_START_MESSAGE
    unknown_fields: UnknownFields = DEFAULT_UNKNOWN_FIELDS
    webhook_retry_delays: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_DELAYS
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    transcript_delay: float = DEFAULT_TRANSCRIPT_DELAY
    summary_delay: float = DEFAULT_SUMMARY_DELAY

    def __post_init__(self) -> None:
        if not self.api_token:
            raise ValueError("api_token must not be empty")
        if self.invoke_delay < 0 or self.upload_delay < 0:
            raise ValueError("invoke_delay and upload_delay must be >= 0")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be >= 1 (or None for no limit)")
        if self.rate_window <= 0:
            raise ValueError("rate_window must be > 0")
        if self.second_start not in SECOND_START_MODES:
            raise ValueError(f"second_start must be one of {', '.join(SECOND_START_MODES)}")
        status = self.second_start_status
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("second_start_status must be an HTTP error status (400-599)")
        if not isinstance(self.second_start_message, str) or not self.second_start_message.strip():
            raise ValueError("second_start_message must be a non-empty string")
        if self.unknown_fields not in UNKNOWN_FIELD_MODES:
            raise ValueError(f"unknown_fields must be one of {', '.join(UNKNOWN_FIELD_MODES)}")
        if any(delay < 0 for delay in self.webhook_retry_delays):
            raise ValueError("webhook_retry_delays must be >= 0")
        if self.webhook_timeout <= 0:
            raise ValueError("webhook_timeout must be > 0")
        if self.transcript_delay < 0 or self.summary_delay < 0:
            raise ValueError("transcript_delay and summary_delay must be >= 0")

    @property
    def reported_account_id(self) -> str:
        """The account id to put in URLs and connections."""
        return self.account_id or DEFAULT_ACCOUNT_ID

    @property
    def reported_app_id(self) -> str:
        """The app id to put in URLs and connections."""
        return self.app_id or DEFAULT_APP_ID
