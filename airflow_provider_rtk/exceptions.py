"""Exceptions raised by the RealtimeKit provider. None of them ever carries the API token."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_rtk._compat import AirflowException


class RealtimeKitError(AirflowException):
    """Base class of every error this provider raises."""


@dataclass(frozen=True)
class FieldError:
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


class RealtimeKitStartOutcomeUnknownError(RealtimeKitAPIError):
    """A start failed ambiguously and the service could not be asked whether it took effect.

    Never retried by the hook (that could start a second recording); the operator's next try
    reconciles with the meeting's active recording instead.
    """

    @property
    def is_retryable(self) -> bool:
        return False


class RealtimeKitNotFoundError(RealtimeKitAPIError):
    """404: the meeting, recording, active recording or active session does not exist."""


class RealtimeKitRecordingFailedError(RealtimeKitError):
    """A recording ended in ``ERRORED`` or did not reach the wanted status in time."""
