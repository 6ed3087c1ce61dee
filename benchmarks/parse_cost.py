"""Benchmark 1: what the provider adds to import and DAG-parse time, against Airflow's standard provider.

Every sample of 1a and 1b is a fresh interpreter (:mod:`benchmarks.parse_worker`) that imports
``airflow.sdk`` and then times one thing; 1c models Airflow's DAG processor (a warm manager forking one
child per parse). The peers are the same DAGs built from the standard provider (``peer_dags/``).
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import Row, read_result

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
PEER_DAGS = Path(__file__).resolve().parent / "peer_dags"

OPERATOR = "from airflow_provider_rtk.operators.recording import RealtimeKitStartTrackRecordingOperator"
SENSORS = (
    "from airflow_provider_rtk.sensors import RealtimeKitActiveSessionSensor, RealtimeKitRecordingSensor"
)
BASH = "from airflow.providers.standard.operators.bash import BashOperator"
BASH_SENSOR = "from airflow.providers.standard.sensors.bash import BashSensor"
#: What the sensor-driven DAG imports from the provider, and the peer's counterpart, in import order.
OURS_CHAIN = [OPERATOR, SENSORS]
PEER_CHAIN = [BASH, BASH_SENSOR]

SECTION_IMPORT = "1a. Import on top of `import airflow.sdk` (one fresh interpreter per sample)"
SECTION_DAG = "1b. DAG file import after `import airflow.sdk` (one fresh interpreter per sample)"
SECTION_PROCESSOR = "1c. DAG file parse as Airflow's DAG processor does it (warm manager, one fork per parse)"
SAME_DAG = "same DAG, standard operators"


def dag_pairs() -> list[tuple[str, str, str]]:
    """(file name, our DAG, the peer DAG of the same shape) for every example DAG."""
    pairs = []
    for ours in sorted(DAGS.glob("*.py")):
        peer = PEER_DAGS / f"peer_{ours.stem.removeprefix('rtk_')}.py"
        if not peer.exists():
            raise FileNotFoundError(f"no peer DAG for {ours.name}: write {peer.relative_to(ROOT)}")
        pairs.append((ours.name, str(ours), str(peer)))
    return pairs


def bytecode_envs(env: dict[str, str], scratch: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Two environments: with a private bytecode cache (as an installed package has), and with none.

    The cache lives in ``scratch`` (``PYTHONPYCACHEPREFIX``), so nothing is written next to the sources;
    "none" points the prefix at an empty folder and forbids writing, so every module compiles from source.
    """
    cached = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    uncached = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(scratch / "no-pycache")}
    return cached, uncached


def worker(env: dict[str, str], mode: str, argument: str) -> Any:
    """Run :mod:`benchmarks.parse_worker` in a fresh interpreter; its JSON answer."""
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks.parse_worker", mode, argument],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if process.returncode != 0:
        raise RuntimeError(f"parse_worker {mode} failed ({process.returncode}):\n{process.stderr[-3000:]}")
    return read_result(process.stdout)


def importtime_top(
    statement: str, env: dict[str, str], top: int = 5
) -> tuple[float, list[tuple[str, float]]]:
    """``-X importtime`` of ``statement`` after ``import airflow.sdk``: total self time, heaviest modules."""
    code = f"import airflow.sdk, sys\nsys.stderr.write('@@MARK\\n')\nsys.stderr.flush()\n{statement}\n"
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if process.returncode != 0:
        raise RuntimeError(f"-X importtime failed:\n{process.stderr[-3000:]}")
    modules: list[tuple[str, float]] = []
    for line in process.stderr.split("@@MARK\n", 1)[-1].splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            self_us, _, name = line[len("import time:") :].split("|")
            modules.append((name.strip(), int(self_us) / 1e6))
    modules.sort(key=lambda item: item[1], reverse=True)
    return sum(seconds for _, seconds in modules), modules[:top]


def _alternating(round_no: int, ours: Any, peer: Any) -> list[tuple[str, Any]]:
    """Ours first in even rounds, the peer first in odd ones."""
    order = [("ours", ours), ("peer", peer)]
    return order if round_no % 2 == 0 else order[::-1]


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.1f} ms"


#: Issue 19's goal: importing the operator after ``airflow.sdk`` costs at most this many BashOperators.
OPERATOR_RATIO_GOAL = 2.0


def operator_ratio(ours: list[float], peer: list[float]) -> str:
    """The finding every run prints: 1a's operator row as a ratio of medians, against the goal (the
    samples were taken interleaved, in the same run, so a busy machine slows both sides alike)."""
    ratio = statistics.median(ours) / statistics.median(peer)
    verdict = "met" if ratio <= OPERATOR_RATIO_GOAL else "NOT met"
    return (
        f"operators.recording after `import airflow.sdk`: {_ms(ours)} against BashOperator's {_ms(peer)}, "
        f"{ratio:.2f} times it (issue 19's goal, within {OPERATOR_RATIO_GOAL:g} times: {verdict}; "
        f"n={len(ours)} fresh interpreters each)"
    )


def run(env: dict[str, str], scratch: Path, *, quick: bool) -> tuple[list[Row], list[str], list[str]]:
    """The rows of benchmark 1, context lines and findings (``scratch``: a temporary folder)."""
    # 1a: 15 rounds, as its operator row carries a goal (a fresh interpreter costs about a second)
    import_rounds, dag_rounds, processor_rounds = (2, 1, 3) if quick else (15, 3, 11)
    cached, uncached = bytecode_envs(env, scratch)
    pairs = dag_pairs()
    processor_config = {
        "pairs": pairs,
        "imports": [["operator + both sensors", "\n".join(OURS_CHAIN), "\n".join(PEER_CHAIN)]],
        "repeats": 1,
        "import_repeats": 1,
    }
    # Warm-up: imports everything every later sample imports, filling the private bytecode cache.
    worker(cached, "processor", json.dumps(processor_config))

    rows: list[Row] = []
    context: list[str] = []
    findings: list[str] = []

    sdk_cached: list[float] = []
    chain: dict[str, list[list[float]]] = {"ours": [[], []], "peer": [[], []]}
    for round_no in range(import_rounds):
        for side, statements in _alternating(round_no, OURS_CHAIN, PEER_CHAIN):
            answer = worker(cached, "imports", json.dumps(statements))
            sdk_cached.append(answer["sdk"])
            for index, seconds in enumerate(answer["seconds"]):
                chain[side][index].append(seconds)
    totals = {side: [a + b for a, b in zip(*chain[side], strict=True)] for side in chain}
    rows += [
        Row(SECTION_IMPORT, "operators.recording", chain["ours"][0], chain["peer"][0], "BashOperator"),
        Row(
            SECTION_IMPORT,
            "sensors (after the operator)",
            chain["ours"][1],
            chain["peer"][1],
            "BashSensor (after BashOperator)",
        ),
        Row(
            SECTION_IMPORT,
            "operator + both sensors",
            totals["ours"],
            totals["peer"],
            "BashOperator + BashSensor",
        ),
    ]

    dag_samples: dict[str, dict[str, list[float]]] = {name: {"ours": [], "peer": []} for name, _, _ in pairs}
    for round_no in range(dag_rounds):
        for name, ours, peer in pairs:
            for side, path in _alternating(round_no, ours, peer):
                answer = worker(cached, "dag", path)
                sdk_cached.append(answer["sdk"])
                dag_samples[name][side].append(answer["seconds"])
    rows += [
        Row(SECTION_DAG, f"dags/{name}", case["ours"], case["peer"], SAME_DAG)
        for name, case in dag_samples.items()
    ]

    processor = worker(
        cached,
        "processor",
        json.dumps({**processor_config, "repeats": processor_rounds, "import_repeats": processor_rounds}),
    )
    if "skipped" in processor:
        context.append(f"1c skipped: {processor['skipped']}")
    else:
        rows += [
            Row(SECTION_PROCESSOR, f"dags/{name}", case["ours"], case["peer"], SAME_DAG)
            for name, case in processor["parses"].items()
        ]
        label, in_child = next(iter(processor["imports"].items()))
        rows.append(
            Row(
                SECTION_PROCESSOR,
                f"{label}: import in a parse child",
                in_child["ours"],
                in_child["peer"],
                "BashOperator + BashSensor",
                notes=[
                    "the manager has pre-imported the peer's modules; ours are imported again by every parse"
                    f" ({', '.join(m for m in in_child['ours_modules'] if m.startswith('airflow_provider'))})"
                ],
            )
        )

    # Without bytecode (one pair: the point is the size of the compile cost, not its spread).
    sdk_uncached: list[float] = []
    no_bytecode: dict[str, float] = {}
    for side, statement in (("ours", OPERATOR), ("peer", BASH)):
        answer = worker(uncached, "imports", json.dumps([statement]))
        sdk_uncached.append(answer["sdk"])
        no_bytecode[side] = answer["seconds"][0]

    total, heaviest = importtime_top("\n".join(OURS_CHAIN), cached)
    findings.append(operator_ratio(chain["ours"][0], chain["peer"][0]))
    context += [
        "1 runs with a private bytecode cache (PYTHONPYCACHEPREFIX in the temp folder, filled by a warm-up "
        "run), as an installed package has",
        f"`import airflow.sdk` in a fresh interpreter: {_ms(sdk_cached)} with bytecode "
        f"(n={len(sdk_cached)}), {_ms(sdk_uncached)} compiling from source (n={len(sdk_uncached)}); "
        "a DAG processor pays it once",
        f"without bytecode, importing operators.recording takes {no_bytecode['ours'] * 1e3:.1f} ms and "
        f"BashOperator {no_bytecode['peer'] * 1e3:.1f} ms (n=1 each)",
        f"-X importtime, operator + both sensors after airflow.sdk: {total * 1e3:.1f} ms self time in all; "
        "heaviest: " + ", ".join(f"{name} {seconds * 1e3:.1f} ms" for name, seconds in heaviest),
    ]

    if "skipped" not in processor:
        pre_imported = processor["pre_imported"]
        extra = [
            statistics.median(case["ours"]) - statistics.median(case["peer"])
            for case in processor["parses"].values()
        ]
        if not any(name.startswith("airflow_provider_rtk") for name in pre_imported):
            findings.append(
                "Airflow's DAG processor pre-imports, once in its long-lived manager, only the `airflow.*` "
                "modules a DAG file names ([dag_processor] parsing_pre_import_modules). "
                "`airflow_provider_rtk` is not under `airflow.`, so every parse of an rtk DAG imports the "
                f"provider again ({_ms(in_child['ours'])} for operator + sensors in a parse child, against "
                f"{_ms(in_child['peer'])} for the pre-imported standard operators); 1c shows "
                f"{min(extra) * 1e3:+.1f} to {max(extra) * 1e3:+.1f} ms per parse against the peers. "
                "Only lean module-level imports in the DAG-facing modules reduce it."
            )
    if env.get("PYTHONDONTWRITEBYTECODE") and not airflow_has_bytecode():
        sdk_gap = statistics.median(sdk_uncached) - statistics.median(sdk_cached)
        findings.append(
            "This environment has PYTHONDONTWRITEBYTECODE set and no .pyc for Airflow, so every "
            f"interpreter compiles Airflow from source: about {sdk_gap:.1f} s more per process (see "
            "context), paid by each test process, `airflow` command and DAG-processor start. "
            "`uv pip install --compile-bytecode` in the Makefile's venv recipe would avoid it."
        )
    return rows, context, findings


def airflow_has_bytecode() -> bool:
    """Whether ``airflow/__init__.py`` has a .pyc where this interpreter looks (without importing it)."""
    spec = importlib.util.find_spec("airflow")
    return bool(spec and spec.cached and Path(spec.cached).exists())
