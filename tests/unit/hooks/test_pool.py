"""Shared clients: one SSL context per process, one client per (event loop, connection), closed by
its last user, never shared across loops or a fork."""

from __future__ import annotations

import asyncio
import os

import pytest

from airflow_provider_rtk.hooks import pool
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook, RealtimeKitHook
from tests.api_answers import set_conn


@pytest.fixture(autouse=True)
def _connections(monkeypatch):
    set_conn(monkeypatch, password="TOKEN-pool-1")
    set_conn(monkeypatch, "other_app", password="TOKEN-pool-1", extra={"account_id": "ACC", "app_id": "B"})


def test_one_ssl_context_per_process():
    assert pool.shared_ssl_context() is pool.shared_ssl_context()


def test_hooks_of_one_loop_share_a_client_until_the_last_leaves():
    async def go():
        first, second = RealtimeKitAsyncHook(), RealtimeKitAsyncHook()
        other = RealtimeKitAsyncHook("other_app")
        client = await first.get_client()
        shared = await second.get_client() is client
        separate = await other.get_client() is not client
        await first.aclose()
        open_while_used = not client.is_closed
        await second.aclose()
        await other.aclose()
        return shared, separate, open_while_used, client.is_closed

    assert asyncio.run(go()) == (True, True, True, True)


def test_a_client_is_never_reused_by_another_event_loop():
    async def client_of_this_loop():
        hook = RealtimeKitAsyncHook()
        client = await hook.get_client()
        return client, hook

    first, _hook_a = asyncio.run(client_of_this_loop())
    second, _hook_b = asyncio.run(client_of_this_loop())
    assert first is not second


def test_sync_hooks_share_the_process_client_and_a_forked_child_makes_its_own():
    with RealtimeKitHook() as hook:
        client = hook.client
    with RealtimeKitHook() as again:
        assert again.client is client
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh client, the parent's left alone
        with RealtimeKitHook() as child:
            os.write(write, b"1" if child.client is not client and not client.is_closed else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert not client.is_closed


def test_pooled_clients_keep_connections_alive_longer_than_a_poll():
    with RealtimeKitHook() as hook:
        limits = hook.client._transport._pool  # type: ignore[attr-defined]
        assert limits._keepalive_expiry >= 60
        assert limits._max_connections == pool.MAX_CONNECTIONS
