"""``GET /sessions`` (the app's sessions, for the live-meeting watcher) and ``GET /sessions/{id}``."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def three(make_emulator, client_for, fake_clock):
    """Three sessions: alpha (0-100 s, ended, 3 people), beta (from 60 s, live, 1), alpha again (from
    100 s, live, 2); now is 130 s."""
    emulator = make_emulator(clock=fake_clock)
    client = client_for(emulator)
    alpha = emulator.create_meeting("alpha review")["id"]
    beta = emulator.create_meeting("beta planning")["id"]
    first = emulator.start_session(alpha, ["a", "b", "c"])["id"]
    fake_clock.advance(60)
    second = emulator.start_session(beta, ["d"])["id"]
    fake_clock.advance(40)
    emulator.end_session(alpha)
    third = emulator.start_session(alpha, ["a", "b"])["id"]
    fake_clock.advance(30)
    return emulator, client, [first, second, third], alpha, beta


def sessions(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/sessions", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [session["id"] for session in body["data"]["sessions"]]


def test_all_sessions_newest_first_with_paging(three):
    _, client, (first, second, third), _, _ = three
    body = sessions(client)
    assert ids(body) == [third, second, first]
    assert body["paging"] == {"total_count": 3, "start_offset": 1, "end_offset": 3}
    page = sessions(client, per_page=2, page_no=2)
    assert ids(page) == [first]
    assert page["paging"] == {"total_count": 3, "start_offset": 3, "end_offset": 3}


def test_status_filter_finds_live_and_ended_sessions(three):
    _, client, (first, second, third), _, _ = three
    live = sessions(client, status="LIVE")
    assert ids(live) == [third, second]
    assert {session["status"] for session in live["data"]["sessions"]} == {"LIVE"}
    assert all("ended_at" not in session for session in live["data"]["sessions"])
    ended = sessions(client, status="ENDED")
    assert ids(ended) == [first]
    assert ended["data"]["sessions"][0]["ended_at"].endswith("Z")
    assert ended["data"]["sessions"][0]["live_participants"] == 0


def test_meeting_search_time_participants_and_sort(three):
    _, client, (first, second, third), alpha, _ = three
    assert ids(sessions(client, associated_id=alpha)) == [third, first]
    assert ids(sessions(client, search="BETA")) == [second]
    assert ids(sessions(client, search=first[:8])) == [first]
    assert ids(sessions(client, participants="2:3")) == [third, first]
    assert ids(sessions(client, participants="1")) == [second]
    assert ids(sessions(client, participants=":2")) == [third, second]
    assert ids(sessions(client, sort_order="ASC")) == [first, second, third]
    # minutes: first ran 100 s (ended), second 70 s so far, third 30 s so far
    assert ids(sessions(client, sort_by="minutesConsumed")) == [first, second, third]
    started = {s["id"]: s["started_at"] for s in sessions(client)["data"]["sessions"]}
    assert ids(sessions(client, start_time=started[second])) == [third, second]
    assert ids(sessions(client, end_time=started[second])) == [second, first]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": "SLEEPING"}, "status"),
        ({"sort_by": "title"}, "sort_by"),
        ({"sort_order": "UP"}, "sort_order"),
        ({"participants": "many"}, "participants"),
        ({"page_no": "x"}, "page_no"),
        ({"start_time": "noon"}, "start_time"),
    ],
)
def test_bad_query_is_400_naming_it(three, params, name):
    _, client, _, _, _ = three
    response = client.get("/sessions", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"Invalid query: {name}: ")


def test_session_details(three):
    _, client, (first, _, third), alpha, _ = three
    answer = client.get(f"/sessions/{first}").json()
    assert answer["success"] is True
    assert answer["data"]["id"] == first
    assert answer["data"]["associated_id"] == alpha
    assert answer["data"]["status"] == "ENDED"
    assert (
        client.get(f"/sessions/{third}", params={"include_breakout_rooms": "true"}).json()["data"][
            "breakout_rooms"
        ]
        == []
    )
    missing = client.get("/sessions/no-such-session")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404
