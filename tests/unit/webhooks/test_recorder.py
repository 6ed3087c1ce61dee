"""The receiver's dedupe marks stay bounded, however many signed deliveries come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow_provider_rtk.webhooks.recorder import MARK_DAYS, MAX_MARKS, _pruned


def test_each_kind_keeps_only_its_newest_marks_of_the_last_days() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    recent = {f"uuid-{n}": (now - timedelta(seconds=n)).isoformat() for n in range(MAX_MARKS + 500)}
    stale = {"session-old": (now - timedelta(days=MARK_DAYS, seconds=1)).isoformat()}
    marks = {
        "deliveries": recent,
        "sessions": {**stale, "session-new": now.isoformat()},
        "recordings": {"rec-1:UPLOADED": 12},  # not a time: dropped
        "documents": "garbage",
    }

    kept = _pruned(marks, now)

    assert sorted(kept["deliveries"], key=lambda uuid: int(uuid.split("-")[1])) == [
        f"uuid-{n}" for n in range(MAX_MARKS)
    ]
    assert kept["sessions"] == {"session-new": now.isoformat()}
    assert (kept["recordings"], kept["documents"]) == ({}, {})
