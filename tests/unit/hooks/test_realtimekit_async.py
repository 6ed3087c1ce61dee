"""The async hook (used by triggers) against a respx-mocked API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitConnectionConfigError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
)
from airflow_provider_rtk.hooks._api import HttpRetryPolicy
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook
from airflow_provider_rtk.models import RecordingStatus
from tests.api_answers import (
    APP_URL,
    BASE,
    FAST,
    MEETING,
    TOKEN,
    ok,
    recording,
    rtk_error,
    set_conn,
)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def api(conn, api):
    """The hooks' respx router (``conftest.py``), with the connection set: every async case needs both."""
    return api


def new_hook(**kwargs: Any) -> RealtimeKitAsyncHook:
    return RealtimeKitAsyncHook(retry_policy=kwargs.pop("retry_policy", FAST), **kwargs)


def test_get_recording(api):
    route = api.get("/recordings/rec-1").mock(
        return_value=ok(
            recording(
                status="UPLOADED",
                download_url=[
                    {"layer_name": "default", "download_urls": {"a.webm": {"download_url": "https://d/a"}}}
                ],
            )
        )
    )

    async def go():
        async with new_hook() as hook:
            return await hook.get_recording("rec-1")

    result = run(go())
    assert result.id == "rec-1"
    assert result.status is RecordingStatus.UPLOADED
    assert result.download_links == {"a.webm": "https://d/a"}
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert str(request.url) == f"{APP_URL}/recordings/rec-1"


def test_get_recording_not_found(api):
    api.get("/recordings/nope").mock(return_value=rtk_error(404, "Recording not found"))

    async def go():
        async with new_hook() as hook:
            await hook.get_recording("nope")

    with pytest.raises(RealtimeKitNotFoundError) as info:
        run(go())
    assert (info.value.status_code, info.value.message) == (404, "Recording not found")
    assert TOKEN not in str(info.value)


def test_get_active_session(api):
    api.get(f"/meetings/{MEETING}/active-session").mock(return_value=ok({"id": "s1", "status": "LIVE"}))

    async def go():
        async with new_hook() as hook:
            return await hook.get_active_session(MEETING)

    session = run(go())
    assert (session.id, session.is_live) == ("s1", True)


def test_get_active_session_none_on_404(api):
    route = api.get(f"/meetings/{MEETING}/active-session").mock(return_value=rtk_error(404, "no session"))

    async def go():
        async with new_hook() as hook:
            return await hook.get_active_session(MEETING)

    assert run(go()) is None
    assert route.call_count == 1


def test_get_active_session_other_error_raises(api):
    api.get(f"/meetings/{MEETING}/active-session").mock(return_value=rtk_error(401, "bad token"))

    async def go():
        async with new_hook() as hook:
            return await hook.get_active_session(MEETING)

    with pytest.raises(RealtimeKitAPIError) as info:
        run(go())
    assert info.value.status_code == 401


def test_stop_recording(api):
    put = api.put("/recordings/rec-1").mock(return_value=ok(recording(status="UPLOADING")))

    async def go():
        async with new_hook() as hook:
            return await hook.stop_recording("rec-1")

    assert run(go()).status is RecordingStatus.UPLOADING
    assert json.loads(put.calls.last.request.content) == {"action": "stop"}


@pytest.mark.parametrize("final", ["UPLOADING", "UPLOADED", "ERRORED"])
def test_stop_recording_noop_when_already_stopped(api, final):
    put = api.put("/recordings/rec-1").mock(return_value=rtk_error(400, "Recording already stopped"))
    get = api.get("/recordings/rec-1").mock(return_value=ok(recording(status=final)))

    async def go():
        async with new_hook() as hook:
            return await hook.stop_recording("rec-1")

    assert run(go()).status is RecordingStatus(final)
    assert (put.call_count, get.call_count) == (1, 1)


def test_stop_recording_refused_while_recording_raises(api):
    api.put("/recordings/rec-1").mock(return_value=rtk_error(400, "cannot stop"))
    api.get("/recordings/rec-1").mock(return_value=ok(recording(status="RECORDING")))

    async def go():
        async with new_hook() as hook:
            return await hook.stop_recording("rec-1")

    with pytest.raises(RealtimeKitAPIError) as info:
        run(go())
    assert (info.value.status_code, info.value.message) == (400, "cannot stop")


@pytest.mark.parametrize(
    "transient",
    [
        rtk_error(503, "unavailable"),
        httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "slow"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ],
    ids=["503", "429", "timeout", "connect"],
)
def test_retries_transient(api, transient):
    route = api.get("/recordings/rec-1").mock(side_effect=[transient, ok(recording())])

    async def go():
        async with new_hook() as hook:
            return await hook.get_recording("rec-1")

    assert run(go()).id == "rec-1"
    assert route.call_count == 2


def test_4xx_not_retried(api):
    route = api.get("/recordings/rec-1").mock(side_effect=[rtk_error(403, "forbidden"), ok(recording())])

    async def go():
        async with new_hook() as hook:
            return await hook.get_recording("rec-1")

    with pytest.raises(RealtimeKitAPIError):
        run(go())
    assert route.call_count == 1


def test_attempts_bounded(api):
    route = api.get("/recordings/rec-1").mock(return_value=rtk_error(503, "down"))

    async def go():
        async with new_hook(
            retry_policy=HttpRetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.01)
        ) as hook:
            return await hook.get_recording("rec-1")

    with pytest.raises(RealtimeKitAPIError) as info:
        run(go())
    assert info.value.status_code == 503
    assert route.call_count == 3


def test_one_async_client_reused_and_aclose(api):
    api.get("/recordings/rec-1").mock(return_value=ok(recording()))
    api.get(f"/meetings/{MEETING}/active-session").mock(return_value=rtk_error(404))
    api.put("/recordings/rec-1").mock(return_value=ok(recording(status="UPLOADING")))

    async def go():
        hook = new_hook()
        client = await hook.get_client()
        await hook.get_recording("rec-1")
        await hook.get_active_session(MEETING)
        await hook.stop_recording("rec-1")
        await hook.get_recording("rec-1")
        same = await hook.get_client()
        await hook.aclose()  # the loop's last user of the shared client: it closes
        closed = client.is_closed
        after = hook._client
        await hook.aclose()  # closing twice is harmless
        return client, same, closed, after

    client, same, closed, after = run(go())
    assert isinstance(client, httpx.AsyncClient)
    assert same is client
    assert closed is True
    assert after is None
    assert len(api.calls) == 4


def test_async_context_manager_closes(api):
    api.get("/recordings/rec-1").mock(return_value=ok(recording()))

    async def go():
        async with new_hook() as hook:
            await hook.get_recording("rec-1")
            client = await hook.get_client()
        return client

    assert run(go()).is_closed


def test_settings_read_once(api):
    async def go():
        hook = new_hook()
        first = await hook.get_settings()
        second = await hook.get_settings()
        return first, second

    first, second = run(go())
    assert first is second
    assert first.app_url == APP_URL
    assert TOKEN not in repr(first)


def test_missing_extras(monkeypatch):
    set_conn(monkeypatch, conn_id="rtk_async_bad", extra={"app_id": "APP"})

    async def go():
        async with RealtimeKitAsyncHook("rtk_async_bad") as hook:
            await hook.get_recording("rec-1")

    with respx.mock() as mock, pytest.raises(RealtimeKitConnectionConfigError, match=r"extra\.account_id"):
        run(go())
    assert not mock.calls


def test_path_id_validated(api):
    async def go():
        async with new_hook() as hook:
            await hook.get_recording("../x")

    with pytest.raises(RealtimeKitPayloadError) as info:
        run(go())
    assert info.value.paths == ["recording_id"]
    assert not api.calls


def test_a_call_cancelled_as_its_answer_arrives_is_cancelled() -> None:
    """Python 3.11's ``asyncio.wait_for`` returns the answer of an exchange that completes as the
    task is cancelled, and the cancellation is lost: a trigger stopped mid-request polled on (and a
    triggerer waiting for it to stop waited for ever)."""
    from airflow_provider_rtk.hooks._api import ApiCall, Limits, send_bounded_async

    async def scenario() -> int:
        swallowed = 0
        for _ in range(50):
            answer: asyncio.Future[httpx.Response] = asyncio.get_running_loop().create_future()

            async def handler(request: httpx.Request, answer: Any = answer) -> httpx.Response:
                return await answer

            async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE) as client:
                call = ApiCall("get_one_recording", "GET", "/recordings/rec-1")
                task = asyncio.ensure_future(send_bounded_async(client, call, Limits(timeout=30)))
                for _ in range(20):  # until the request waits for its answer
                    await asyncio.sleep(0)
                answer.set_result(httpx.Response(200, json={"success": True, "data": recording()}))
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    continue
                swallowed += 1
        return swallowed

    assert asyncio.run(scenario()) == 0


def test_the_async_hook_masks_the_token_where_it_reads_the_settings(monkeypatch):
    from uuid import uuid4

    from airflow_provider_rtk import redaction

    token = f"TOKEN-{uuid4().hex}"
    set_conn(monkeypatch, password=token)
    hook = RealtimeKitAsyncHook()
    assert hook._secrets == ()
    assert run(hook.get_settings()).api_token == token
    assert hook._secrets == (token,)
    assert token not in redaction.redact(f"x {token}")
