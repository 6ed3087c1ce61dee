"""The start journal: what a start learnt is one entry, and the store is trusted only as read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_provider_rtk.models import Recording
from airflow_provider_rtk.ownership import JournalEntry, Knowledge, StartJournal, StartOutcome


class Store:
    """A task state store that records every write and can refuse them, or its reads."""

    def __init__(self, *, refuse_reads: bool = False) -> None:
        self.values: dict[str, Any] = {}
        self.writes: list[tuple[str, Any]] = []
        self.refuse_reads = refuse_reads

    def get(self, key: str, default: Any = None) -> Any:
        if self.refuse_reads:
            raise RuntimeError("the store is unavailable")
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.writes.append((key, value))
        self.values[key] = value


def outcome(knowledge: Knowledge) -> StartOutcome:
    return StartOutcome(Recording.model_validate({"id": "rec-1", "status": "RECORDING"}), knowledge, "test")


def test_what_a_start_learnt_is_one_write_with_the_id_and_how_it_is_known() -> None:
    store = Store()
    journal = StartJournal(store)
    sent_at = journal.intent("fp")

    journal.write(journal.entry_for(outcome(Knowledge.STARTED), sent_at, "fp"))

    assert len(store.writes) == 2  # the intent, then the fact
    read = journal.read()
    assert read == JournalEntry("started", sent_at, "fp", "rec-1")
    assert read is not None
    assert read.knowledge is Knowledge.STARTED


def test_each_knowledge_has_its_phase() -> None:
    phases = {k: StartJournal.entry_for(outcome(k), None, None).phase for k in Knowledge}
    assert phases == {
        Knowledge.STARTED: "started",
        Knowledge.BELIEVED: "believed",
        Knowledge.FOREIGN: "attached",
    }
    assert [JournalEntry(p).knowledge for p in phases.values()] == list(Knowledge)


def test_the_store_holds_a_recording_only_as_read_back() -> None:
    store = Store()
    journal = StartJournal(store)
    assert not journal.holds("rec-1")
    journal.intent("fp")
    assert not journal.holds("rec-1")  # an intent names no recording
    journal.write(JournalEntry("started", datetime.now(UTC), "fp", "rec-1"))
    assert journal.holds("rec-1")
    assert not journal.holds("rec-2")
    store.refuse_reads = True
    assert not journal.holds("rec-1")  # a store that cannot be read holds nothing a retry could use


def test_if_active_has_the_choices_the_operator_accepts_at_parse_time() -> None:
    """The operator checks ``if_active`` against :data:`arguments.IF_ACTIVE_CHOICES` when a DAG is
    parsed (without importing this module); the policy is the same set of values, in the same order."""
    from airflow_provider_rtk.arguments import IF_ACTIVE_CHOICES
    from airflow_provider_rtk.ownership import IfActive

    assert tuple(choice.value for choice in IfActive) == IF_ACTIVE_CHOICES
