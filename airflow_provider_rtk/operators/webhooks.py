"""Making sure the app has a webhook to a URL with given events: :func:`ensure_webhook` and its operator.

Idempotent: calling it twice leaves one webhook. A webhook of the app to the same URL (compared
without a trailing slash) is reused: left alone when it already has the events and state asked for,
else replaced (``PUT``) with them, never duplicated. Only when none exists is one created (``POST``,
not retried). Other webhooks of the app are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_rtk.get_provider_info import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
    from airflow_provider_rtk.models import Webhook

#: What the receiver turns into asset events.
DEFAULT_EVENTS = ("meeting.started", "recording.statusUpdate")
Action = Literal["created", "updated", "unchanged"]


def _same_url(left: str, right: str) -> bool:
    return left.rstrip("/") == right.rstrip("/")


def ensure_webhook(
    hook: RealtimeKitHook,
    url: str,
    events: Sequence[str] = DEFAULT_EVENTS,
    *,
    name: str = "airflow",
    enabled: bool = True,
) -> tuple[Webhook, Action]:
    """The app's one webhook to ``url`` with ``events``, and what it took (see the module docstring).
    The arguments are checked before any request."""
    from airflow_provider_rtk.models import WebhookRequest

    wanted = WebhookRequest.of(name=name, url=url, events=events, enabled=enabled)
    existing = [webhook for webhook in hook.list_webhooks() if _same_url(webhook.url, wanted.url)]
    if not existing:
        return hook.create_webhook(wanted.name, wanted.url, wanted.events, wanted.enabled), "created"
    current = existing[0]
    if sorted(current.events) == wanted.events and current.enabled == wanted.enabled:
        return current, "unchanged"
    updated = hook.update_webhook(
        current.id, current.name or wanted.name, wanted.url, wanted.events, wanted.enabled
    )
    return updated, "updated"


class RealtimeKitEnsureWebhookOperator(BaseOperator):
    """Make sure the connection's app has a webhook to ``url`` with ``events`` (see the module
    docstring); pushes the webhook's id, name, URL, events and state, and ``action`` to XCom.

    :param url: where the service is to deliver, e.g.
        ``https://airflow.example.com/realtimekit/webhooks/realtimekit_default`` (https only).
    :param events: the events to subscribe to (default ``meeting.started`` and
        ``recording.statusUpdate``, what the receiver records).
    :param webhook_name: the name of a webhook it creates.
    :param enabled: whether the webhook is active.
    """

    template_fields: Sequence[str] = ("url", "webhook_name")

    def __init__(
        self,
        *,
        url: str,
        events: Sequence[str] = DEFAULT_EVENTS,
        webhook_name: str = "airflow",
        enabled: bool = True,
        realtimekit_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_provider_rtk.arguments import webhook_events_argument

        self.url = url
        self.events = webhook_events_argument(events)
        self.webhook_name = webhook_name
        self.enabled = enabled
        self.realtimekit_conn_id = realtimekit_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

        with RealtimeKitHook(realtimekit_conn_id=self.realtimekit_conn_id) as hook:
            webhook, action = ensure_webhook(
                hook, self.url, self.events, name=self.webhook_name, enabled=self.enabled
            )
        self.log.info("Webhook %s to %s: %s (events %s)", webhook.id, webhook.url, action, webhook.events)
        return {**webhook.to_xcom(), "action": action}
