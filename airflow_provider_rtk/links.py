"""The "RealtimeKit recording" button on a task, and the URL it points to.

The start operator computes the URL with :func:`recording_url` and pushes it as the XCom
``recording_url``; after the task finishes, Airflow calls :meth:`RealtimeKitRecordingLink.get_link` on
the worker and stores what it returns under the link's own XCom key for the UI.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

from airflow_provider_rtk.get_provider_info import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

log = logging.getLogger(__name__)

#: The XCom key under which the start operator pushes the recording's URL.
RECORDING_URL_XCOM_KEY = "recording_url"
DASHBOARD_URL = "https://dash.cloudflare.com"
_CLOUDFLARE_API_HOST = urlsplit(DEFAULT_BASE_URL).netloc


def _segment(value: str) -> str:
    """One URL path segment (ids are plain already; this only guards against odd input)."""
    return quote(str(value).strip(), safe="")


def recording_url(base_url: str, account_id: str, app_id: str, recording_id: str) -> str:
    """Where a person can look at a recording.

    On Cloudflare's API (the default base URL, host ``api.cloudflare.com``) that is the dashboard:
    ``https://dash.cloudflare.com/{account_id}/realtime/kit/{app_id}/recordings/{recording_id}``.
    Any other base URL is taken for the local emulator, which serves a view at
    ``{scheme}://{netloc}/_emulator/recordings/{recording_id}``.

    :param base_url: the API base URL of the connection, e.g. ``https://api.cloudflare.com/client/v4``.
    :param account_id: the Cloudflare account id.
    :param app_id: the RealtimeKit app id.
    :param recording_id: the recording's id.
    """
    base = (base_url or DEFAULT_BASE_URL).strip()
    if "://" not in base:
        base = f"https://{base}"
    parts = urlsplit(base)
    if parts.netloc.lower() == _CLOUDFLARE_API_HOST:
        return (
            f"{DASHBOARD_URL}/{_segment(account_id)}/realtime/kit/{_segment(app_id)}"
            f"/recordings/{_segment(recording_id)}"
        )
    return f"{parts.scheme}://{parts.netloc}/_emulator/recordings/{_segment(recording_id)}"


class RealtimeKitRecordingLink(BaseOperatorLink):
    """Extra link "RealtimeKit recording": the URL the start operator pushed as XCom ``recording_url``."""

    name = "RealtimeKit recording"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The pushed URL, or ``""`` when there is none (never raises: a link must not fail a task)."""
        if hasattr(operator, RECORDING_URL_XCOM_KEY):  # our operators know it (None: nothing started)
            url = getattr(operator, RECORDING_URL_XCOM_KEY)
            return url if isinstance(url, str) else ""
        xcom_pull: Any = getattr(ti_key, "xcom_pull", None)
        if xcom_pull is None:
            return ""
        try:
            value = xcom_pull(
                task_ids=ti_key.task_id,
                key=RECORDING_URL_XCOM_KEY,
                map_indexes=ti_key.map_index,
            )
        except Exception:
            log.warning(
                "Could not read the %s XCom for the recording link", RECORDING_URL_XCOM_KEY, exc_info=True
            )
            return ""
        return value if isinstance(value, str) else ""
