"""One redaction for every text that leaves the provider: error messages, reprs, log and warning lines.

Every secret the hooks and operators learn (the API token, storage credentials) is remembered here,
process-wide like Airflow's own secret masker, and blanked out of any text in each form it can take
there: as written, JSON-escaped (a service echoing a request body), ``repr``-escaped (a Python error
quoting a value) and URL-encoded. Each form is also handed to Airflow's masker, so log lines are
cleaned the same way.

Light on purpose: only the standard library at import time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"
#: A line of a multi-line secret (a private key) is masked on its own once it is this long.
_MIN_LINE = 8

_lock = threading.Lock()
_known: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first, so a form is replaced before a shorter one inside it


def forms(secret: str) -> set[str]:
    """The ways ``secret`` can show up in text: plain, JSON- (once or twice), repr- and URL-escaped, and
    its long lines."""
    if not secret:
        return set()
    escaped = json.dumps(secret)[1:-1]
    found = {
        secret,
        escaped,
        json.dumps(escaped)[1:-1],  # an echo of an echo: a JSON body quoted inside a JSON message
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(escaped)[1:-1],
        quote(secret, safe=""),
    }
    lines = [line.strip() for line in secret.splitlines()]
    if len(lines) > 1:
        found.update(line for line in lines if len(line) >= _MIN_LINE)
    return {form for form in found if form}


def remember(*secrets: object) -> None:
    """Treat each (non-empty, text) secret as known from now on: redacted here, masked in logs."""
    new = set()
    for secret in secrets:
        if isinstance(secret, str) and secret.strip() and secret not in _known:
            new |= forms(secret)
    global _ordered
    with _lock:
        new -= _known
        if not new:
            return
        _known.update(new)
        _ordered = tuple(sorted(_known, key=len, reverse=True))
    _mask_in_logs(new)


def _mask_in_logs(values: Iterable[str]) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - the provider always runs inside Airflow
        return
    for value in values:
        mask_secret(value)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and each of ``extra``) replaced by ``***``, in every form."""
    secrets: tuple[str, ...] = _ordered
    more = {form for secret in extra if secret for form in forms(secret)} - set(secrets)
    if more:
        secrets = tuple(sorted({*secrets, *more}, key=len, reverse=True))
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def holds_secret(text: str) -> bool:
    """Whether ``text`` still shows a known secret (in any of its forms)."""
    return any(secret in text for secret in _ordered)
