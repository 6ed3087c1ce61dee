"""A watcher that makes no request: it declares a recording asset for the webhook receiver to feed.

``Asset("meeting_recordings", watchers=[AssetWatcher(name=..., trigger=
RealtimeKitPushedRecordingTrigger(realtimekit_conn_id="realtimekit_default"))])`` tells the receiver
(``POST /realtimekit/webhooks/realtimekit_default``) to turn each verified ``recording.statusUpdate``
at ``UPLOADED`` or ``ERRORED`` into an asset event of that asset, whose ``extra`` is
:func:`~airflow_provider_rtk.assets.recording_asset_extra` (ids, status, files; never a link). The
trigger itself only waits: it never fires and never calls the API.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.triggers.live_session import _meeting_ids_argument

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: The statuses a delivery may feed (the only ones a DAG waits for).
PUSHED_STATUSES = ("UPLOADED", "ERRORED")


def _statuses_argument(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise RealtimeKitPayloadError(
            [FieldError("statuses", f"must be a non-empty list of {', '.join(PUSHED_STATUSES)}")],
            what="trigger argument",
        )
    statuses = sorted({str(item).strip().upper() for item in items})
    wrong = [status for status in statuses if status not in PUSHED_STATUSES]
    if wrong:
        raise RealtimeKitPayloadError(
            [FieldError("statuses", f"{', '.join(wrong)} not in {', '.join(PUSHED_STATUSES)}")],
            what="trigger argument",
        )
    return statuses


class RealtimeKitPushedRecordingTrigger(BaseEventTrigger):
    """Declares an asset fed by pushed ``recording.statusUpdate`` deliveries; makes no request.

    :param realtimekit_conn_id: the connection whose receiver path feeds the asset.
    :param meeting_ids: one meeting id, a list of them, or ``None`` (every meeting of the app).
    :param statuses: which of ``UPLOADED`` and ``ERRORED`` feed the asset (both by default).
    """

    def __init__(
        self,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        meeting_ids: str | list[str] | None = None,
        statuses: str | list[str] | tuple[str, ...] = PUSHED_STATUSES,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.realtimekit_conn_id = str(realtimekit_conn_id)
        self.meeting_ids = _meeting_ids_argument(meeting_ids)
        self.statuses = _statuses_argument(statuses)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "realtimekit_conn_id": self.realtimekit_conn_id,
                "meeting_ids": self.meeting_ids,
                "statuses": self.statuses,
            },
        )

    def watches(self, meeting_id: str | None, status: str) -> bool:
        """Whether a recording of ``meeting_id`` at ``status`` feeds this asset."""
        return status in self.statuses and (self.meeting_ids is None or meeting_id in self.meeting_ids)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for ever: the receiver, not this trigger, creates the asset events."""
        self.log.info("Push-only recording watch: the webhook receiver feeds this asset")
        await asyncio.Event().wait()
        yield TriggerEvent({})  # type: ignore[no-untyped-call]  # pragma: no cover - never reached
