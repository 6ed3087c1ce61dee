"""The Webhooks API: create, list, get, replace, edit, delete, as Cloudflare's API reference shows it."""

from __future__ import annotations

import pytest

from airflow_provider_rtk.emulator.webhooks import WEBHOOK_EVENTS

BODY = {"name": "airflow", "url": "https://example.com/hook", "events": ["meeting.started"]}


def test_create_answers_201_with_the_webhook(api):
    answer = api.post("/webhooks", json=BODY)
    assert answer.status_code == 201
    data = answer.json()["data"]
    assert answer.json()["success"] is True
    assert set(data) == {"id", "name", "url", "events", "enabled", "created_at", "updated_at"}
    assert {k: data[k] for k in BODY} == BODY
    assert data["enabled"] is True  # the default
    assert data["created_at"].endswith("Z")


def test_list_get_edit_replace_delete(api):
    first = api.post("/webhooks", json=BODY).json()["data"]
    second = api.post("/webhooks", json={**BODY, "name": "other", "enabled": False}).json()["data"]
    assert [w["id"] for w in api.get("/webhooks").json()["data"]] == [first["id"], second["id"]]
    assert api.get(f"/webhooks/{first['id']}").json()["data"] == first

    edited = api.patch(f"/webhooks/{second['id']}", json={"events": ["meeting.ended"]}).json()["data"]
    assert edited["events"] == ["meeting.ended"]
    assert edited["enabled"] is False
    assert edited["name"] == "other"

    replaced = api.put(f"/webhooks/{second['id']}", json={**BODY, "name": "new"}).json()["data"]
    assert replaced["name"] == "new"
    assert replaced["enabled"] is True

    assert api.delete(f"/webhooks/{first['id']}").json()["data"]["id"] == first["id"]
    assert api.get(f"/webhooks/{first['id']}").status_code == 404
    assert [w["id"] for w in api.get("/webhooks").json()["data"]] == [second["id"]]


def test_the_event_list(api):
    assert api.get("/webhooks/all").json()["data"] == list(WEBHOOK_EVENTS)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"url": "https://e.com", "events": ["meeting.started"]}, "name: is required"),
        ({**BODY, "events": ["meeting.exploded"]}, "events[0]"),
        ({**BODY, "events": []}, "events"),
        ({**BODY, "url": "ftp://example.com/x"}, "url: must be an absolute http(s) URL"),
        ({**BODY, "enabled": "yes"}, "enabled: must be true or false"),
        ({**BODY, "secret": "x"}, "secret: is not a field"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(api, body, named):
    answer = api.post("/webhooks", json=body)
    assert answer.status_code == 400
    assert named in answer.json()["error"]["message"]


def test_an_unknown_webhook_is_a_404(api):
    assert api.patch("/webhooks/nope", json={"enabled": False}).status_code == 404
    assert api.delete("/webhooks/nope").status_code == 404


def test_the_api_needs_the_token(emulator, client_for):
    assert client_for(emulator, token="wrong").get("/webhooks").status_code == 401


def test_reset_forgets_added_webhooks_and_keeps_configured_ones(make_emulator):
    emulator = make_emulator(webhooks=[BODY])
    emulator.add_webhook("http://127.0.0.1:1/x", ["meeting.ended"])
    assert len(emulator.webhooks()) == 2
    emulator.reset()
    assert [w["name"] for w in emulator.webhooks()] == ["airflow"]


def test_configured_webhooks_are_registered_once_across_restarts(make_emulator, web):
    emulator = make_emulator(webhooks=[BODY])
    emulator.stop()
    emulator.start()
    assert [w["name"] for w in emulator.webhooks()] == ["airflow"]
    assert [w["name"] for w in web.get(f"{emulator.origin}/_emulator/state").json()["data"]["webhooks"]] == [
        "airflow"
    ]


def test_a_bad_configured_webhook_is_refused_at_construction(make_emulator):
    with pytest.raises(ValueError, match="events"):
        make_emulator(webhooks=[{**BODY, "events": ["nope"]}])
