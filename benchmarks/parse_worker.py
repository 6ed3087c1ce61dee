"""Worker of the import and DAG-parse benchmarks; run by ``benchmarks.parse_cost`` in a fresh interpreter.

``python -m benchmarks.parse_worker CONFIG_JSON``: imports ``airflow.sdk`` (and nothing of Airflow
before), then measures every case in a child forked from that warm interpreter, so each sample starts
from exactly the modules a fresh ``python -c "import airflow.sdk"`` holds. Ours and the peer alternate,
round after round. Phases:

1. ``imports``: one import statement (the incremental cost on top of ``airflow.sdk``).
2. ``dag_import``: executing a DAG file as a module (what importing it in a fresh interpreter costs).
3. ``processor``: what Airflow's DAG processor pays per parse: its manager pre-imports the ``airflow.*``
   modules a DAG file names (``[dag_processor] parsing_pre_import_modules``) and ``gc.freeze()``s, then a
   forked child runs ``_parse_file`` (``DagBag`` load, checks, serialization). The last ``imports``
   statement is timed in such a child too (``processor_imports``).
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


def time_statement(statement: str) -> dict[str, Any]:
    """Seconds to run one import statement, and the modules it added."""
    before = set(sys.modules)
    start = time.perf_counter()
    exec(statement, {})
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "new_modules": sorted(set(sys.modules) - before)}


def time_dag_import(path: str) -> dict[str, Any]:
    """Seconds to execute a DAG file as a module, and how many DAG objects it defined."""
    from airflow.sdk import DAG

    spec = importlib.util.spec_from_file_location(f"bench_dag_{Path(path).stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    start = time.perf_counter()
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "dags": sum(isinstance(v, DAG) for v in vars(module).values())}


def time_processor_parse(path: str) -> dict[str, Any]:
    """Seconds the DAG processor's child spends on one file: ``_parse_file`` (load, checks, serialize)."""
    import structlog
    from airflow.dag_processing.processor import DagFileParseRequest, _parse_file

    request = DagFileParseRequest(file=path, bundle_path=Path(path).parent, bundle_name="benchmarks")
    start = time.perf_counter()
    result = _parse_file(request, structlog.get_logger("benchmarks"))
    seconds = time.perf_counter() - start
    if result is None:
        raise RuntimeError(f"_parse_file returned nothing for {path}")
    return {
        "seconds": seconds,
        "dags": len(result.serialized_dags),
        "errors": {str(key): str(value)[-500:] for key, value in (result.import_errors or {}).items()},
    }


def main(config: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    import airflow.sdk  # noqa: F401  (the baseline every sample starts from)

    out: dict[str, Any] = {"sdk_import_seconds": time.perf_counter() - start}
    gc.freeze()  # as the DAG processor's manager does before forking

    imports: dict[str, dict[str, list[Any]]] = {}
    for _ in range(config["import_repeats"]):
        for label, *statements in config["imports"]:
            case = imports.setdefault(label, {"ours": [], "peer": [], "ours_modules": [], "peer_modules": []})
            for side, statement in zip(("ours", "peer"), statements, strict=True):
                result = run_forked(time_statement, statement)
                case[side].append(result["seconds"])
                case[f"{side}_modules"] = result["new_modules"]
    out["imports"] = imports

    dag_import: dict[str, dict[str, list[float]]] = {}
    for _ in range(config["repeats"]):
        for label, ours, peer in config["pairs"]:
            case = dag_import.setdefault(label, {"ours": [], "peer": []})
            for side, path in (("ours", ours), ("peer", peer)):
                result = run_forked(time_dag_import, path)
                if result["dags"] != 1:
                    raise RuntimeError(f"{path} defined {result['dags']} DAGs, expected 1")
                case[side].append(result["seconds"])
    out["dag_import"] = dag_import

    try:
        import structlog
        from airflow.dag_processing.processor import _pre_import_airflow_modules
    except ImportError as error:  # a private API of Airflow: skip this phase if it moved
        out["processor_skipped"] = f"airflow.dag_processing.processor not usable: {error}"
        return out
    log = structlog.get_logger("benchmarks")
    before = set(sys.modules)
    for _, ours, peer in config["pairs"]:
        _pre_import_airflow_modules(ours, log)
        _pre_import_airflow_modules(peer, log)
    out["pre_imported"] = sorted(
        name for name in set(sys.modules) - before if name.startswith(("airflow.providers", "airflow_"))
    )
    gc.freeze()

    label, ours_statement, peer_statement = config["imports"][-1]
    in_child: dict[str, Any] = {"label": label, "ours": [], "peer": []}
    for _ in range(config["import_repeats"]):
        for side, statement in (("ours", ours_statement), ("peer", peer_statement)):
            in_child[side].append(run_forked(time_statement, statement)["seconds"])
    out["processor_imports"] = in_child

    processor: dict[str, dict[str, list[float]]] = {}
    for _ in range(config["repeats"]):
        for label, ours, peer in config["pairs"]:
            case = processor.setdefault(label, {"ours": [], "peer": []})
            for side, path in (("ours", ours), ("peer", peer)):
                result = run_forked(time_processor_parse, path)
                if result["dags"] != 1 or result["errors"]:
                    raise RuntimeError(f"parsing {path} failed: {result}")
                case[side].append(result["seconds"])
    out["processor"] = processor
    return out


if __name__ == "__main__":
    emit_result(main(json.loads(sys.argv[1])))
