"""Benchmark 6: what a new hook costs per use (new hook, its first call, closing it) against a warm call.

Every operator run, reschedule poke and trigger builds a new hook, so the new-hook path matters as much
as a warm call. In one process, after the first hook of that process (imports, the first connection
lookup and client), each sample times ``calls`` uses of a new ``RealtimeKitHook`` (``get_recording``,
then ``close``) or ``calls`` ``get_recording`` calls on one existing hook, alternating; the same for
``RealtimeKitAsyncHook`` in one event loop, while another hook of the connection is open (a triggerer
always has one), and with none open (the new hook is the connection's only user). The emulator runs in
its own process, so wall and process CPU are the client's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._emulator_proc import EmulatorProcess, connection_env
from benchmarks._figures import Figure, Goal

SECTION = "6. Per-use hook cost: new hook + first call + close, against a warm call (emulator process)"
WARM = "warm call, existing hook"

Sample = tuple[float, float]  # (wall seconds, process CPU seconds) per use


def _timed(func: Callable[[], Any], calls: int) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        func()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


async def _atimed(func: Callable[[], Awaitable[Any]], calls: int) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await func()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def _figures(kind: str, new: list[Sample], warm: list[Sample], *, goal: bool = True) -> list[Figure]:
    within = Goal(f"<= 1.2x {WARM}", 1.2, WARM) if goal else None
    return [
        Figure(
            SECTION,
            f"{kind}: {what}",
            "ms",
            [s[i] * 1e3 for s in new],
            {WARM: [s[i] * 1e3 for s in warm]},
            within,
        )
        for i, what in enumerate(("wall", "CPU"))
    ]


def run(*, quick: bool) -> tuple[list[Figure], list[str], list[str]]:
    """The figures of benchmark 6, context lines and findings."""
    from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook, RealtimeKitHook

    rounds, calls = (3, 10) if quick else (21, 100)
    figures: list[Figure] = []
    with EmulatorProcess() as emulator, connection_env(emulator.connection_json()):
        recording_id = emulator.recording_meetings("hook-cost", 1)[0][1]

        def new_sync() -> None:
            hook = RealtimeKitHook()
            try:
                hook.get_recording(recording_id)
            finally:
                hook.close()

        new_sync()  # the first hook of the process: not timed
        news: list[Sample] = []
        warms: list[Sample] = []
        with RealtimeKitHook() as warm_hook:
            warm_hook.get_recording(recording_id)
            for round_no in range(rounds):
                pair = [(news, new_sync), (warms, lambda: warm_hook.get_recording(recording_id))]
                for samples, func in pair if round_no % 2 == 0 else pair[::-1]:
                    samples.append(_timed(func, calls))
        figures += _figures("sync RealtimeKitHook", news, warms)

        async def new_async() -> None:
            hook = RealtimeKitAsyncHook()
            try:
                await hook.get_recording(recording_id)
            finally:
                await hook.aclose()

        async def measure_async() -> tuple[list[Sample], list[Sample], list[Sample]]:
            await new_async()  # the first hook of the loop: not timed
            shared: list[Sample] = []
            alone: list[Sample] = []
            warm: list[Sample] = []
            for round_no in range(rounds):
                alone.append(await _atimed(new_async, calls))  # no other user: its own client
                async with RealtimeKitAsyncHook() as other:
                    await other.get_recording(recording_id)
                    pair = [(shared, new_async), (warm, lambda: other.get_recording(recording_id))]
                    for samples, func in pair if round_no % 2 == 0 else pair[::-1]:
                        samples.append(await _atimed(func, calls))
            return shared, alone, warm

        shared, alone, warm = asyncio.run(measure_async())
        figures += _figures("async hook, another hook open", shared, warm)
        figures += _figures("async hook, the only user", alone, warm, goal=False)
    context = [
        f"6: {rounds} rounds of {calls} uses each, new and warm alternating which goes first; CPU is this "
        "process's (the emulator is another process); 'the only user' has no goal: the connection's "
        "last user closes the loop's client, so the next new hook opens a connection again"
    ]
    findings = []
    for figure in figures:
        if figure.goal is not None and figure.verdict() is False:
            ratio = figure.median / figure.peer_medians()[WARM]
            findings.append(
                f"{figure.name}: a new hook costs {ratio:.2f}x a warm call (goal <= 1.2x): "
                f"{figure.median:.2f} ms against {figure.peer_medians()[WARM]:.2f} ms."
            )
    return figures, context, findings
