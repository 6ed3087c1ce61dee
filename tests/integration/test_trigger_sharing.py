"""Many deferred recordings in one triggerer loop: one shared client and one poller per connection,
against the emulator on loopback. Counts requests and sockets, not time (benchmarks measure that)."""

from __future__ import annotations

import asyncio
import os

from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from airflow_provider_rtk.triggers import RealtimeKitRecordingTrigger

FOLLOWED = 150


def _tcp_sockets() -> int:
    """Sockets this process holds (the in-process emulator's included)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile (the listing's own descriptor, for one)
            continue
    return count


def test_many_triggers_share_one_poller_and_few_sockets(emulator):
    meetings = []
    with RealtimeKitHook() as hook:
        for n in range(FOLLOWED):
            meeting_id = emulator.create_meeting(f"m{n}")["id"]
            emulator.start_session(meeting_id)
            meetings.append((meeting_id, hook.start_track_recording({"meeting_id": meeting_id}).recording.id))
    before = len(emulator.requests())
    sockets_before = _tcp_sockets()  # what earlier tests of this process still hold

    async def follow_all():
        triggers = [RealtimeKitRecordingTrigger(rid, poll_interval=0.5) for _, rid in meetings]
        tasks = [asyncio.create_task(anext(t.run())) for t in triggers]
        await asyncio.sleep(2.0)  # every trigger has polled a few times
        sockets_while_waiting = _tcp_sockets()
        requests_while_waiting = len(emulator.requests()) - before
        for meeting_id, _ in meetings:  # everyone leaves: the recordings stop and upload
            emulator.end_session(meeting_id)
        events = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        return events, sockets_while_waiting, requests_while_waiting

    events, sockets, requests_while_waiting = asyncio.run(follow_all())

    assert [e.payload["status"] for e in events] == ["success"] * FOLLOWED
    assert {e.payload["recording_status"] for e in events} == {"UPLOADED"}
    # 150 triggers polling every 0.5 s for 2 s would be ~600 reads one by one; a sweep lists 100 a page
    assert requests_while_waiting < 60, requests_while_waiting
    # the triggers' own sockets (and the emulator's serving side of each) over what was open before
    assert sockets - sockets_before < 40, (sockets, sockets_before)
    # those that finish together come back in the newest-first list of finished ones, not one by one
    assert len(emulator.requests()) - before < FOLLOWED / 2, len(emulator.requests()) - before
