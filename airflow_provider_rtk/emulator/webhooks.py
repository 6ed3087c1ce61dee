"""The app's webhook configurations: ``{name, url, events, enabled}``, as the Webhooks API keeps them.

Written from Cloudflare's API reference (developers.cloudflare.com/api/resources/realtime_kit/
subresources/webhooks/: ``create_webhook``, ``get_webhooks``, ``get_webhook_by_id``,
``replace_webhook``, ``edit_webhook``, ``delete_webhook``) and the webhooks guide
(developers.cloudflare.com/realtime/realtimekit/webhooks/, "Supported events"). A webhook answers as
``{id (uuid), name, url, events, enabled, created_at, updated_at}``; ``enabled`` defaults to true.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_rtk.emulator.messages import ApiError
from airflow_provider_rtk.emulator.state import iso_time
from airflow_provider_rtk.emulator.validation import Checker, child

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.settings import UnknownFields

#: The events a webhook may subscribe to (the reference's enum, in its order).
WEBHOOK_EVENTS = (
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "meeting.chatSynced",
    "recording.statusUpdate",
    "livestreaming.statusUpdate",
    "meeting.transcript",
    "meeting.summary",
)
WEBHOOK_FIELDS = ("name", "url", "events", "enabled")


@dataclass
class Webhook:
    id: str
    name: str
    url: str
    events: list[str]
    enabled: bool
    created_at: float
    updated_at: float

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "enabled": self.enabled,
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(self.updated_at),
        }


def parse_webhook(body: Any, *, partial: bool, unknown_fields: UnknownFields = "reject") -> dict[str, Any]:
    """The fields of a create/replace (``partial=False``: name, url, events required) or edit body."""
    check = Checker("webhook request", unknown_fields)
    top = check.object_at(body, "", WEBHOOK_FIELDS, () if partial else ("name", "url", "events"))
    if top is None:
        raise check.error()
    fields: dict[str, Any] = {}
    if "name" in top:
        fields["name"] = check.string_at(top["name"], "name", min_length=1)
    if "url" in top:
        url = check.string_at(top["url"], "url", min_length=1)
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                check.add("url", "must be an absolute http(s) URL")
        fields["url"] = url
    if "events" in top:
        events = check.array_at(top["events"], "events", min_items=1)
        for index, event in enumerate(events):
            check.choice_at(event, child("events", index), WEBHOOK_EVENTS)
        fields["events"] = list(dict.fromkeys(events))
    if "enabled" in top:
        fields["enabled"] = check.boolean_at(top["enabled"], "enabled")
    check.raise_if_any()
    return fields


class WebhookRegistry:
    """Every webhook of the app (in creation order), behind a lock; answers copies."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._webhooks: dict[str, Webhook] = {}

    def create(self, fields: Mapping[str, Any]) -> Webhook:
        now = self._clock()
        webhook = Webhook(
            id=str(uuid.uuid4()),
            name=fields["name"],
            url=fields["url"],
            events=list(fields["events"]),
            enabled=fields.get("enabled", True),
            created_at=now,
            updated_at=now,
        )
        with self._lock:
            self._webhooks[webhook.id] = webhook
            return copy.deepcopy(webhook)

    def _get(self, webhook_id: str) -> Webhook:
        webhook = self._webhooks.get(webhook_id)
        if webhook is None:
            raise ApiError(404, f"No webhook found for webhook_id {webhook_id}")
        return webhook

    def get(self, webhook_id: str) -> Webhook:
        with self._lock:
            return copy.deepcopy(self._get(webhook_id))

    def all(self) -> list[Webhook]:
        with self._lock:
            return copy.deepcopy(list(self._webhooks.values()))

    def update(self, webhook_id: str, fields: Mapping[str, Any], *, replace: bool) -> Webhook:
        """Replace (``enabled`` back to true unless given) or edit (only the fields given)."""
        with self._lock:
            webhook = self._get(webhook_id)
            if replace:
                fields = {"enabled": True, **fields}
            for name, value in fields.items():
                setattr(webhook, name, list(value) if name == "events" else value)
            webhook.updated_at = self._clock()
            return copy.deepcopy(webhook)

    def delete(self, webhook_id: str) -> Webhook:
        with self._lock:
            return self._webhooks.pop(self._get(webhook_id).id)

    def subscribed(self, event: str) -> list[Webhook]:
        """The enabled webhooks that receive ``event``."""
        with self._lock:
            return [copy.deepcopy(w) for w in self._webhooks.values() if w.enabled and event in w.events]

    def any_enabled(self) -> bool:
        with self._lock:
            return any(webhook.enabled for webhook in self._webhooks.values())

    def clear(self) -> None:
        with self._lock:
            self._webhooks.clear()
