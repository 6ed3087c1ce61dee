"""The push-only session-documents watcher: its arguments, its serialization, and that it never fires."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.triggers.pushed_documents import RealtimeKitPushedDocumentsTrigger


def test_it_round_trips_and_says_what_it_watches() -> None:
    trigger = RealtimeKitPushedDocumentsTrigger("rtk", meeting_ids="standup", documents="summary")
    classpath, kwargs = trigger.serialize()

    again = RealtimeKitPushedDocumentsTrigger(**kwargs)
    assert classpath.endswith("pushed_documents.RealtimeKitPushedDocumentsTrigger")
    assert kwargs == {"realtimekit_conn_id": "rtk", "meeting_ids": ["standup"], "documents": ["summary"]}
    assert again.watches("standup", "summary")
    assert not again.watches("standup", "transcript")
    assert not again.watches("review", "summary")
    assert RealtimeKitPushedDocumentsTrigger().watches("any", "transcript")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"documents": ["recording"]}, "documents"),
        ({"documents": []}, "documents"),
        ({"meeting_ids": "../x"}, "meeting_ids"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(RealtimeKitPayloadError, match=field):
        RealtimeKitPushedDocumentsTrigger(**kwargs)  # type: ignore[arg-type]


def test_it_never_fires() -> None:
    async def first_event() -> object:
        return await RealtimeKitPushedDocumentsTrigger().run().__anext__()

    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(first_event(), timeout=0.3))
