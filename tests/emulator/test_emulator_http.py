"""Auth, routing, ids, envelopes, meetings and sessions, and the control endpoints."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_provider_rtk.emulator import DEFAULT_ACCOUNT_ID, DEFAULT_API_TOKEN, DEFAULT_APP_ID

AUTH_ERROR = {
    "success": False,
    "errors": [{"code": 10000, "message": "Authentication error"}],
    "messages": [],
    "result": None,
}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {DEFAULT_API_TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
def test_wrong_or_missing_token_is_401_gateway_envelope(emulator, headers, web):
    for method, path in [
        ("GET", "/recordings"),
        ("POST", "/recordings/track"),
        ("GET", "/meetings/x/active-session"),
    ]:
        response = web.request(method, emulator.app_url + path, headers=headers, json={})
        assert response.status_code == 401
        assert response.json() == AUTH_ERROR


def test_default_token_and_ids(emulator, api, web):
    assert emulator.api_token == DEFAULT_API_TOKEN == "emulator-token"
    assert (emulator.account_id, emulator.app_id) == (DEFAULT_ACCOUNT_ID, DEFAULT_APP_ID)
    assert emulator.base_url == f"http://127.0.0.1:{emulator.port}/client/v4"
    assert api.get("/recordings").status_code == 200
    other_ids = web.get(
        f"{emulator.base_url}/accounts/someone/realtime/kit/another-app/recordings",
        headers={"Authorization": f"Bearer {emulator.api_token}"},
    )
    assert other_ids.status_code == 200


def test_configured_ids_reject_others_with_404(make_emulator, client_for, web):
    emulator = make_emulator(account_id="acc1", app_id="app1", api_token="tok")
    assert client_for(emulator).get("/recordings").status_code == 200
    for account, app in [("acc2", "app1"), ("acc1", "app2")]:
        response = web.get(
            f"{emulator.base_url}/accounts/{account}/realtime/kit/{app}/recordings",
            headers={"Authorization": "Bearer tok"},
        )
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == 7003


def test_unknown_ids_are_404_in_the_realtimekit_envelope(api):
    for path, message in [
        ("/recordings/0b0b0b0b-0000-0000-0000-000000000000", "No recording found"),
        ("/meetings/0b0b0b0b-0000-0000-0000-000000000000", "No meeting found"),
        ("/recordings/active-recording/nope", "No active recording found for meeting_id nope"),
        ("/meetings/nope/active-session", "No active session found for meeting_id nope"),
    ]:
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["success"] is False
        assert response.json()["error"]["code"] == 404
        assert message in response.json()["error"]["message"]
    assert api.put("/recordings/nope", json={"action": "stop"}).status_code == 404
    assert api.post("/recordings/track", json={"meeting_id": "nope"}).status_code == 404


def test_unknown_route_and_wrong_method(emulator, api, web):
    missing = api.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == 7003
    assert api.delete("/recordings").status_code == 405
    assert web.get(f"{emulator.origin}/elsewhere").status_code == 404


def test_start_without_live_session_is_400(emulator, api):
    meeting_id = emulator.create_meeting("empty room")["id"]
    response = api.post("/recordings/track", json={"meeting_id": meeting_id})
    assert response.status_code == 400
    assert "no active session" in response.json()["error"]["message"].lower()


def test_meetings_api(emulator, api):
    created = api.post("/meetings", json={"title": "weekly", "record_on_start": False})
    assert created.status_code == 201
    meeting = created.json()["data"]
    assert meeting["title"] == "weekly"
    assert len(meeting["id"]) == 36
    assert api.get(f"/meetings/{meeting['id']}").json()["data"]["title"] == "weekly"
    assert api.post("/meetings").status_code == 201  # no body: a meeting without a title
    listed = api.get("/meetings", params={"search": "WEEK"}).json()
    assert [m["id"] for m in listed["data"]] == [meeting["id"]]
    assert listed["paging"] == {"total_count": 1, "start_offset": 1, "end_offset": 1}


def test_active_session(emulator, api, web):
    meeting_id = emulator.create_meeting("daily")["id"]
    assert api.get(f"/meetings/{meeting_id}/active-session").status_code == 404
    started = web.post(
        f"{emulator.origin}/_emulator/meetings/{meeting_id}/session", json={"participants": ["a", "b", "c"]}
    )
    assert started.status_code == 200

    answer = api.get(f"/meetings/{meeting_id}/active-session").json()
    session = answer["data"]
    assert session["status"] == "LIVE"
    assert session["associated_id"] == meeting_id
    assert session["live_participants"] == 3
    assert session["meeting_display_name"] == "daily"
    assert session["id"] == started.json()["data"]["id"]
    again = web.post(f"{emulator.origin}/_emulator/meetings/{meeting_id}/session")
    assert again.json()["data"]["id"] == session["id"]  # idempotent while live


def test_control_session_creates_unknown_meeting(emulator, api, web):
    response = web.post(f"{emulator.base_url}/_emulator/meetings/room-42/session")
    assert response.status_code == 200
    assert api.get("/meetings/room-42").json()["data"]["id"] == "room-42"
    assert web.delete(f"{emulator.origin}/_emulator/meetings/room-42/session").status_code == 200
    assert web.delete(f"{emulator.origin}/_emulator/meetings/room-42/session").status_code == 404


@pytest.mark.parametrize("prefix", ["/_emulator", "/client/v4/_emulator"])
def test_control_endpoints_need_no_auth(emulator, api, live_meeting, prefix, web):
    api.post("/recordings/track", json={"meeting_id": live_meeting})
    state = web.get(f"{emulator.origin}{prefix}/state").json()["data"]
    assert [m["id"] for m in state["meetings"]] == [live_meeting]
    assert state["recordings"][0]["request_body"] == {"meeting_id": live_meeting}
    assert state["faults"] == []
    assert state["rate_limit"] == {"requests": None, "window_seconds": 60.0}

    created = web.post(f"{emulator.origin}{prefix}/meetings", json={"title": "via control", "id": "ctl-1"})
    assert created.status_code == 201
    assert web.post(f"{emulator.origin}{prefix}/reset").status_code == 200
    assert emulator.state()["meetings"] == []
    assert api.get("/recordings").json()["paging"]["total_count"] == 0


def test_reset_clears_state_faults_and_limits(emulator, api, live_meeting):
    api.post("/recordings/track", json={"meeting_id": live_meeting})
    emulator.add_fault("get_all_recordings", "status", status=500, times=None)
    emulator.set_rate_limit(1, 60)
    emulator.reset()
    assert emulator.recordings() == []
    assert emulator.faults() == []
    assert [api.get("/recordings").status_code for _ in range(3)] == [200, 200, 200]


def test_airflow_connection_json(emulator):
    connection = json.loads(emulator.airflow_connection_json())
    assert connection == {
        "conn_type": "realtimekit",
        "password": "emulator-token",
        "host": emulator.base_url,
        "extra": {
            "account_id": DEFAULT_ACCOUNT_ID,
            "app_id": DEFAULT_APP_ID,
            "recording_link": f"{emulator.origin}/_emulator/recordings/{{recording_id}}",
            "webhook_keys_url": f"{emulator.origin}/.well-known/webhooks.json",
        },
    }


def test_keep_alive_connection_serves_many_requests(api, live_meeting):
    with httpx.Client(
        base_url=str(api.base_url), headers=dict(api.headers), limits=httpx.Limits(max_connections=1)
    ) as one:
        assert all(one.get("/recordings").status_code == 200 for _ in range(20))


def test_stop_closes_open_connections(make_emulator, client_for):
    emulator = make_emulator()
    client = client_for(emulator)
    assert client.get("/recordings").status_code == 200
    emulator.stop()
    assert not emulator.running
    with pytest.raises(httpx.TransportError):
        client.get("/recordings")
    emulator.stop()  # idempotent


def test_package_import_is_cheap(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_rtk.emulator as e; "
        "heavy = ('airflow', 'pydantic', 'airflow_provider_rtk.emulator.server'); "
        "print([name for name in heavy if name in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_recording_view_for_the_task_link(emulator, api, live_meeting, web):
    body = {
        "meeting_id": live_meeting,
        "layers": {
            "default": {
                "outputs": [
                    {
                        "type": "STORAGE_CONFIG",
                        "storage_config": {"type": "aws", "bucket": "b", "secret": "top-secret"},
                    }
                ]
            }
        },
    }
    recording_id = api.post("/recordings/track", json=body).json()["data"]["recording"]["id"]
    view = f"{emulator.origin}/_emulator/recordings/{recording_id}"

    running = web.get(view, headers={"Accept": "text/html"})
    assert running.status_code == 200
    assert running.headers["Content-Type"].startswith("text/html")
    assert recording_id in running.text
    assert "RECORDING" in running.text
    assert 'http-equiv="refresh"' in running.text
    assert "top-secret" not in running.text

    api.put(f"/recordings/{recording_id}", json={"action": "stop"})
    done = web.get(view, headers={"Accept": "text/html"}).text
    assert 'http-equiv="refresh"' not in done
    assert f'href="{emulator.origin}/files/' in done

    as_json = web.get(view).json()["data"]
    assert as_json["status"] == "UPLOADED"
    assert as_json["recording"]["id"] == recording_id
    assert as_json["request_body"]["layers"]["default"]["outputs"][0]["storage_config"]["secret"] == "***"
    assert web.get(f"{emulator.origin}/_emulator/recordings/nope").status_code == 404


def test_the_provider_task_link_opens_the_view(emulator, api, live_meeting, web):
    from airflow_provider_rtk import links

    recording_id = api.post("/recordings/track", json={"meeting_id": live_meeting}).json()["data"][
        "recording"
    ]["id"]
    template = emulator.airflow_connection()["extra"]["recording_link"]
    url = links.recording_url(
        emulator.base_url, emulator.account_id, emulator.app_id, recording_id, link_template=template
    )
    assert url == f"{emulator.origin}/_emulator/recordings/{recording_id}"
    assert web.get(url).json()["data"]["id"] == recording_id


def test_request_log_lists_what_was_asked_in_order(emulator, api, live_meeting) -> None:
    api.get(f"meetings/{live_meeting}/active-session")
    api.get("recordings", params={"meeting_id": live_meeting})

    *_, first, second = emulator.requests()

    assert first["method"] == second["method"] == "GET"
    assert first["path"].endswith(f"/meetings/{live_meeting}/active-session")
    assert second["path"].endswith("/recordings")
    assert first["at"] <= second["at"]
    emulator.reset()
    assert emulator.requests() == []


def test_request_log_over_http_has_each_answer_and_reads_from_a_time(emulator, api, web) -> None:
    emulator.add_fault("get_all_meetings", "drop_before")
    api.get("/recordings")
    with pytest.raises(httpx.TransportError):
        api.get("/meetings")
    control = f"{emulator.origin}/_emulator/requests"

    logged = [
        entry for entry in web.get(control).json()["data"] if not entry["path"].startswith("/_emulator")
    ]

    listed, dropped = logged[-2:]
    assert (listed["path"].rsplit("/", 1)[-1], listed["status"]) == ("recordings", 200)
    assert (dropped["path"].rsplit("/", 1)[-1], dropped["status"]) == ("meetings", "dropped")
    assert listed["at"] <= listed["answered_at"] <= dropped["at"] <= dropped["answered_at"]
    since = web.get(control, params={"since": dropped["at"]}).json()["data"]
    assert since[0] == dropped
    assert since[-1]["path"] == "/_emulator/requests"
    assert since[-1]["status"] is None  # the request that reads the log is not answered yet
    assert web.get(control, params={"since": "yesterday"}).status_code == 400
