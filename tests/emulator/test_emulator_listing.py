"""``GET /recordings`` and ``GET /meetings``: paging, sorting and every filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def five(make_emulator, client_for, fake_clock):
    """Five recordings 10 s apart in two meetings; the last one still running."""
    emulator = make_emulator(clock=fake_clock)
    client = client_for(emulator)
    alpha = emulator.create_meeting("alpha review")["id"]
    beta = emulator.create_meeting("beta planning")["id"]
    emulator.start_session(alpha)
    emulator.start_session(beta)
    ids = []
    for index in range(5):
        meeting = alpha if index % 2 == 0 else beta
        answer = client.post("/recordings/track", json={"meeting_id": meeting}).json()["data"]["recording"]
        ids.append(answer["id"])
        if index < 4:
            client.put(f"/recordings/{answer['id']}", json={"action": "stop"})
        fake_clock.advance(10)
    return emulator, client, fake_clock, ids, alpha, beta


def listed(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/recordings", params=params)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def test_pages_and_offsets(five):
    _, client, _, ids, _, _ = five
    newest_first = list(reversed(ids))
    pages = [listed(client, per_page=2, page_no=page) for page in (1, 2, 3, 4)]
    assert [[r["id"] for r in page["data"]] for page in pages] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:5],
        [],
    ]
    assert [page["paging"] for page in pages[:3]] == [
        {"total_count": 5, "start_offset": 1, "end_offset": 2},
        {"total_count": 5, "start_offset": 3, "end_offset": 4},
        {"total_count": 5, "start_offset": 5, "end_offset": 5},
    ]
    assert pages[3]["paging"]["total_count"] == 5
    assert all(page["success"] is True for page in pages)


def test_sort_order(five):
    _, client, _, ids, _, _ = five
    assert [r["id"] for r in listed(client, sort_by="invokedTime", sort_order="ASC")["data"]] == ids
    assert [r["id"] for r in listed(client, sort_by="invokedTime", sort_order="DESC")["data"]] == ids[::-1]


def test_status_filter_takes_comma_lists_and_repeats(five):
    _, client, _, ids, _, _ = five
    assert [r["id"] for r in listed(client, status="RECORDING")["data"]] == [ids[4]]
    assert len(listed(client, status="UPLOADED")["data"]) == 4
    assert listed(client, status="RECORDING,UPLOADED")["paging"]["total_count"] == 5
    response = client.get("/recordings", params=[("status", "RECORDING"), ("status", "PAUSED")])
    assert [r["id"] for r in response.json()["data"]] == [ids[4]]
    assert listed(client, status="PAUSED")["data"] == []


def test_meeting_and_search_filters(five):
    _, client, _, ids, alpha, beta = five
    assert {r["id"] for r in listed(client, meeting_id=beta)["data"]} == {ids[1], ids[3]}
    assert {r["id"] for r in listed(client, search="ALPHA")["data"]} == {ids[0], ids[2], ids[4]}
    assert [r["id"] for r in listed(client, search=ids[3][:13])["data"]] == [ids[3]]
    entry = listed(client, meeting_id=alpha, per_page=1)["data"][0]
    assert entry["meeting"]["title"] == "alpha review"
    assert entry["meeting_id"] == alpha


def test_time_window_filter(five):
    _, client, clock, ids, _, _ = five
    first = clock.now - 50  # when the first recording was invoked
    window = listed(client, start_time=iso(first + 10), end_time=iso(first + 30), sort_order="ASC")
    assert [r["id"] for r in window["data"]] == ids[1:4]
    assert listed(client, start_time=iso(first + 41))["data"] == []


def test_expired_filter(five):
    _, client, clock, ids, _, _ = five
    assert listed(client, expired="true")["data"] == []
    assert listed(client, expired="false")["paging"]["total_count"] == 5
    clock.advance(7 * 24 * 3600 + 60)  # the stopped four expired; the running one stopped at 24 h, not yet
    assert {r["id"] for r in listed(client, expired="true")["data"]} == set(ids[:4])
    assert [r["id"] for r in listed(client, expired="false")["data"]] == [ids[4]]


def test_meeting_list_pages(make_emulator, client_for, fake_clock):
    emulator = make_emulator(clock=fake_clock)
    client = client_for(emulator)
    ids = []
    for index in range(3):
        ids.append(emulator.create_meeting(f"m{index}")["id"])
        fake_clock.advance(1)
    first = client.get("/meetings", params={"per_page": 2}).json()
    assert [m["id"] for m in first["data"]] == [ids[2], ids[1]]
    assert first["paging"] == {"total_count": 3, "start_offset": 1, "end_offset": 2}
    second = client.get("/meetings", params={"per_page": 2, "page_no": 2}).json()
    assert [m["id"] for m in second["data"]] == [ids[0]]
    assert client.get("/meetings", params={"status": "INACTIVE"}).json()["data"] == []
