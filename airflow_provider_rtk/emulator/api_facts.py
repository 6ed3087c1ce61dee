"""What Cloudflare documents about the RealtimeKit recording API, as the emulator's own constants.

Written from the published description (statuses, actions, storage types, limits), independently of
the provider's models, so that the emulator can catch a mistake the provider makes.
"""

from __future__ import annotations

import enum

#: A recording stops after 24 hours at the latest (and ``max_seconds`` may not ask for more).
MAX_RECORDING_SECONDS = 86_400
#: Composite ``max_seconds``: "ranging from a minimum of 60 seconds to a maximum of 24 hours".
MIN_COMPOSITE_SECONDS = 60
#: Download links expire this long after the upload ("links expire after 7 days").
DOWNLOAD_LINK_SECONDS = 7 * 24 * 3600
#: Current track body: ``user_ids`` holds 1-100 ids of 1-256 characters.
MAX_USER_IDS = 100
MAX_USER_ID_LENGTH = 256
#: Current track body: ``file_name_prefix`` must match this (JavaScript semantics: ASCII ``\w``).
FILE_NAME_PREFIX_PATTERN = r"^[-\w\s]+$"
#: ``session_keep_alive_time_in_secs`` of a meeting: 60 to 600.
KEEP_ALIVE_RANGE = (60, 600)
STORAGE_TYPES = ("aws", "azure", "digitalocean", "gcs", "sftp")
SFTP_AUTH_METHODS = ("KEY", "PASSWORD")
OUTPUT_TYPES = ("REALTIMEKIT_BUCKET", "STORAGE_CONFIG")
MEDIA_KINDS = ("audio",)
#: Write-only fields of ``storage_config``: accepted, never shown in an answer.
SECRET_STORAGE_FIELDS = ("access_key", "secret", "password", "private_key")
STORAGE_FIELDS = (
    "type",
    "access_key",
    "secret",
    "bucket",
    "region",
    "path",
    "host",
    "port",
    "username",
    "password",
    "private_key",
    "auth_method",
)
SESSION_STATUSES = ("LIVE", "ENDED")
SESSION_SORT_FIELDS = ("minutesConsumed", "createdAt")


class RecordingStatus(str, enum.Enum):
    """The ``status`` of a recording."""

    INVOKED = "INVOKED"
    RECORDING = "RECORDING"
    PAUSED = "PAUSED"
    UPLOADING = "UPLOADING"
    UPLOADED = "UPLOADED"
    ERRORED = "ERRORED"

    @property
    def is_capturing(self) -> bool:
        """Still taking media in (what "an active recording" means)."""
        return self in (RecordingStatus.INVOKED, RecordingStatus.RECORDING, RecordingStatus.PAUSED)


class RecordingAction(str, enum.Enum):
    """The ``action`` of ``PUT /recordings/{recording_id}``."""

    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"
