"""Worker of benchmark 4 (triggerer scale), run by :mod:`benchmarks.triggerer_scale` as a fresh interpreter.

``python -m benchmarks.triggerer_worker`` (its config: one JSON line on stdin) follows
``config["recordings"]`` with one kind of waiter, in one event loop, the way Airflow's triggerer runs
triggers (``TriggerRunner.create_triggers`` and ``run_trigger``): each trigger is rebuilt from its
serialized classpath and kwargs, the loop yields between two creations, and each runs as its own task
that enters a ``greenback`` portal and iterates ``trigger.run()`` until its first event. Kinds:

``rtk``
    ``RealtimeKitRecordingTrigger`` (target ``UPLOADED``), its connection from
    ``AIRFLOW_CONN_REALTIMEKIT_DEFAULT``.
``http``
    ``HttpEventTrigger`` of ``apache-airflow-providers-http`` polling ``GET /recordings/{id}``, with a
    response check that fires on ``UPLOADED``.
``httpx``
    a plain coroutine per recording doing the same poll through one shared ``httpx.AsyncClient``
    (run by the same runner, so only the polling code differs).

Phases: *start* (creations, then one poll interval), *running* (``run_seconds``: CPU, memory, sockets),
then the worker prints ``@@NOTICE`` and the parent ends the meetings' sessions at known times (their
recordings become ``UPLOADED``); *notice* lasts until every waiter fired, or both ``notice_seconds``
passed and ``notice_tail`` seconds since the parent reported (``@@ENDED`` on stdin) that the last
session ended (stalls counted as *running*); *cancel* cancels the waiters that have not fired.
A heartbeat coroutine measures how late the loop wakes it (the longest stall) in each phase. The answer
(one marked JSON line) holds the raw figures; :mod:`benchmarks.triggerer_scale` turns them into the table.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import os
import resource
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from benchmarks._common import emit_result

#: The heartbeat's period (seconds); its lateness is the loop's stall.
HEARTBEAT = 0.01
NOTICE_MARKER = "@@NOTICE"
#: the parent's answer on stdin once every session has ended
ENDS_MARKER = "@@ENDED"
#: Connections of the shared-client peer (as many as the provider's pooled client may open).
POOL = 32


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def tcp_sockets() -> int:
    """This process's open TCP sockets: its socket descriptors whose inode is in the TCP tables."""
    inodes: set[str] = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                inodes.update(line.split()[9] for line in lines)
        except FileNotFoundError:
            continue
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


class SharedClientPoller:
    """The ``httpx`` peer: polls one recording through the loop's shared client until it is UPLOADED.

    Its first poll waits ``offset`` seconds, so N pollers spread their polls over the interval, and the
    client's pool has the bounds of the provider's pooled client (32 connections kept alive 120 s),
    with requests beyond them waiting on a semaphore. A default client with N polls at once queues them
    in httpcore's pool, whose assignment of queued requests to connections costs queued x connections
    per event: at N=1,000 on a loaded machine the loop spun for over a minute.
    """

    client: Any = None  #: one ``httpx.AsyncClient`` for every poller of the process
    slots: asyncio.Semaphore | None = None  #: one per pooled connection

    def __init__(
        self, recording_id: str, base_url: str, token: str, poll_interval: float, offset: float = 0.0
    ) -> None:
        self.recording_id = recording_id
        self.base_url = base_url
        self.token = token
        self.poll_interval = poll_interval
        self.offset = offset

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "recording_id": self.recording_id,
                "base_url": self.base_url,
                "token": self.token,
                "poll_interval": self.poll_interval,
                "offset": self.offset,
            },
        )

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        import httpx

        if SharedClientPoller.client is None:
            SharedClientPoller.client = httpx.AsyncClient(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {self.token}"},
                limits=httpx.Limits(
                    max_connections=POOL, max_keepalive_connections=POOL, keepalive_expiry=120
                ),
            )
            SharedClientPoller.slots = asyncio.Semaphore(POOL)
        assert SharedClientPoller.slots is not None
        await asyncio.sleep(self.offset)
        while True:
            async with SharedClientPoller.slots:
                answer = await SharedClientPoller.client.get(f"/recordings/{self.recording_id}")
            if answer.json()["data"]["status"] == "UPLOADED":
                yield {"status": "success"}
                return
            await asyncio.sleep(self.poll_interval)


def make_waiter(kind: str, index: int, config: dict[str, Any]) -> Any:
    """The ``index``-th waiter, as a DAG would defer to it (before serialization)."""
    recording_id = config["recordings"][index]
    interval = config["poll_interval"]
    if kind == "rtk":
        from airflow_provider_rtk.triggers import RealtimeKitRecordingTrigger

        return RealtimeKitRecordingTrigger(recording_id, target_status="UPLOADED", poll_interval=interval)
    if kind == "http":
        from airflow.providers.http.triggers.http import HttpEventTrigger

        return HttpEventTrigger(
            response_check_path="benchmarks._http_check.recording_uploaded",
            http_conn_id="rtk_bench_http",
            endpoint=f"{config['app_path']}/recordings/{recording_id}",
            headers={"Authorization": f"Bearer {config['token']}"},
            poll_interval=interval,
        )
    if kind == "httpx":
        offset = interval * index / len(config["recordings"])
        return SharedClientPoller(recording_id, config["app_url"], config["token"], interval, offset)
    raise SystemExit(f"unknown kind {kind!r}")


_classes: dict[str, Any] = {}


def trigger_class_of(classpath: str) -> Any:
    """The class at ``classpath``, imported once (the triggerer keeps a cache of them too)."""
    if classpath not in _classes:
        module, _, name = classpath.rpartition(".")
        _classes[classpath] = getattr(importlib.import_module(module), name)
    return _classes[classpath]


class GcPauses:
    """The longest garbage collection of each phase (``gc.callbacks``), to tell a stall's cause."""

    def __init__(self, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat
        self.worst: dict[str, float] = {}
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        took = time.perf_counter() - self._began
        key = self.heartbeat.phase
        self.worst[key] = max(self.worst.get(key, 0.0), took)


class Heartbeat:
    """Wakes every :data:`HEARTBEAT` seconds and keeps the worst lateness of the current phase.

    A wake-up delayed by the worker's own measuring (``pause()``) is not counted.
    """

    def __init__(self) -> None:
        self.worst: dict[str, float] = {}
        #: CPU this process used during each phase's worst stall (little of it: the OS ran others)
        self.worst_cpu: dict[str, float] = {}
        self.phase = "start"
        self.pauses = 0
        self._stop = False

    async def beat(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop:
            pauses, before, cpu = self.pauses, loop.time(), time.process_time()
            await asyncio.sleep(HEARTBEAT)
            late = loop.time() - before - HEARTBEAT
            if pauses == self.pauses and late > self.worst.get(self.phase, -1.0):
                self.worst[self.phase] = late
                self.worst_cpu[self.phase] = time.process_time() - cpu

    def pause(self) -> None:
        self.pauses += 1

    def stop(self) -> None:
        self._stop = True


def read_ends_done(into: list[float]) -> None:
    """The parent's line after the last session end (``ENDS_MARKER`` and a time); EOF counts as now."""
    line = sys.stdin.readline()
    parts = line.split()
    into.append(float(parts[1]) if len(parts) == 2 and parts[0] == ENDS_MARKER else time.time())


async def measure(config: dict[str, Any]) -> dict[str, Any]:
    import greenback

    kind, recordings = config["kind"], config["recordings"]
    interval = config["poll_interval"]
    fired: dict[str, float] = {}
    statuses: dict[str, str] = {}
    failures: list[str] = []

    async def run_trigger(recording_id: str, trigger: Any) -> None:
        """What the triggerer's ``run_trigger`` does for one trigger: a portal, then its events."""
        await greenback.ensure_portal()
        events = trigger.run()
        try:
            async for event in events:
                fired[recording_id] = time.time()
                payload = getattr(event, "payload", event)
                statuses[recording_id] = str(payload.get("status") if isinstance(payload, dict) else payload)
                break
        except Exception as error:  # the triggerer logs it and fails the task
            failures.append(f"{type(error).__name__}: {error}"[:300])
        finally:
            await events.aclose()

    serialized = [make_waiter(kind, index, config).serialize() for index in range(len(recordings))]
    gc.collect()
    heartbeat = Heartbeat()
    collections = GcPauses(heartbeat)
    beating = asyncio.create_task(heartbeat.beat())
    await asyncio.sleep(0.2)
    baseline = {"rss": resident_bytes(), "sockets": tcp_sockets(), "cpu": time.process_time()}

    created_at = time.time()
    tasks = []
    for recording_id, (classpath, kwargs) in zip(recordings, serialized, strict=True):
        await asyncio.sleep(0)  # create_triggers yields before and after loading the class
        trigger_class = trigger_class_of(classpath)
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(run_trigger(recording_id, trigger_class(**kwargs))))
    create_seconds = time.time() - created_at
    await asyncio.sleep(interval)  # every waiter's first poll
    start_cpu = time.process_time() - baseline["cpu"]

    heartbeat.phase = "running"
    window_start, cpu_start = time.time(), time.process_time()
    sockets = []
    step = config["run_seconds"] / 3
    for _ in range(3):
        await asyncio.sleep(step)
        heartbeat.pause()
        sockets.append(tcp_sockets())
        heartbeat.pause()
    window_end, cpu_end = time.time(), time.process_time()
    heartbeat.pause()
    resident = resident_bytes()
    heartbeat.pause()

    ends_done: list[float] = []  # when the parent finished ending the sessions (it may run late)
    threading.Thread(target=read_ends_done, args=(ends_done,), daemon=True).start()
    sys.stdout.write(f"{NOTICE_MARKER} {time.time()}\n")
    sys.stdout.flush()
    deadline = time.time() + config["notice_seconds"]
    while len(fired) + len(failures) < len(recordings):
        # every waiter gets the notice tail after the last session really ended, not only after its due time
        if ends_done and time.time() >= max(deadline, ends_done[0] + config["notice_tail"]):
            break
        await asyncio.sleep(0.1)
    heartbeat.phase = "cancel"  # what the triggerer does to triggers it drops (cleared tasks, shutdown)
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    heartbeat.stop()
    await beating
    if SharedClientPoller.client is not None:
        await SharedClientPoller.client.aclose()
    return {
        "kind": kind,
        "n": len(recordings),
        "baseline_rss": baseline["rss"],
        "running_rss": resident,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "baseline_sockets": baseline["sockets"],
        "sockets": sockets,
        "create_seconds": create_seconds,
        "start_cpu": start_cpu,
        "window": [window_start, window_end],
        "window_cpu": cpu_end - cpu_start,
        "stall": heartbeat.worst,
        "stall_cpu": heartbeat.worst_cpu,
        "gc_pause": collections.worst,
        "fired": fired,
        "statuses": statuses,
        "failures": failures[:5],
        "failure_count": len(failures),
        "unfinished": len(pending),
    }


def main(config: dict[str, Any]) -> None:
    # Everything a triggerer has loaded before the first trigger arrives.
    import airflow.sdk
    import greenback  # noqa: F401
    import httpx  # noqa: F401

    if config["kind"] == "rtk":
        import airflow_provider_rtk.triggers.recording  # noqa: F401
    if config["kind"] == "http":
        import airflow.providers.http.triggers.http  # noqa: F401

        import benchmarks._http_check  # noqa: F401
    emit_result(asyncio.run(measure(config)))


if __name__ == "__main__":
    main(json.loads(sys.stdin.readline()))
