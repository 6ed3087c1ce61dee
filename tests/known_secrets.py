"""What the process knows as secret (the provider's redaction, Airflow's masker), put back as it was:
for each test (``tests/conftest.py``) and for each example of a property test that remembers one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def _airflow_secrets_masker() -> Any:
    """The process's Airflow secrets masker (its home moved between 3.0 and 3.3)."""
    try:
        from airflow.sdk._shared.secrets_masker import _secrets_masker
    except ImportError:  # Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import _secrets_masker
    return _secrets_masker()


@contextlib.contextmanager
def forgotten_afterwards() -> Iterator[None]:
    """Secrets remembered inside the block are forgotten after it. Airflow's masker compiles one regex
    of every pattern it holds at each new one, so a process that remembered thousands of fresh secrets
    took seconds a secret (one remember: 1.6 s after 300 secrets); a task or triggerer holds a few."""
    from airflow_provider_rtk import redaction

    masker = _airflow_secrets_masker()
    saved_masker = (set(masker.patterns), masker.replacer)
    saved_redaction = (
        set(redaction._known),
        redaction._ordered,
        set(redaction._known_plain),
        redaction._plain_ordered,
    )
    try:
        yield
    finally:
        masker.patterns, masker.replacer = saved_masker
        with redaction._lock:
            known, redaction._ordered, known_plain, redaction._plain_ordered = saved_redaction
            redaction._known.clear()
            redaction._known.update(known)
            redaction._known_plain.clear()
            redaction._known_plain.update(known_plain)
