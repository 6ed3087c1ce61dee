"""The base of the watchers that make no request: they declare an asset the webhook receiver feeds.

A push-only watcher names the connection (whose receiver path, ``POST
/realtimekit/webhooks/<conn id>``, feeds the asset) and the meetings it watches; its subclass says which
pushed facts it takes. The trigger itself only waits: it never fires and never calls the API.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError
from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.triggers.live_session import _meeting_ids_argument

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence


def choices_argument(name: str, value: Any, allowed: Sequence[str], *, upper: bool) -> list[str]:
    """A non-empty list of ``allowed`` values (one value alone is a list of one), sorted, each once."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise RealtimeKitPayloadError(
            [FieldError(name, f"must be a non-empty list of {', '.join(allowed)}")], what="trigger argument"
        )
    chosen = sorted({str(item).strip().upper() if upper else str(item).strip() for item in items})
    wrong = [item for item in chosen if item not in allowed]
    if wrong:
        raise RealtimeKitPayloadError(
            [FieldError(name, f"{', '.join(wrong)} not in {', '.join(allowed)}")], what="trigger argument"
        )
    return chosen


class RealtimeKitPushOnlyTrigger(BaseEventTrigger):
    """Declares an asset fed by the webhook receiver for ``realtimekit_conn_id``; makes no request.

    :param realtimekit_conn_id: the connection whose receiver path feeds the asset.
    :param meeting_ids: one meeting id, a list of them, or ``None`` (every meeting of the app).
    """

    def __init__(
        self, realtimekit_conn_id: str = DEFAULT_CONN_ID, meeting_ids: str | list[str] | None = None
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.realtimekit_conn_id = str(realtimekit_conn_id)
        self.meeting_ids = _meeting_ids_argument(meeting_ids)

    def _choices(self) -> dict[str, Any]:
        """The subclass's own arguments, as serialised."""
        return {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "realtimekit_conn_id": self.realtimekit_conn_id,
                "meeting_ids": self.meeting_ids,
                **self._choices(),
            },
        )

    def watches_meeting(self, meeting_id: str | None) -> bool:
        """Whether a push about ``meeting_id`` may feed this asset."""
        return self.meeting_ids is None or meeting_id in self.meeting_ids

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for ever: the receiver, not this trigger, creates the asset events."""
        self.log.info("Push-only watch (%s): the webhook receiver feeds this asset", type(self).__name__)
        await asyncio.Event().wait()
        yield TriggerEvent({})  # type: ignore[no-untyped-call]  # pragma: no cover - never reached
