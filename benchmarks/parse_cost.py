"""Benchmark 1: what the provider adds to import and DAG-parse time, against Airflow's standard provider.

Runs :mod:`benchmarks.parse_worker` in a fresh interpreter (forked samples from a warm ``airflow.sdk``),
cross-checks one import in truly fresh ``python -c`` processes, and lists (``-X importtime``) which
modules the provider's imports add.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import RESULT_MARKER, Row, read_result

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
PEER_DAGS = Path(__file__).resolve().parent / "peer_dags"

OPERATOR = "from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator"
SENSORS = "from airflow_provider_rtk.sensors import RealtimeKitActiveSessionSensor, RealtimeKitRecordingSensor"
BASH = "from airflow.providers.standard.operators.bash import BashOperator"
BASH_SENSOR = "from airflow.providers.standard.sensors.bash import BashSensor"

#: label, our statement, the peer's statement
IMPORTS: list[tuple[str, str, str]] = [
    ("import operators.recording", OPERATOR, BASH),
    ("import sensors (both sensors)", SENSORS, BASH),
    ("import operator + both sensors", f"{OPERATOR}\n{SENSORS}", f"{BASH}\n{BASH_SENSOR}"),
]
IMPORT_PEERS = {
    "import operators.recording": "BashOperator import",
    "import sensors (both sensors)": "BashOperator import",
    "import operator + both sensors": "BashOperator + BashSensor",
}

SECTION_IMPORT = "1a. Import cost on top of `import airflow.sdk` (fresh interpreter)"
SECTION_DAG = "1b. DAG file import in a fresh interpreter (after `import airflow.sdk`)"
SECTION_PROCESSOR = "1c. DAG file parse as Airflow's DAG processor does it (pre-imports, fork, _parse_file)"


def dag_pairs() -> list[tuple[str, str, str]]:
    """(file name, our DAG, the peer DAG of the same shape) for every example DAG."""
    pairs = []
    for ours in sorted(DAGS.glob("*.py")):
        peer = PEER_DAGS / f"peer_{ours.stem.removeprefix('rtk_')}.py"
        if not peer.exists():
            raise FileNotFoundError(f"no peer DAG for {ours.name}: write {peer.relative_to(ROOT)}")
        pairs.append((ours.name, str(ours), str(peer)))
    return pairs


def _python(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    process = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if process.returncode != 0:
        raise RuntimeError(f"{args[:2]} failed ({process.returncode}):\n{process.stderr[-3000:]}")
    return process


def run_worker(env: dict[str, str], repeats: int, import_repeats: int) -> dict[str, Any]:
    config = {
        "repeats": repeats,
        "import_repeats": import_repeats,
        "imports": IMPORTS,
        "pairs": dag_pairs(),
    }
    process = _python(["-m", "benchmarks.parse_worker", json.dumps(config)], env)
    return read_result(process.stdout)  # type: ignore[no-any-return]


def fresh_import(statement: str, env: dict[str, str]) -> tuple[float, float]:
    """(``import airflow.sdk`` seconds, ``statement`` seconds) in a brand-new interpreter."""
    code = (
        "import time, json, sys\n"
        "t0 = time.perf_counter()\n"
        "import airflow.sdk\n"
        "t1 = time.perf_counter()\n"
        f"{statement}\n"
        "t2 = time.perf_counter()\n"
        f"sys.stdout.write({RESULT_MARKER!r} + json.dumps([t1 - t0, t2 - t1]) + '\\n')\n"
    )
    sdk, statement_seconds = read_result(_python(["-c", code], env).stdout)
    return sdk, statement_seconds


def importtime_top(statement: str, env: dict[str, str], top: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """``-X importtime`` of ``statement`` after ``import airflow.sdk``: total self time, heaviest modules."""
    code = f"import airflow.sdk, sys\nsys.stderr.write('@@MARK\\n')\nsys.stderr.flush()\n{statement}\n"
    stderr = _python(["-X", "importtime", "-c", code], env).stderr
    after = stderr.split("@@MARK\n", 1)[-1]
    modules: list[tuple[str, float]] = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _, name = line[len("import time:") :].split("|")
        modules.append((name.strip(), int(self_us) / 1e6))
    modules.sort(key=lambda item: item[1], reverse=True)
    return sum(seconds for _, seconds in modules), modules[:top]


def bytecode_envs(env: dict[str, str], scratch: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Two environments: with a private bytecode cache (as an installed package has), and with none.

    The cache lives in ``scratch`` (``PYTHONPYCACHEPREFIX``), so nothing is written next to the sources;
    "none" points the prefix at an empty folder and forbids writing, so every module compiles from source.
    """
    cached = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    uncached = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(scratch / "no-pycache")}
    return cached, uncached


def run(env: dict[str, str], scratch: Path, *, quick: bool) -> tuple[list[Row], list[str], list[str]]:
    """The rows of benchmark 1, context lines and findings (``scratch``: a temporary folder)."""
    repeats, import_repeats, fresh_repeats = (3, 5, 1) if quick else (11, 15, 3)
    cached, uncached = bytecode_envs(env, scratch)
    run_worker(cached, 1, 1)  # warm-up: compiles everything once into the private bytecode cache
    data = run_worker(cached, repeats, import_repeats)
    rows: list[Row] = []
    context: list[str] = []
    findings: list[str] = []

    for label, case in data["imports"].items():
        ours_mods = [m for m in case["ours_modules"] if m not in case["peer_modules"]]
        rows.append(
            Row(
                SECTION_IMPORT,
                label,
                case["ours"],
                case["peer"],
                IMPORT_PEERS[label],
                notes=[f"modules only ours adds: {', '.join(ours_mods)}"] if "+" in label else [],
            )
        )

    samples: dict[str, dict[str, list[float]]] = {
        "cached": {"sdk": [data["sdk_import_seconds"]], "ours": [], "peer": []},
        "uncached": {"sdk": [], "ours": [], "peer": []},
    }
    for _ in range(fresh_repeats):
        for mode, mode_env in (("cached", cached), ("uncached", uncached)):
            for side, statement in (("ours", OPERATOR), ("peer", BASH)):
                sdk, seconds = fresh_import(statement, mode_env)
                samples[mode]["sdk"].append(sdk)
                samples[mode][side].append(seconds)
    rows.append(
        Row(
            SECTION_IMPORT,
            "import operators.recording, own `python -c` (cross-check)",
            samples["cached"]["ours"],
            samples["cached"]["peer"],
            "BashOperator import",
        )
    )
    rows.append(
        Row(
            SECTION_IMPORT,
            "import operators.recording, no bytecode (compiled)",
            samples["uncached"]["ours"],
            samples["uncached"]["peer"],
            "BashOperator import",
        )
    )

    for name, case in data["dag_import"].items():
        rows.append(Row(SECTION_DAG, f"dags/{name}", case["ours"], case["peer"], "same DAG, standard operators"))
    if "processor" in data:
        for name, case in data["processor"].items():
            rows.append(
                Row(SECTION_PROCESSOR, f"dags/{name}", case["ours"], case["peer"], "same DAG, standard operators")
            )
    else:
        context.append(f"1c skipped: {data.get('processor_skipped')}")

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1e3:.1f} ms"

    context.append(
        "1 runs with a private bytecode cache (PYTHONPYCACHEPREFIX in a temp folder, warmed once), as an "
        "installed package has; 'no bytecode' compiles every module from source (PYTHONDONTWRITEBYTECODE=1 "
        "and no .pyc), as happens when a venv was installed without bytecode and may not write it"
    )
    context.append(
        f"`import airflow.sdk` in a fresh interpreter: {ms(samples['cached']['sdk'])} with bytecode "
        f"(n={len(samples['cached']['sdk'])}), {ms(samples['uncached']['sdk'])} without "
        f"(n={len(samples['uncached']['sdk'])}); a DAG processor pays it once, not per file"
    )
    total, heaviest = importtime_top(f"{OPERATOR}\n{SENSORS}", cached)
    context.append(
        f"-X importtime of operator + both sensors after airflow.sdk: {total * 1e3:.1f} ms self time; "
        "heaviest: " + ", ".join(f"{name} {seconds * 1e3:.1f} ms" for name, seconds in heaviest)
    )

    in_child = data.get("processor_imports")
    if in_child and "processor" in data:
        pre_imported = data.get("pre_imported", [])
        extra = [
            statistics.median(case["ours"]) - statistics.median(case["peer"])
            for case in data["processor"].values()
        ]
        context.append(
            f"1c: in a parse child, '{in_child['label']}' costs {ms(in_child['ours'])} for ours and "
            f"{ms(in_child['peer'])} for the peer (already imported by the manager)"
        )
        if not any(name.startswith("airflow_provider_rtk") for name in pre_imported):
            findings.append(
                "Airflow's DAG processor pre-imports, once in its long-lived manager, only the `airflow.*` "
                "modules a DAG file names ([dag_processor] parsing_pre_import_modules); "
                "`airflow_provider_rtk` is not under `airflow.`, so every parse of an rtk DAG imports the "
                f"provider again: {ms(in_child['ours'])} per parse for operator + sensors, against "
                f"{ms(in_child['peer'])} for the standard operators. 1c shows +"
                f"{min(extra) * 1e3:.1f} to +{max(extra) * 1e3:.1f} ms per parse over the peers. Keeping "
                "module-level imports of the DAG-facing modules minimal is the only lever."
            )
    return rows, context, findings
