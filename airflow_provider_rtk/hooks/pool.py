"""Shared HTTP clients: one SSL context per process, one pooled client per (event loop, connection).

A new ``httpx`` client loads the CA bundle into a fresh SSL context (about 17 ms of CPU and 0.85 MB,
even for ``http://``), and a client of its own per hook or trigger also means a socket of its own, so
thousands of waiting triggers would hold thousands of sockets. Here every hook of one process shares
one SSL context, and every hook of one connection shares one client: in an event loop (the
triggerer) per loop, never reused across loops; on a worker per process, never reused across a fork.
A client is created on first use (never at import) and closed when its last user leaves.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import ssl
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import httpx

#: Keep idle connections longer than a poll interval, so a poll every few seconds reuses its socket.
KEEPALIVE_EXPIRY = 120.0
#: One connection's sockets at most, for all the hooks and triggers that share it.
MAX_CONNECTIONS = 32


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The process's one SSL context (certifi's CA bundle, as httpx uses by default)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def pool_limits() -> httpx.Limits:
    return httpx.Limits(
        max_connections=MAX_CONNECTIONS,
        max_keepalive_connections=MAX_CONNECTIONS,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )


def _key(options: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two clients interchangeable: URL, credentials (hashed), timeout, redirects."""
    headers = options.get("headers") or {}
    token = hashlib.sha256(str(headers.get("Authorization", "")).encode()).hexdigest()
    timeout = options.get("timeout")
    timeouts = (timeout.connect, timeout.read, timeout.write, timeout.pool) if timeout else None
    return (str(options.get("base_url")), token, timeouts, bool(options.get("follow_redirects")))


@dataclass
class _Entry:
    client: Any
    users: int = 0


@dataclass
class _Pool:
    entries: dict[tuple[Any, ...], _Entry] = field(default_factory=dict)


# async clients: per event loop (a loop's clients die with it); sync clients: per process
_async_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()
_sync_pools: dict[int, _Pool] = {}
_sync_lock = threading.Lock()


def _take(pool: _Pool, options: dict[str, Any], make: Any) -> Any:
    """The pool's open client for these options (made with ``make`` if none), one user more."""
    key = _key(options)
    entry = pool.entries.get(key)
    if entry is None or entry.client.is_closed:
        entry = pool.entries[key] = _Entry(make(**options, verify=shared_ssl_context(), limits=pool_limits()))
    entry.users += 1
    return entry.client


def acquire_async_client(options: dict[str, Any]) -> httpx.AsyncClient:
    """The running loop's shared client for these options (created now if none); pair with
    :func:`release_async_client`."""
    pool = _async_pools.setdefault(asyncio.get_running_loop(), _Pool())
    return _take(pool, options, httpx.AsyncClient)  # type: ignore[no-any-return]


async def release_async_client(client: httpx.AsyncClient) -> None:
    """One user fewer; the last one closes the client."""
    try:
        pool = _async_pools.get(asyncio.get_running_loop())
    except RuntimeError:
        pool = None
    for key, entry in list((pool.entries if pool else {}).items()):
        if entry.client is client:
            entry.users -= 1
            if entry.users > 0:
                return
            del pool.entries[key]  # type: ignore[union-attr]
            break
    await client.aclose()


def acquire_sync_client(options: dict[str, Any]) -> httpx.Client:
    """This process's shared client for these options (thread-safe; a forked child makes its own)."""
    with _sync_lock:
        return _take(_sync_pools.setdefault(os.getpid(), _Pool()), options, httpx.Client)  # type: ignore[no-any-return]


def release_sync_client(client: httpx.Client) -> None:
    """One user fewer. The client stays open for the next hook of the process (its sockets are kept
    alive for :data:`KEEPALIVE_EXPIRY`), so a new hook costs what a warm call costs."""
    with _sync_lock:
        pool = _sync_pools.get(os.getpid())
        for entry in (pool.entries if pool else {}).values():
            if entry.client is client:
                entry.users = max(0, entry.users - 1)
                return
    # not this process's (a parent's, before a fork): leave it, closing could disturb the parent's TLS


def _forget_after_fork() -> None:
    """A forked child must not use its parent's sockets."""
    _sync_pools.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
