"""How one emulator instance is configured, and the documented defaults (token, ids, delays)."""

from __future__ import annotations

from dataclasses import dataclass

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
#: The API is served under this prefix, as Cloudflare's is (``https://api.cloudflare.com/client/v4``).
API_PREFIX = "/client/v4"
#: Control endpoints (no auth) live under both of these.
CONTROL_PREFIXES = (f"{API_PREFIX}/_emulator", "/_emulator")
#: Recorded files are served (without auth, like pre-signed links) under this path.
FILES_PREFIX = "/files"


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

    def __post_init__(self) -> None:
        if not self.api_token:
            raise ValueError("api_token must not be empty")
        if self.invoke_delay < 0 or self.upload_delay < 0:
            raise ValueError("invoke_delay and upload_delay must be >= 0")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be >= 1 (or None for no limit)")
        if self.rate_window <= 0:
            raise ValueError("rate_window must be > 0")

    @property
    def reported_account_id(self) -> str:
        """The account id to put in URLs and connections."""
        return self.account_id or DEFAULT_ACCOUNT_ID

    @property
    def reported_app_id(self) -> str:
        """The app id to put in URLs and connections."""
        return self.app_id or DEFAULT_APP_ID
