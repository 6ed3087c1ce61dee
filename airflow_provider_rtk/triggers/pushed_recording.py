"""A watcher that makes no request: it declares a recording asset for the webhook receiver to feed.

``Asset("meeting_recordings", watchers=[AssetWatcher(name=..., trigger=
RealtimeKitPushedRecordingTrigger(realtimekit_conn_id="realtimekit_default"))])`` tells the receiver
(``POST /realtimekit/webhooks/realtimekit_default``) to turn each verified ``recording.statusUpdate``
at ``UPLOADED`` or ``ERRORED`` into an asset event of that asset, whose ``extra`` is
:func:`~airflow_provider_rtk.assets.recording_asset_extra` (ids, status, files; never a link). The
trigger itself only waits: it never fires and never calls the API.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_rtk.triggers.push_only import RealtimeKitPushOnlyTrigger, choices_argument

#: The statuses a delivery may feed (the only ones a DAG waits for).
PUSHED_STATUSES = ("UPLOADED", "ERRORED")


class RealtimeKitPushedRecordingTrigger(RealtimeKitPushOnlyTrigger):
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
        super().__init__(realtimekit_conn_id, meeting_ids)
        self.statuses = choices_argument("statuses", statuses, PUSHED_STATUSES, upper=True)

    def _choices(self) -> dict[str, Any]:
        return {"statuses": self.statuses}

    def watches(self, meeting_id: str | None, status: str) -> bool:
        """Whether a recording of ``meeting_id`` at ``status`` feeds this asset."""
        return status in self.statuses and self.watches_meeting(meeting_id)
