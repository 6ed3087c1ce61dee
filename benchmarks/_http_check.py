"""The response check of benchmark 4's ``HttpEventTrigger`` peer (a module of its own: the trigger
re-imports it on every poll)."""

from __future__ import annotations

from typing import Any


async def recording_uploaded(response: Any) -> bool:
    """Whether a RealtimeKit ``GET /recordings/{id}`` answer shows the recording ``UPLOADED``."""
    return bool(response.json()["data"]["status"] == "UPLOADED")
