"""The hook's webhooks calls: their requests, answers read into models, and arguments checked first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from tests.api_answers import ok

if TYPE_CHECKING:
    import respx

    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook

WEBHOOK = {
    "id": "0d1f069d-43bb-489a-ad8c-7eb95592ba8e",
    "name": "airflow",
    "url": "https://airflow.example.com/realtimekit/webhooks/realtimekit_default",
    "events": ["meeting.started"],
    "enabled": True,
    "created_at": "2026-12-07T09:00:00.000Z",
    "updated_at": "2026-12-07T09:00:00.000Z",
}


def test_list_get_create_update_delete(api: respx.MockRouter, hook: RealtimeKitHook) -> None:
    api.get("/webhooks").mock(return_value=ok([WEBHOOK]))
    api.get(f"/webhooks/{WEBHOOK['id']}").mock(return_value=ok(WEBHOOK))
    created = api.post("/webhooks").mock(return_value=ok(WEBHOOK, status=201))
    replaced = api.put(f"/webhooks/{WEBHOOK['id']}").mock(return_value=ok(WEBHOOK))
    deleted = api.delete(f"/webhooks/{WEBHOOK['id']}").mock(return_value=ok({}))

    assert [w.id for w in hook.list_webhooks()] == [WEBHOOK["id"]]
    assert hook.get_webhook(WEBHOOK["id"]).events == ["meeting.started"]
    hook.create_webhook("airflow", WEBHOOK["url"], ["recording.statusUpdate", "meeting.started"])
    hook.update_webhook(WEBHOOK["id"], "airflow", WEBHOOK["url"], ["meeting.started"], enabled=False)
    hook.delete_webhook(WEBHOOK["id"])

    assert json.loads(created.calls.last.request.content) == {
        "name": "airflow",
        "url": WEBHOOK["url"],
        "events": ["meeting.started", "recording.statusUpdate"],
        "enabled": True,
    }
    assert json.loads(replaced.calls.last.request.content)["enabled"] is False
    assert deleted.call_count == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "http://airflow.example.com/x"}, "url"),
        ({"url": "https://u:p@airflow.example.com/x"}, "url"),
        ({"events": ["meeting.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_webhook_arguments_are_refused_before_any_request(
    api: respx.MockRouter, hook: RealtimeKitHook, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"name": "airflow", "url": WEBHOOK["url"], "events": ["meeting.started"]}
    arguments.update(kwargs)

    with pytest.raises(RealtimeKitPayloadError, match=field):
        hook.create_webhook(**arguments)  # type: ignore[arg-type]
    assert api.calls.call_count == 0


def test_a_webhook_id_cannot_change_the_path(api: respx.MockRouter, hook: RealtimeKitHook) -> None:
    with pytest.raises(RealtimeKitPayloadError, match="webhook_id"):
        hook.delete_webhook("../recordings/x")
    assert api.calls.call_count == 0
