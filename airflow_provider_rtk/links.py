"""The "RealtimeKit recording" button on a task, and the URL it points to.

The start operator computes the URL with :func:`recording_url` and pushes it as the XCom
``recording_url``; after the task finishes, Airflow calls :meth:`RealtimeKitRecordingLink.get_link` on
the worker and stores what it returns under the link's own XCom key for the UI.

Where a recording can be looked at is Cloudflare's dashboard for Cloudflare's API, and whatever the
connection says (its extra ``recording_link``) for any other base URL; without that, there is no link.
"""

from __future__ import annotations

import logging
import string
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
#: The connection extra with the URL of a recording, e.g. ``https://rec.example.com/r/{recording_id}``.
RECORDING_LINK_EXTRA = "recording_link"
#: The placeholders a ``recording_link`` may use; ``{recording_id}`` is required.
LINK_PLACEHOLDERS = ("recording_id", "account_id", "app_id")
DASHBOARD_URL = "https://dash.cloudflare.com"
_CLOUDFLARE_API_HOST = urlsplit(DEFAULT_BASE_URL).netloc


def _segment(value: str) -> str:
    """One URL path segment (ids are plain already; this only guards against odd input)."""
    return quote(str(value).strip(), safe="")


def check_link_template(template: object) -> str | None:
    """The connection's ``extra.recording_link``, checked; ``None`` when it is not set.

    It must be an ``http``/``https`` URL that names ``{recording_id}`` and no placeholder other than
    ``{recording_id}``, ``{account_id}`` and ``{app_id}`` (no conversions or format specs; ``{{`` and
    ``}}`` are literal braces).

    :raises RealtimeKitConnectionConfigError: naming ``extra.recording_link`` and what is wrong.
    """
    if template is None or (isinstance(template, str) and not template.strip()):
        return None
    # here, not at the top: a DAG file imports this module (through the operators) and never needs it
    from airflow_provider_rtk.exceptions import RealtimeKitConnectionConfigError

    field = f"extra.{RECORDING_LINK_EXTRA}"
    if not isinstance(template, str):
        raise RealtimeKitConnectionConfigError(f"{field} must be a string, not {type(template).__name__}")
    template = template.strip()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise RealtimeKitConnectionConfigError(f"{field} is not a valid template: {error}") from None
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in LINK_PLACEHOLDERS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise RealtimeKitConnectionConfigError(
                f"{field} may only use {', '.join('{' + p + '}' for p in LINK_PLACEHOLDERS)}, not {shown}"
            )
        names.add(name)
    if "recording_id" not in names:
        raise RealtimeKitConnectionConfigError(f"{field} must contain {{recording_id}}")
    parts = urlsplit(template)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise RealtimeKitConnectionConfigError(f"{field} must be an http or https URL")
    return template


def recording_url(
    base_url: str,
    account_id: str,
    app_id: str,
    recording_id: str,
    *,
    link_template: str | None = None,
) -> str | None:
    """Where a person can look at a recording, or ``None`` when nothing says where.

    ``link_template`` (the connection's ``extra.recording_link``) wins when it is set: its
    placeholders are filled with the ids, each quoted as one URL path segment. Otherwise Cloudflare's
    API (the default base URL, host ``api.cloudflare.com``) links to the dashboard,
    ``https://dash.cloudflare.com/{account_id}/realtime/kit/{app_id}/recordings/{recording_id}``,
    and any other base URL has no link.

    :param base_url: the API base URL of the connection, e.g. ``https://api.cloudflare.com/client/v4``.
    :param account_id: the Cloudflare account id.
    :param app_id: the RealtimeKit app id.
    :param recording_id: the recording's id.
    :param link_template: the connection's ``recording_link`` (see :func:`check_link_template`).
    :raises RealtimeKitConnectionConfigError: if ``link_template`` is not a valid link.
    """
    ids = {"recording_id": recording_id, "account_id": account_id, "app_id": app_id}
    template = check_link_template(link_template)
    if template is not None:
        return template.format_map({name: _segment(value) for name, value in ids.items()})
    base = (base_url or DEFAULT_BASE_URL).strip()
    if "://" not in base:
        base = f"https://{base}"
    if urlsplit(base).netloc.lower() == _CLOUDFLARE_API_HOST:
        return (
            f"{DASHBOARD_URL}/{_segment(account_id)}/realtime/kit/{_segment(app_id)}"
            f"/recordings/{_segment(recording_id)}"
        )
    return None


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
