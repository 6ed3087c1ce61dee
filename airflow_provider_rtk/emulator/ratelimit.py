"""A sliding-window rate limit over API requests: at most N in any window of S seconds."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class RateLimiter:
    """Counts accepted requests; refused ones (429) do not count. ``requests`` of ``None`` is no limit."""

    def __init__(
        self,
        requests: int | None = None,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._accepted: deque[float] = deque()
        self.requests = requests
        self.window_seconds = window_seconds
        self.configure(requests, window_seconds)

    def configure(self, requests: int | None, window_seconds: float = 60.0) -> None:
        """Set a new limit (``None`` turns it off) and forget past requests."""
        if requests is not None and requests < 1:
            raise ValueError("requests: must be >= 1 (or null for no limit)")
        if window_seconds <= 0:
            raise ValueError("window_seconds: must be > 0")
        with self._lock:
            self.requests = requests
            self.window_seconds = window_seconds
            self._accepted.clear()

    def acquire(self) -> float | None:
        """``None`` if the request may go ahead (and it is counted), else seconds until it may."""
        with self._lock:
            if self.requests is None:
                return None
            now = self._clock()
            while self._accepted and self._accepted[0] <= now - self.window_seconds:
                self._accepted.popleft()
            if len(self._accepted) < self.requests:
                self._accepted.append(now)
                return None
            return self._accepted[0] + self.window_seconds - now

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "window_seconds": self.window_seconds}
