"""Worker of the import and DAG-parse benchmarks, run by :mod:`benchmarks.parse_cost` as a fresh interpreter.

Nothing of Airflow is imported before the timed ``import airflow.sdk``. Modes
(``python -m benchmarks.parse_worker MODE ARG``):

``imports STATEMENTS_JSON``
    after ``import airflow.sdk``, run each import statement in turn and time it.
``dag PATH``
    after ``import airflow.sdk``, execute the DAG file as a module and time it.
``processor CONFIG_JSON``
    what Airflow's DAG processor pays per parse. Its manager is a long-lived process that pre-imports
    the ``airflow.*`` modules each DAG file names (``[dag_processor] parsing_pre_import_modules``) and
    calls ``gc.freeze()``; each parse is a child forked from it running ``_parse_file`` (``DagBag`` load,
    checks, serialization). Here: the same pre-imports for every file, then one forked child per sample.
    The config's ``imports`` statements are timed in such children too.

Each mode answers with one marked JSON line on stdout.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._common import emit_result, run_forked


def _import_sdk() -> float:
    start = time.perf_counter()
    import airflow.sdk  # noqa: F401  (the baseline every measurement starts from)

    return time.perf_counter() - start


def time_statement(statement: str) -> float:
    """Seconds to run one import statement."""
    start = time.perf_counter()
    exec(statement, {})
    return time.perf_counter() - start


def new_modules(statement: str) -> list[str]:
    """The modules one statement adds to ``sys.modules``."""
    before = set(sys.modules)
    exec(statement, {})
    return sorted(set(sys.modules) - before)


def time_dag_import(path: str) -> float:
    """Seconds to execute a DAG file as a module; it must define exactly one DAG."""
    from airflow.sdk import DAG

    spec = importlib.util.spec_from_file_location(f"bench_dag_{Path(path).stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    start = time.perf_counter()
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    seconds = time.perf_counter() - start
    dags = sum(isinstance(value, DAG) for value in vars(module).values())
    if dags != 1:
        raise RuntimeError(f"{path} defined {dags} DAGs, expected 1")
    return seconds


def time_processor_parse(path: str) -> float:
    """Seconds the DAG processor's child spends on one file in ``_parse_file``; it must yield one DAG."""
    import structlog
    from airflow.dag_processing.processor import DagFileParseRequest, _parse_file

    request = DagFileParseRequest(file=path, bundle_path=Path(path).parent, bundle_name="benchmarks")
    start = time.perf_counter()
    result = _parse_file(request, structlog.get_logger("benchmarks"))
    seconds = time.perf_counter() - start
    if result is None or len(result.serialized_dags) != 1 or result.import_errors:
        errors = None if result is None else result.import_errors
        raise RuntimeError(f"parsing {path} did not give one DAG: {errors}")
    return seconds


def imports_mode(statements: list[str]) -> dict[str, Any]:
    sdk = _import_sdk()
    return {"sdk": sdk, "seconds": [time_statement(statement) for statement in statements]}


def dag_mode(path: str) -> dict[str, Any]:
    sdk = _import_sdk()
    return {"sdk": sdk, "seconds": time_dag_import(path)}


def processor_mode(config: dict[str, Any]) -> dict[str, Any]:
    _import_sdk()
    try:
        import structlog
        from airflow.dag_processing.processor import _pre_import_airflow_modules
    except ImportError as error:  # a private API of Airflow: report instead of failing the run
        return {"skipped": f"airflow.dag_processing.processor is not usable: {error}"}
    log = structlog.get_logger("benchmarks")
    before = set(sys.modules)
    for _, ours, peer in config["pairs"]:
        _pre_import_airflow_modules(ours, log)
        _pre_import_airflow_modules(peer, log)
    pre_imported = sorted(set(sys.modules) - before)
    gc.freeze()

    imports: dict[str, Any] = {}
    for _ in range(config["import_repeats"]):
        for label, ours, peer in config["imports"]:
            case = imports.setdefault(label, {"ours": [], "peer": []})
            case["ours"].append(run_forked(time_statement, ours))
            case["peer"].append(run_forked(time_statement, peer))
    for label, ours, peer in config["imports"]:
        imports[label]["ours_modules"] = run_forked(new_modules, ours)
        imports[label]["peer_modules"] = run_forked(new_modules, peer)

    parses: dict[str, dict[str, list[float]]] = {}
    for round_no in range(config["repeats"]):
        for label, ours, peer in config["pairs"]:
            case = parses.setdefault(label, {"ours": [], "peer": []})
            order = (("ours", ours), ("peer", peer))
            for side, path in order if round_no % 2 == 0 else order[::-1]:
                case[side].append(run_forked(time_processor_parse, path))
    return {"pre_imported": pre_imported, "imports": imports, "parses": parses}


if __name__ == "__main__":
    mode, argument = sys.argv[1], sys.argv[2]
    if mode == "imports":
        emit_result(imports_mode(json.loads(argument)))
    elif mode == "dag":
        emit_result(dag_mode(argument))
    elif mode == "processor":
        emit_result(processor_mode(json.loads(argument)))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
