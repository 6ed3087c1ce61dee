"""Every exception the RealtimeKit provider raises, in one place. None of them carries the API token.

All derive from :class:`RealtimeKitError` (an ``AirflowException``); the ones that must end the task
without a retry also derive from ``AirflowFailException``. The tree::

    RealtimeKitError                          (AirflowException)
    ├── RealtimeKitPayloadError               (ValueError) input rejected before any request
    ├── RealtimeKitConnectionConfigError      (ValueError) the connection lacks or garbles something
    ├── RealtimeKitAPIError                   an error answer, or none (status_code, code, retry_after)
    │   ├── RealtimeKitTransportError         no usable answer (maybe_delivered, maybe_in_progress)
    │   │   ├── RealtimeKitTlsError           the TLS handshake failed; never retried
    │   │   └── RealtimeKitBadAnswerError     an answer that cannot be used (redirect, not JSON, too big)
    │   ├── RealtimeKitStartOutcomeUnknownError  a start that may have worked; never retried
    │   ├── RealtimeKitMeetingBusyError       the meeting is recorded by another recording (active)
    │   └── RealtimeKitNotFoundError          404
    ├── RealtimeKitRecordingFailedError       ERRORED, or not the wanted status in time (retried)
    │   └── RealtimeKitRecordingFailedNoRetryError  (AirflowFailException) a sensor's verdict
    ├── RealtimeKitRecordingTimeoutError      (AirflowFailException) the operator's timeout; stopped
    ├── RealtimeKitMeetingRecordedError       (AirflowFailException) ``if_active="fail"`` met a recording
    ├── RealtimeKitDownloadLinksExpiredError  the copy operator: the links are gone (7 days)
    ├── RealtimeKitFilesNotDownloadableError  the copy operator: ``wait_timeout`` ran out
    ├── RealtimeKitCopyError                  the copy operator: a file that can never be copied
    └── RealtimeKitWebhookError               the webhook receiver refuses a delivery
        ├── RealtimeKitWebhookSignatureError  unsigned, or the signature does not verify (401)
        ├── RealtimeKitWebhookKeyError        the signing key cannot be had now (503, retried)
        └── RealtimeKitWebhookDeliveryError   a signed body that cannot be read (400)

``FieldError`` is not an exception: one bad field of a :class:`RealtimeKitPayloadError`.
``RealtimeKitRecordingFailed`` is the deprecated name of :class:`RealtimeKitRecordingFailedNoRetryError`.
``_NotYet`` and ``_Refused`` are the copy operator's internal signals; they never leave it, nor does
``_BodyTooLarge`` the receiver's.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

if TYPE_CHECKING:
    from datetime import datetime

    from airflow_provider_rtk.models import Recording


class RealtimeKitError(AirflowException):
    """Base class of every error this provider raises."""


class FieldError(NamedTuple):
    """One invalid field: its full path (``layers.default.outputs[0].storage_config.host``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class RealtimeKitPayloadError(RealtimeKitError, ValueError):
    """Input rejected before any request was sent. ``errors`` names every bad field."""

    def __init__(self, errors: list[FieldError], what: str = "track recording request") -> None:
        self.errors = errors
        self.what = what
        listing = "; ".join(str(error) for error in errors)
        super().__init__(f"Invalid {what}: {listing}")

    @property
    def paths(self) -> list[str]:
        return [error.path for error in self.errors]


class RealtimeKitConnectionConfigError(RealtimeKitError, ValueError):
    """The Airflow connection lacks something the provider needs (for example ``extra.account_id``)."""


class RealtimeKitAPIError(RealtimeKitError):
    """The API answered with an error envelope or an unexpected status.

    ``status_code`` is the HTTP status (``None`` when no answer arrived), ``code`` and ``message`` come
    from whichever envelope the service used, ``retry_after`` is the seconds it asked us to wait.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | str | None = None,
        operation: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code  # type: ignore[assignment]  # HTTP status, not Airflow's
        self.code = code
        self.message = message
        self.operation = operation
        self.retry_after = retry_after
        where = f"{operation}: " if operation else ""
        status = f"HTTP {status_code}" if status_code is not None else "no answer"
        code_text = f", code {code}" if code is not None and code != status_code else ""
        super().__init__(f"{where}{status}{code_text}: {message}")

    @property
    def is_retryable(self) -> bool:
        """Rate limited, a server error, or no answer at all."""
        return self.status_code is None or self.status_code == 429 or self.status_code >= 500


class RealtimeKitTransportError(RealtimeKitAPIError):
    """No answer arrived. ``maybe_delivered``: the service may have acted on the request;
    ``maybe_in_progress``: we stopped waiting (a timeout), so it may still be acting on it."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        maybe_delivered: bool,
        maybe_in_progress: bool = False,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, operation=operation, status_code=status_code)
        self.maybe_delivered = maybe_delivered
        self.maybe_in_progress = maybe_in_progress


class RealtimeKitTlsError(RealtimeKitTransportError):
    """The TLS handshake failed: not retried, it will not heal (often a plain-HTTP server behind a
    host written without a scheme, which is taken as ``https://``)."""

    @property
    def is_retryable(self) -> bool:
        return False


class RealtimeKitBadAnswerError(RealtimeKitTransportError):
    """An answer arrived but cannot be used: a redirect, not JSON, over the size cap, nested too deeply
    or of the wrong shape. ``status_code`` is its HTTP status; ``maybe_took_effect`` says whether the
    service may have acted on the request (true for any 2xx/3xx or 5xx answer), so a start that gets
    one must be reconciled like a lost answer, never blindly resent. Not retried (unless a 5xx).
    ``too_large``: refused for its size alone (a smaller page may do)."""

    def __init__(self, message: str, *, operation: str, status_code: int, too_large: bool = False) -> None:
        # imported here, not at the top: DAG files import this module, and redaction is costly to load
        # (only the hook raises this error, and the hook has loaded it already)
        from airflow_provider_rtk import redaction

        super().__init__(
            redaction.redact(message),
            operation=operation,
            status_code=status_code,
            maybe_delivered=not 400 <= status_code < 500,
        )
        self.too_large = too_large

    @property
    def maybe_took_effect(self) -> bool:
        """Whether the service may have acted on the request (``maybe_delivered``)."""
        return self.maybe_delivered

    @property
    def is_retryable(self) -> bool:
        return self.status_code is not None and self.status_code >= 500


class RealtimeKitStartOutcomeUnknownError(RealtimeKitAPIError):
    """A start failed ambiguously and the service could not be asked whether it took effect.

    Never retried by the hook (that could start a second recording); the operator's next try
    reconciles with the meeting's active recording instead. ``accepted_at`` is set when the service
    did accept the start (a legacy 200) but its recording could not be found.
    """

    def __init__(
        self, message: str, *, meeting_id: str = "", accepted_at: datetime | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.meeting_id = meeting_id
        self.accepted_at = accepted_at

    @property
    def is_retryable(self) -> bool:
        return False


class RealtimeKitMeetingBusyError(RealtimeKitAPIError):
    """The start was refused because the meeting already has an active recording: ``active``."""

    def __init__(self, message: str, *, active: Recording, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.active = active


class RealtimeKitMeetingRecordedError(RealtimeKitError, AirflowFailException):
    """``if_active="fail"``: the meeting is recorded by a recording this task did not start (the
    task fails without retrying)."""


class RealtimeKitNotFoundError(RealtimeKitAPIError):
    """404: the meeting, recording, active recording or active session does not exist."""


class RealtimeKitRecordingFailedError(RealtimeKitError):
    """A recording ended in ``ERRORED`` or did not reach the wanted status in time."""


class RealtimeKitRecordingFailedNoRetryError(RealtimeKitRecordingFailedError, AirflowFailException):
    """A sensor saw the recording end in ``ERRORED`` (or finish without reaching the target status):
    no retry will help, so the task fails at once, without a retry."""


class RealtimeKitRecordingTimeoutError(RealtimeKitError, AirflowFailException):
    """The recording did not finish within the operator's ``timeout``; it was stopped. Not retried: a
    retry would start a new recording of a meeting the timeout said to give up on."""


class RealtimeKitDownloadLinksExpiredError(RealtimeKitError):
    """The recording's download links have expired (they last 7 days after the upload); the files can
    no longer be fetched from RealtimeKit."""


class RealtimeKitFilesNotDownloadableError(RealtimeKitError):
    """Some files were still not downloadable when ``wait_timeout`` ran out (not there yet, refused for
    a while, cut short, or slower than ``min_download_rate``)."""


class RealtimeKitCopyError(RealtimeKitError):
    """A file cannot be copied as the service describes it, and waiting will not change that: two
    files with one name, a link that redirects to another host (or too often), a body longer than
    announced, or a link and a recording that announce no size at all."""


class RealtimeKitWebhookError(RealtimeKitError):
    """The webhook receiver refuses a delivery (its message never quotes the body)."""


class RealtimeKitWebhookSignatureError(RealtimeKitWebhookError):
    """The delivery is unsigned or its signature does not verify (answer 401; never retried)."""


class RealtimeKitWebhookKeyError(RealtimeKitWebhookError):
    """The public key could not be fetched or read (answer 503: the service retries)."""


class RealtimeKitWebhookDeliveryError(RealtimeKitWebhookError):
    """A verified delivery the receiver cannot read (answer 400; nothing recorded)."""


class _BodyTooLarge(Exception):
    """Webhook receiver, internal: the body passed its size limit while it was read."""


class _NotYet(Exception):
    """Copy operator, internal: this file cannot be downloaded right now; try again with fresh links later."""


class _Refused(Exception):
    """Copy operator, internal: the link was refused (403): expired, or not valid any more."""


#: Old names still importable from here, each with a ``DeprecationWarning``: old name -> new name.
_DEPRECATED = {"RealtimeKitRecordingFailed": "RealtimeKitRecordingFailedNoRetryError"}


def deprecated_alias(module: str, name: str) -> Any:
    """The class a deprecated name of ``module`` stands for, with a ``DeprecationWarning``; for a
    module's ``__getattr__``. ``AttributeError`` for any other name."""
    new = _DEPRECATED.get(name)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} is deprecated; use airflow_provider_rtk.exceptions.{new}",
        DeprecationWarning,
        stacklevel=3,
    )
    return globals()[new]


def __getattr__(name: str) -> Any:
    return deprecated_alias(__name__, name)
