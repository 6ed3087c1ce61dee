"""A new hook reuses a recent lookup of its connection: per process (sync) and per event loop (async),
never across an environment variable's change, a refused token, or the configured time."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import respx
from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_rtk.exceptions import RealtimeKitAPIError
from airflow_provider_rtk.hooks import connection_cache
from airflow_provider_rtk.hooks._api import HttpRetryPolicy
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook, RealtimeKitHook
from tests.api_answers import APP_URL, TOKEN, ok, recording, rtk_error, set_conn

ONCE = HttpRetryPolicy(max_attempts=1)


@pytest.fixture
def lookups(monkeypatch):
    """Every connection lookup (sync and async) through Airflow, counted by connection id."""
    counted: list[str] = []
    real_get = BaseHook.get_connection.__func__  # type: ignore[attr-defined]

    def get_connection(cls, conn_id):
        counted.append(conn_id)
        return real_get(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(get_connection))
    real_aget = getattr(BaseHook, "aget_connection", None)
    if real_aget is not None:

        async def aget_connection(cls, conn_id):
            counted.append(conn_id)
            return await real_aget.__func__(cls, conn_id)

        monkeypatch.setattr(BaseHook, "aget_connection", classmethod(aget_connection))
    set_conn(monkeypatch)
    return counted


def test_new_sync_hooks_of_a_process_share_one_lookup(lookups):
    for _ in range(5):
        assert RealtimeKitHook().settings.app_id == "APP"
    assert lookups == ["realtimekit_default"]


def test_threads_reuse_the_lookup_too(lookups):
    RealtimeKitHook().settings  # noqa: B018
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(RealtimeKitHook().settings.app_id)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == ["APP"] * 4
    assert lookups == ["realtimekit_default"]


def test_a_changed_environment_variable_is_read_again(lookups, monkeypatch):
    assert RealtimeKitHook().settings.app_id == "APP"
    set_conn(monkeypatch, extra={"account_id": "ACC", "app_id": "OTHER"})
    assert RealtimeKitHook().settings.app_id == "OTHER"
    assert len(lookups) == 2


def test_each_connection_is_kept_apart(lookups, monkeypatch):
    set_conn(monkeypatch, "rtk_second", extra={"account_id": "ACC", "app_id": "SECOND"})
    assert RealtimeKitHook().settings.app_id == "APP"
    assert RealtimeKitHook("rtk_second").settings.app_id == "SECOND"
    assert RealtimeKitHook("rtk_second").settings.app_id == "SECOND"
    assert lookups == ["realtimekit_default", "rtk_second"]


def test_a_lookup_expires(lookups, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(connection_cache.time, "monotonic", lambda: clock[0])
    RealtimeKitHook().settings  # noqa: B018
    clock[0] += connection_cache.DEFAULT_SECONDS - 1
    RealtimeKitHook().settings  # noqa: B018
    assert len(lookups) == 1
    clock[0] += 2
    RealtimeKitHook().settings  # noqa: B018
    assert len(lookups) == 2


def test_zero_seconds_looks_up_for_every_hook(lookups, monkeypatch):
    monkeypatch.setenv("AIRFLOW__REALTIMEKIT__CONNECTION_CACHE_SECONDS", "0")
    connection_cache.clear()
    for _ in range(3):
        RealtimeKitHook().settings  # noqa: B018
    assert len(lookups) == 3


def test_a_bad_connection_is_not_kept(lookups, monkeypatch):
    set_conn(monkeypatch, extra={"account_id": "ACC"})
    for _ in range(2):
        with pytest.raises(Exception, match="app_id"):
            RealtimeKitHook().settings  # noqa: B018
    assert len(lookups) == 2


def test_a_refused_token_drops_the_lookup(lookups):
    with respx.mock(base_url=APP_URL) as api:
        api.get("/recordings/rec-1").mock(side_effect=[rtk_error(401, "bad token"), ok(recording())])
        with RealtimeKitHook(retry_policy=ONCE) as hook, pytest.raises(RealtimeKitAPIError):
            hook.get_recording("rec-1")
        with RealtimeKitHook(retry_policy=ONCE) as hook:
            assert hook.get_recording("rec-1").id == "rec-1"
    assert len(lookups) == 2  # the second hook looked the connection up again


def test_a_refused_token_drops_the_loops_lookup_too(lookups):
    async def main() -> None:
        with respx.mock(base_url=APP_URL) as api:
            api.get("/recordings/rec-1").mock(side_effect=[httpx.Response(403, json={}), ok(recording())])
            async with RealtimeKitAsyncHook(retry_policy=ONCE) as hook:
                with pytest.raises(RealtimeKitAPIError):
                    await hook.get_recording("rec-1")
            async with RealtimeKitAsyncHook(retry_policy=ONCE) as hook:
                assert (await hook.get_recording("rec-1")).id == "rec-1"

    asyncio.run(main())
    assert len(lookups) == 2


def test_concurrent_async_hooks_of_a_loop_wait_for_one_lookup(lookups):
    async def main() -> list[str]:
        hooks = [RealtimeKitAsyncHook() for _ in range(200)]
        settings = await asyncio.gather(*(hook.get_settings() for hook in hooks))
        again = await RealtimeKitAsyncHook().get_settings()
        return [s.api_token for s in settings] + [again.api_token]

    assert asyncio.run(main()) == [TOKEN] * 201
    assert lookups == ["realtimekit_default"]


def test_each_event_loop_looks_up_on_its_own(lookups):
    async def main() -> str:
        return (await RealtimeKitAsyncHook().get_settings()).app_id

    assert asyncio.run(main()) == asyncio.run(main()) == "APP"
    assert len(lookups) == 2


def test_a_failed_async_lookup_fails_every_waiter_and_is_not_kept(lookups, monkeypatch):
    set_conn(monkeypatch, extra={"account_id": "ACC"})

    async def main() -> list[BaseException | object]:
        return await asyncio.gather(
            *(RealtimeKitAsyncHook().get_settings() for _ in range(3)), return_exceptions=True
        )

    for outcome in asyncio.run(main()):
        assert isinstance(outcome, Exception)
        assert "app_id" in str(outcome)
    asyncio.run(main())
    assert len(lookups) == 2  # one per loop: the waiters shared the failed lookup, nobody kept it


def test_a_cancelled_lookup_leaves_the_others_to_look_up_again(monkeypatch):
    set_conn(monkeypatch)
    calls = 0

    async def main() -> str:
        release = asyncio.Event()

        async def slow_lookup():
            nonlocal calls
            calls += 1
            if calls == 1:
                await release.wait()  # the first lookup hangs until its caller is cancelled
            return RealtimeKitHook().settings

        first = asyncio.create_task(connection_cache.asettings_for("c", slow_lookup))
        await asyncio.sleep(0)
        second = asyncio.create_task(connection_cache.asettings_for("c", slow_lookup))
        await asyncio.sleep(0)
        first.cancel()
        settings = await second
        with pytest.raises(asyncio.CancelledError):
            await first
        return settings.app_id

    assert asyncio.run(main()) == "APP"
    assert calls == 2
