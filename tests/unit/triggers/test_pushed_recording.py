"""The push-only recording watcher: its arguments, its serialization, and that it never fires."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.triggers.pushed_recording import RealtimeKitPushedRecordingTrigger


def test_it_round_trips_and_says_what_it_watches() -> None:
    trigger = RealtimeKitPushedRecordingTrigger("rtk", meeting_ids="standup", statuses=["uploaded"])
    classpath, kwargs = trigger.serialize()

    again = RealtimeKitPushedRecordingTrigger(**kwargs)
    assert classpath.endswith("pushed_recording.RealtimeKitPushedRecordingTrigger")
    assert (again.realtimekit_conn_id, again.meeting_ids, again.statuses) == (
        "rtk",
        ["standup"],
        ["UPLOADED"],
    )
    assert again.watches("standup", "UPLOADED")
    assert not again.watches("standup", "ERRORED")
    assert not again.watches("review", "UPLOADED")
    assert RealtimeKitPushedRecordingTrigger().watches("any", "ERRORED")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"statuses": ["RECORDING"]}, "statuses"),
        ({"statuses": []}, "statuses"),
        ({"meeting_ids": "../x"}, "meeting_ids"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(RealtimeKitPayloadError, match=field):
        RealtimeKitPushedRecordingTrigger(**kwargs)  # type: ignore[arg-type]


def test_it_never_fires() -> None:
    async def first_event() -> object:
        return await RealtimeKitPushedRecordingTrigger().run().__anext__()

    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(first_event(), timeout=0.3))
