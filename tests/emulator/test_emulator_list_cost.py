"""``GET /recordings`` costs what it lists, not what exists, and answers as a full sort and filter would.

No timings: the cost is counted (recordings brought up to date, copied, turned into answers per page).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_rtk.emulator.api_facts import RecordingAction, RecordingStatus
from airflow_provider_rtk.emulator.messages import ApiError
from airflow_provider_rtk.emulator.state import EmulatorState, Recording, RecordingQuery
from airflow_provider_rtk.emulator.validation import parse_track_start

if TYPE_CHECKING:
    from .conftest import FakeClock

UNFINISHED = "INVOKED,RECORDING,PAUSED,UPLOADING"
PER_PAGE = 20


def fill(state: EmulatorState, count: int, clock: FakeClock) -> list[str]:
    """``count`` track recordings, one per meeting, 0.01 s apart (every tenth one stopped)."""
    ids = []
    for index in range(count):
        meeting_id = f"meeting-{index}"
        state.create_meeting(f"title {index}", meeting_id=meeting_id)
        state.start_session(meeting_id)
        body = {"meeting_id": meeting_id}
        ids.append(state.start_track(parse_track_start(body), body).id)
        clock.advance(0.01)
    for recording_id in ids[::10]:
        state.apply_action(recording_id, RecordingAction.STOP)
    return ids


class Counted:
    """Counts, per page, the recordings looked at, brought up to date, copied, turned into answers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, state: EmulatorState) -> None:
        self.state = state
        self.copied = self.answered = 0
        stamped, to_api = EmulatorState._stamped, Recording.to_api

        def counted_stamped(item: Any, now: float) -> Any:
            self.copied += 1
            return stamped(item, now)

        def counted_to_api(recording: Recording, files_url: str) -> dict[str, Any]:
            self.answered += 1
            return to_api(recording, files_url)

        monkeypatch.setattr(EmulatorState, "_stamped", staticmethod(counted_stamped))
        monkeypatch.setattr(Recording, "to_api", counted_to_api)

    def page(self, client: Any, **params: Any) -> tuple[dict[str, Any], tuple[int, int, int, int]]:
        """One list page, and (looked at, brought up to date, copied, answered) for it."""
        examined, advanced = self.state.examined, self.state.advanced
        self.copied = self.answered = 0
        response = client.get("/recordings", params=params)
        assert response.status_code == 200, response.text
        cost = (self.state.examined - examined, self.state.advanced - advanced, self.copied, self.answered)
        return response.json(), cost


@pytest.mark.parametrize("count", [300, 1200])
def test_a_list_page_costs_what_it_lists(count, make_emulator, client_for, fake_clock, monkeypatch):
    emulator = make_emulator(clock=fake_clock, invoke_delay=1, upload_delay=2)
    state = emulator.app.state
    ids = fill(state, count, fake_clock)
    client = client_for(emulator)
    fake_clock.advance(5)  # every timed change is due: the first list applies them, once each
    first, (_, advanced, _, _) = Counted(monkeypatch, state).page(
        client, status=UNFINISHED, per_page=PER_PAGE
    )
    assert advanced <= count
    assert first["paging"]["total_count"] == count - len(ids[::10])

    counted = Counted(monkeypatch, state)
    last_page = -(-first["paging"]["total_count"] // PER_PAGE)
    for page_no in (1, 2, last_page // 2, last_page, last_page + 1):
        for order in ("DESC", "ASC"):
            fake_clock.advance(0.5)
            answer, cost = counted.page(
                client,
                status=UNFINISHED,
                sort_by="invokedTime",
                sort_order=order,
                page_no=page_no,
                per_page=PER_PAGE,
            )
            shown = len(answer["data"])
            assert shown == max(0, min(PER_PAGE, answer["paging"]["total_count"] - (page_no - 1) * PER_PAGE))
            assert shown > 0 or page_no > last_page
            assert {entry["status"] for entry in answer["data"]} <= {"RECORDING"}
            assert cost == (shown, 0, shown, shown), (page_no, order)  # nothing else looked at
    for params in ({}, {"status": "UPLOADED"}, {"status": "RECORDING", "start_time": "2027-01-15T08:00:01Z"}):
        _, cost = counted.page(client, per_page=PER_PAGE, **params)
        assert cost[0] == cost[2] == cost[3] <= PER_PAGE
        assert cost[1] == 0
    _, cost = counted.page(client, meeting_id="meeting-7")  # one meeting: only its recordings
    assert cost == (1, 0, 1, 1)


def test_timed_changes_reach_a_list_without_looking_at_each_recording(make_emulator, client_for, fake_clock):
    emulator = make_emulator(clock=fake_clock, invoke_delay=1, upload_delay=2)
    client = client_for(emulator)
    ids = fill(emulator.app.state, 30, fake_clock)

    def total(status: str) -> int:
        count: int = client.get("/recordings", params={"status": status}).json()["paging"]["total_count"]
        return count

    assert (total("INVOKED"), total("UPLOADING"), total("RECORDING")) == (27, 3, 0)
    fake_clock.advance(1)
    assert (total("INVOKED"), total("UPLOADING"), total("RECORDING")) == (0, 3, 27)
    fake_clock.advance(1)
    assert (total("UPLOADING"), total("UPLOADED"), total("RECORDING")) == (0, 3, 27)
    emulator.end_session("meeting-1")  # its recording stops (ALL_PEERS_LEFT), uploads 2 s later
    assert (total("UPLOADING"), total("RECORDING,PAUSED")) == (1, 26)
    fake_clock.advance(86_400)  # max_seconds of the rest ran out
    assert (total("UPLOADING"), total("UPLOADED")) == (26, 4)
    fake_clock.advance(2)
    assert total("UPLOADED") == 30
    assert [r["id"] for r in client.get("/recordings", params={"per_page": 100}).json()["data"]] == ids[::-1]


def test_recordings_invoked_at_the_same_moment_list_in_start_order_either_way(
    make_emulator, client_for, fake_clock
):
    emulator = make_emulator(clock=fake_clock, second_start="accept")
    client = client_for(emulator)
    emulator.start_session("together")
    ids = []
    for _ in range(3):  # three at once, then two at once a second later
        ids.append(client.post("/recordings/track", json={"meeting_id": "together"}).json())
    fake_clock.advance(1)
    for _ in range(2):
        ids.append(client.post("/recordings/track", json={"meeting_id": "together"}).json())
    ids = [answer["data"]["recording"]["id"] for answer in ids]

    def listed(**params: Any) -> list[str]:
        return [r["id"] for r in client.get("/recordings", params=params).json()["data"]]

    assert listed(sort_order="ASC") == ids
    assert listed(sort_order="DESC") == ids[3:] + ids[:3]
    assert [listed(sort_order="DESC", per_page=2, page_no=page) for page in (1, 2, 3)] == [
        ids[3:5],
        ids[0:2],
        ids[2:3],
    ]
    assert listed(sort_order="DESC", per_page=2, page_no=2, status="RECORDING") == ids[0:2]


# --------------------------------------------------------------------------------------------------
# The same answers as sorting and filtering every recording (what the list did before it was indexed)


def reference(state: EmulatorState, query: RecordingQuery) -> tuple[list[Recording], int]:
    """A page the slow way: every recording brought up to date and copied, filtered, sorted."""
    candidates = state.recordings(query.meeting_id)
    meetings = state.meeting_titles(recording.meeting_id for recording in candidates)

    def keep(recording: Recording) -> bool:
        meeting = meetings.get(recording.meeting_id)
        words = " ".join(
            [recording.id, recording.meeting_id, meeting.title or "" if meeting else ""]
            + [recorded.name for recorded in recording.files]
        ).lower()
        return (
            (not query.statuses or recording.status in query.statuses)
            and (query.start is None or recording.invoked_at >= query.start)
            and (query.end is None or recording.invoked_at <= query.end)
            and (query.expired is None or recording.links_expired(recording.as_of) == query.expired)
            and query.search in words
        )

    found = sorted(filter(keep, candidates), key=lambda r: r.invoked_at, reverse=query.descending)
    return found[query.offset : query.offset + query.limit], len(found)


def random_query(rng: random.Random, start: float) -> RecordingQuery:
    statuses = rng.choice(
        [(), ("RECORDING",), ("UPLOADED",), tuple(UNFINISHED.split(",")), ("PAUSED", "INVOKED")]
    )
    window = rng.choice([(None, None), (start + 2, None), (None, start + 5), (start + 1, start + 3)])
    return RecordingQuery(
        meeting_id=rng.choice([None] * 6 + ["m0", "m3"]),
        statuses=frozenset(RecordingStatus(status) for status in statuses),
        start=window[0],
        end=window[1],
        expired=rng.choice([None, None, None, True, False]),
        search=rng.choice([""] * 5 + ["title 2", "m1"]),
        descending=rng.random() < 0.7,
        offset=rng.choice([0, 0, 3, 7, 20]),
        limit=rng.choice([1, 5, 100]),
    )


@pytest.mark.parametrize("seed", range(4))
def test_lists_answer_as_a_full_sort_and_filter_would(seed, fake_clock):
    """Two emulators driven alike: one answers lists from its indexes, the other the slow way."""
    rng = random.Random(seed)
    states = [
        EmulatorState(
            organization_id="org", invoke_delay=1, upload_delay=2, clock=fake_clock, second_start="accept"
        )
        for _ in range(2)
    ]
    made: list[list[str]] = [[], []]  # ids, in the order they were started, alike in both
    start = fake_clock.now

    def act(index: int, state: EmulatorState, op: str, meeting_id: str, number: int, action: Any) -> Any:
        ids = made[index]
        body = {"meeting_id": meeting_id}
        if op == "track":
            state.start_session(meeting_id, ["u"])
            ids.append(state.start_track(parse_track_start(body), body).id)
        elif op == "composite":
            state.start_session(meeting_id, ["u"])
            ids.append(state.start_composite(meeting_id, body, max_seconds=60).id)
        elif op == "action":
            return state.apply_action(ids[number], action).status
        elif op == "end":
            return state.end_session(meeting_id).ended_at
        elif op == "expire":
            return len(state.expire_links(ids[number]))
        return None

    for _ in range(250):
        meeting_id, number = f"m{rng.randrange(6)}", rng.randrange(max(1, len(made[0])))
        action = rng.choice(list(RecordingAction))
        step = rng.random()
        op = (
            ("track" if rng.random() < 0.5 else "composite")
            if step < 0.3
            else "action"
            if step < 0.5 and made[0]
            else "end"
            if step < 0.55
            else "expire"
            if step < 0.57 and made[0]
            else "wait"
        )
        if op == "wait":
            fake_clock.advance(rng.choice([0, 0, 0.5, 1, 2, 3, 30, 90, 8 * 86_400]))
        outcomes = []
        for index, state in enumerate(states):
            try:
                outcomes.append(act(index, state, op, meeting_id, number, action))
            except ApiError as error:
                outcomes.append(error.status)
        assert outcomes[0] == outcomes[1]
        query = random_query(rng, start)
        fast = states[0].list_recordings(query)
        slow, slow_total = reference(states[1], query)

        def shown(recordings: list[Recording], index: int) -> list[Any]:
            return [
                (made[index].index(r.id), r.status, r.duration, r.stopped_at, r.links_expired(r.as_of))
                for r in recordings
            ]

        assert (shown(fast.recordings, 0), fast.total_count) == (shown(slow, 1), slow_total), query
        assert set(fast.meetings) == {r.meeting_id for r in fast.recordings}
