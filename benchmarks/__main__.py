"""``python -m benchmarks [--quick] [--only 1,2,3,4,5,6,7]``: run the benchmarks and print the tables.

``AIRFLOW_HOME`` is pointed at a temporary folder before anything imports Airflow (here and in every
subprocess), so a run never reads or writes a user's Airflow home. Nothing is written into the repo.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from benchmarks._common import Row, print_table
from benchmarks._figures import Figure, goal_summary, print_figures, print_lines

ALL_SECTIONS = "1,2,3,4,5,6,7"
#: (number, module, what it measures) of the sections that print figures with goals (issues 12, 20).
ISSUE_12_SECTIONS = [
    ("4", "triggerer_scale", "triggerer scale: N waiters in one event loop, fresh interpreters"),
    ("5", "fan_out", "rate-limited fan-out: the operator against the cloudflare SDK"),
    ("6", "hook_cost", "per-use hook cost: a new hook against a warm call"),
    # issue 20: the real stack (services as subprocesses), push against poll
    ("7", "push_latency", "meeting.started to a queued run: push against the polling watcher, real stack"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke test, not a measurement")
    parser.add_argument(
        "--only", default=ALL_SECTIONS, help=f"which benchmarks to run, e.g. 2,3 (default {ALL_SECTIONS})"
    )
    args = parser.parse_args(argv)
    selected = {part.strip() for part in args.only.split(",") if part.strip()}

    if "airflow" in sys.modules:
        raise SystemExit("benchmarks must set AIRFLOW_HOME before Airflow is imported")
    scratch = tempfile.mkdtemp(prefix="rtk-bench-")
    home = os.path.join(scratch, "airflow-home")
    os.mkdir(home)
    os.environ["AIRFLOW_HOME"] = home
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.pop("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", None)  # benchmark 3 sets its own
    env = dict(os.environ)

    started = time.perf_counter()
    rows: list[Row] = []
    figures: list[Figure] = []
    context: list[str] = []
    findings: list[str] = []
    print(
        f"airflow-provider-rtk benchmarks: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"AIRFLOW_HOME={home}" + (" (--quick: not a measurement)" if args.quick else ""),
        flush=True,
    )
    try:
        # Subprocess-based first, while this process has not imported Airflow yet.
        if "1" in selected:
            from benchmarks import parse_cost

            print("running 1 (imports and DAG parsing, fresh interpreters)...", flush=True)
            result = parse_cost.run(env, Path(scratch), quick=args.quick)
            rows += result[0]
            context += result[1]
            findings += result[2]
        # Sections 2 and 3 time calls, not imports: let this process import from the warm cache of 1.
        sys.pycache_prefix = str(Path(scratch) / "pycache")
        sys.dont_write_bytecode = False
        if "2" in selected:
            from benchmarks import payload

            print("running 2 (payload validation)...", flush=True)
            result = payload.run(quick=args.quick)
            rows += result[0]
            context += result[1]
            findings += result[2]
        if "3" in selected:
            from benchmarks import http_overhead

            print("running 3 (hook over loopback HTTP)...", flush=True)
            result = http_overhead.run(quick=args.quick)
            rows += result[0]
            context += result[1]
            findings += result[2]
        # Sections 4-6 (issue 12): figures with goals; the emulator runs in a process of its own.
        for number, module_name, what in ISSUE_12_SECTIONS:
            if number in selected:
                print(f"running {number} ({what})...", flush=True)
                module = importlib.import_module(f"benchmarks.{module_name}")
                try:
                    found, more_context, more_findings = module.run(quick=args.quick)
                except Exception as error:  # the other sections' figures still print
                    findings.append(f"section {number} failed: {str(error).strip()[-1500:]}")
                    continue
                figures += found
                context += more_context
                findings += more_findings
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    context.insert(
        0, f"Airflow {metadata.version('apache-airflow')}; whole run {time.perf_counter() - started:.0f} s"
    )
    if rows:
        print_table(rows, [], [])
    print_figures(figures)
    print_lines("Context", context)
    print_lines("Goals (issues 12 and 20)", goal_summary(figures))
    print_lines("Findings", findings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
