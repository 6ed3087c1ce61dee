"""Every example DAG imports cleanly, and parsing one does not pull in the HTTP stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_example_dags_import_without_errors() -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert len(bag.dags) >= 2
    for dag_id, dag in bag.dags.items():
        assert "realtimekit" in (dag.tags or ()), dag_id
        assert dag.doc_md, dag_id


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_parsing_a_dag_file_leaves_http_and_models_unimported(path: Path) -> None:
    """DAG files are parsed every few seconds: the provider's HTTP and model code loads only at run time,
    and so does OpenLineage (an optional extra, imported only when a finished task reports lineage)."""
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        "heavy = [m for m in sys.modules if m.startswith(('airflow_provider_rtk.models',"
        " 'airflow_provider_rtk.hooks.', 'airflow_provider_rtk.storage', 'airflow_provider_rtk.emulator.',"
        " 'airflow_provider_rtk.lineage', 'airflow.providers.openlineage.extractors', 'openlineage.'))];"
        "print('HEAVY=' + ','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True
    )
    (marker,) = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert marker == "HEAVY="
