"""Checked connection settings, kept for a short while, so a new hook does not look its connection up.

A lookup goes through Airflow's secrets backends (in a task, through the API server) and then through
:meth:`ConnectionSettings.from_connection`'s checks. Every operator run, poke and trigger builds a new
hook, and a triggerer starting thousands of triggers would look one connection up thousands of times.
So the settings of a lookup are kept for ``[realtimekit] connection_cache_seconds`` (default 30; 0
turns the cache off):

- sync hooks share one cache per process;
- async hooks share one per event loop, and concurrent lookups of one connection in a loop wait for a
  single lookup;
- an entry is keyed by the connection id *and* the value of its ``AIRFLOW_CONN_<ID>`` environment
  variable, so a connection given (or changed) that way, as the UI's Test button does, is never
  answered from an older lookup;
- an answer refusing the token (401, 403) drops the connection's entries, so a rotated token is read
  again by the next hook.

Nothing here is shared across event loops, and nothing is created at import.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_rtk.connection import ConnectionSettings

DEFAULT_SECONDS = 30.0
_Key = tuple[str, str | None]

_seconds: float | None = None


def cache_seconds() -> float:
    """``[realtimekit] connection_cache_seconds``, read once per process (a bad value: the default)."""
    global _seconds
    if _seconds is None:
        try:
            from airflow.providers.common.compat.sdk import conf

            value = conf.getfloat("realtimekit", "connection_cache_seconds", fallback=DEFAULT_SECONDS)
        except Exception:
            value = DEFAULT_SECONDS
        _seconds = value if value >= 0 else DEFAULT_SECONDS
    return _seconds


def _key(conn_id: str) -> _Key:
    return conn_id, os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")


class _Entries:
    """Settings by key, each with the monotonic time it expires at."""

    def __init__(self) -> None:
        self.entries: dict[_Key, tuple[float, ConnectionSettings]] = {}

    def fresh(self, key: _Key) -> ConnectionSettings | None:
        held = self.entries.get(key)
        if held is None:
            return None
        if held[0] <= time.monotonic():
            del self.entries[key]
            return None
        return held[1]

    def keep(self, key: _Key, settings: ConnectionSettings, seconds: float) -> None:
        self.entries[key] = (time.monotonic() + seconds, settings)

    def forget(self, conn_id: str) -> None:
        for key in [key for key in self.entries if key[0] == conn_id]:
            del self.entries[key]


class _LoopEntries(_Entries):
    """One loop's entries, and the lookups under way in it (one per key)."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[_Key, asyncio.Future[ConnectionSettings]] = {}


_process = _Entries()
_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopEntries] = weakref.WeakKeyDictionary()


def settings_for(conn_id: str, lookup: Callable[[], ConnectionSettings]) -> ConnectionSettings:
    """The process's settings of ``conn_id``, from ``lookup`` when none are fresh."""
    seconds = cache_seconds()
    if not seconds:
        return lookup()
    key = _key(conn_id)
    settings = _process.fresh(key)
    if settings is None:
        settings = lookup()
        _process.keep(key, settings, seconds)
    return settings


async def asettings_for(
    conn_id: str, lookup: Callable[[], Awaitable[ConnectionSettings]]
) -> ConnectionSettings:
    """The running loop's settings of ``conn_id``; one ``lookup`` at a time per connection and loop.

    A lookup that fails fails every caller waiting for it, and is not kept; one that is cancelled
    (its caller was) leaves the callers waiting for it to look up again.
    """
    seconds = cache_seconds()
    if not seconds:
        return await lookup()
    loop = asyncio.get_running_loop()
    entries = _loops.get(loop)
    if entries is None:
        entries = _loops[loop] = _LoopEntries()
    key = _key(conn_id)
    while True:
        settings = entries.fresh(key)
        if settings is not None:
            return settings
        pending = entries.pending.get(key)
        if pending is None:
            break
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this caller was cancelled, not the lookup
    future: asyncio.Future[ConnectionSettings] = loop.create_future()
    entries.pending[key] = future
    try:
        settings = await lookup()
    except asyncio.CancelledError:
        future.cancel()
        raise
    except BaseException as error:
        future.set_exception(error)
        future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
        raise
    finally:
        entries.pending.pop(key, None)
    entries.keep(key, settings, seconds)
    future.set_result(settings)
    return settings


def forget(conn_id: str) -> None:
    """Drop every kept lookup of ``conn_id``: this process's and this thread's running loop's."""
    _process.forget(conn_id)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    entries = _loops.get(loop)
    if entries is not None:
        entries.forget(conn_id)


def clear() -> None:
    """Forget every kept lookup, and read ``connection_cache_seconds`` again (tests)."""
    global _seconds
    _seconds = None
    _process.entries.clear()
    for entries in list(_loops.values()):
        entries.entries.clear()
