"""Benchmark 3: the hooks' cost per call over HTTP, against raw ``httpx`` to the same URL.

Both talk to the in-process ``RealtimeKitEmulator`` on loopback (its server threads share this process).
Each call is timed twice: wall clock (what a caller waits, server included), and the CPU time of the
calling thread only (``time.thread_time``: the client's own work, without the emulator's threads).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._common import Row

SECTION = "3. Hook overhead per get_recording over loopback HTTP (in-process emulator)"
CONN_ENV = "AIRFLOW_CONN_REALTIMEKIT_DEFAULT"

Sample = tuple[float, float]  # (wall seconds per call, calling-thread CPU seconds per call)


def _sync_sampler(func: Callable[[], Any], calls: int) -> Callable[[], Sample]:
    def sample() -> Sample:
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(calls):
            func()
        return (time.perf_counter() - wall) / calls, (time.thread_time() - cpu) / calls

    return sample


def _async_sampler(func: Callable[[], Awaitable[Any]], calls: int) -> Callable[[], Awaitable[Sample]]:
    async def sample() -> Sample:
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(calls):
            await func()
        return (time.perf_counter() - wall) / calls, (time.thread_time() - cpu) / calls

    return sample


def _pairs(
    rounds: int, ours: Callable[[], Sample], peer: Callable[[], Sample]
) -> tuple[list[Sample], list[Sample]]:
    """Rounds of ours and the peer back to back, alternating who goes first."""
    ours_samples: list[Sample] = []
    peer_samples: list[Sample] = []
    for round_no in range(rounds):
        if round_no % 2 == 0:
            ours_samples.append(ours())
            peer_samples.append(peer())
        else:
            peer_samples.append(peer())
            ours_samples.append(ours())
    return ours_samples, peer_samples


async def _async_pairs(
    rounds: int, ours: Callable[[], Awaitable[Sample]], peer: Callable[[], Awaitable[Sample]]
) -> tuple[list[Sample], list[Sample]]:
    ours_samples: list[Sample] = []
    peer_samples: list[Sample] = []
    for round_no in range(rounds):
        if round_no % 2 == 0:
            ours_samples.append(await ours())
            peer_samples.append(await peer())
        else:
            peer_samples.append(await peer())
            ours_samples.append(await ours())
    return ours_samples, peer_samples


def _rows(kind: str, peer_name: str, ours: list[Sample], peer: list[Sample]) -> list[Row]:
    return [
        Row(SECTION, f"{kind}: wall", [s[0] for s in ours], [s[0] for s in peer], peer_name, unit="µs"),
        Row(SECTION, f"{kind}: client CPU", [s[1] for s in ours], [s[1] for s in peer], peer_name, unit="µs"),
    ]


def run(*, quick: bool) -> tuple[list[Row], list[str], list[str]]:
    """The rows of benchmark 3, context lines and findings."""
    import httpx

    from airflow_provider_rtk.emulator import RealtimeKitEmulator
    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook, RealtimeKitHook
    from airflow_provider_rtk.models import build_track_request

    rounds, calls = (3, 40) if quick else (11, 150)
    previous = os.environ.get(CONN_ENV)
    rows: list[Row] = []
    try:
        with RealtimeKitEmulator(invoke_delay=0, upload_delay=0) as emulator:
            os.environ[CONN_ENV] = emulator.airflow_connection_json()
            meeting = emulator.create_meeting("benchmark")
            emulator.start_session(meeting["id"])
            layers = {"default": {"file_name_prefix": "bench", "media_kind": "audio"}}
            with RealtimeKitHook() as hook:
                recording_id = hook.start_track_recording(
                    build_track_request(meeting["id"], layers)
                ).recording.id
            url = f"{emulator.app_url}/recordings/{recording_id}"
            headers = {"Authorization": f"Bearer {emulator.api_token}"}

            with RealtimeKitHook() as hook, httpx.Client(headers=headers) as client:
                hook.get_recording(recording_id)  # connection read, client and socket opened
                client.get(url).json()
                ours, peer = _pairs(
                    rounds,
                    _sync_sampler(lambda: hook.get_recording(recording_id), calls),
                    _sync_sampler(lambda: client.get(url).json(), calls),
                )
            rows += _rows("sync RealtimeKitHook", "httpx.Client.get + .json()", ours, peer)

            async def run_async() -> tuple[list[Sample], list[Sample]]:
                async with RealtimeKitAsyncHook() as hook, httpx.AsyncClient(headers=headers) as client:

                    async def raw() -> Any:
                        return (await client.get(url)).json()

                    await hook.get_recording(recording_id)
                    await raw()
                    return await _async_pairs(
                        rounds,
                        _async_sampler(lambda: hook.get_recording(recording_id), calls),
                        _async_sampler(raw, calls),
                    )

            ours, peer = asyncio.run(run_async())
            rows += _rows("async RealtimeKitAsyncHook", "httpx.AsyncClient.get + .json()", ours, peer)
    finally:
        if previous is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = previous
    context = [
        f"3: {rounds} rounds of {calls} sequential calls each, one kept-alive connection per client; the "
        "hook adds a tenacity retry wrapper, the id check, the envelope check and a pydantic Recording"
    ]
    return rows, context, []
