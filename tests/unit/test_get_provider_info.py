"""The provider as Airflow sees it: discovered through its entry point, connection type and form."""

from __future__ import annotations

import re
from importlib.metadata import entry_points

from airflow_provider_rtk.get_provider_info import CONN_FIELDS, get_provider_info
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook


def test_entry_point_points_at_provider_info() -> None:
    (entry,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_rtk")
    ]
    assert entry.load() is get_provider_info


def test_provider_info_names_match_the_distribution() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-rtk"
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == RealtimeKitHook.conn_type == "realtimekit"
    assert conn_type["hook-class-name"] == "airflow_provider_rtk.hooks.realtimekit.RealtimeKitHook"
    assert set(conn_type["conn-fields"]) == {"account_id", "app_id"}
    assert {"login", "schema"} <= set(conn_type["ui-field-behaviour"]["hidden-fields"])


def test_providers_manager_discovers_provider_and_hook() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-rtk" in manager.providers
    hook_info = manager.hooks["realtimekit"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_rtk.hooks.realtimekit.RealtimeKitHook"
    assert hook_info.connection_id_attribute_name == "realtimekit_conn_id"
    behaviour = manager.field_behaviours["realtimekit"]
    assert "login" in behaviour["hidden_fields"]
    assert behaviour["relabeling"]["password"] == "API token"


def test_hook_form_classmethods_match_provider_info() -> None:
    behaviour = RealtimeKitHook.get_ui_field_behaviour()
    assert (
        behaviour["relabeling"]
        == get_provider_info()["connection-types"][0]["ui-field-behaviour"]["relabeling"]
    )
    assert set(RealtimeKitHook.get_connection_form_widgets()) in (set(), set(CONN_FIELDS))


def test_the_version_has_one_source() -> None:
    """``pyproject.toml`` holds the version; the package and the provider info read the metadata."""
    import tomllib
    from pathlib import Path

    import airflow_provider_rtk

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    version = pyproject["project"]["version"]
    assert airflow_provider_rtk.__version__ == version
    assert get_provider_info()["versions"] == [version]
    # no second copy of the package's version (a config option's "version_added" is history, not one)
    source = Path(airflow_provider_rtk.__file__).parent
    copies = re.compile(r"__version__\s*=|[\"']versions?[\"']\s*:\s*\[?\s*[\"']\d")
    assert [p.name for p in source.rglob("*.py") if copies.search(p.read_text())] == []


def test_the_copy_operators_are_declared_as_transfers() -> None:
    import importlib

    info = get_provider_info()
    operator_modules = [m for entry in info["operators"] for m in entry["python-modules"]]
    assert all(importlib.import_module(m) for m in operator_modules)
    declared = {}
    for transfer in info["transfers"]:
        assert transfer["source-integration-name"] in {i["integration-name"] for i in info["integrations"]}
        assert transfer["python-module"] not in operator_modules
        declared[transfer["python-module"]] = importlib.import_module(transfer["python-module"])
    recordings, transcripts = declared.values()
    assert recordings.RealtimeKitRecordingToObjectStorageOperator.__module__ == recordings.__name__
    operator = transcripts.RealtimeKitSessionTranscriptToObjectStorageOperator
    assert operator.__module__ == transcripts.__name__


def test_the_provider_info_is_valid_under_the_installed_airflows_schema() -> None:
    """The schema Airflow's providers manager validates provider info with, whichever Airflow runs the
    test (3.4 checks each ``plugins`` item as ``{name, plugin-class}``, which 3.3's schema let pass)."""
    import json
    from importlib.resources import files

    import jsonschema

    schema = json.loads((files("airflow") / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validators.validator_for(schema)(schema).validate(info)
    # Every section is one this Airflow reads: a section its schema does not know (3.4's provider.yaml
    # "retry-policies", say) would be read by nothing. "versions" is provider.yaml's, kept for tooling.
    assert set(info) - set(schema["properties"]) <= {"versions"}


def test_the_schema_check_catches_a_misshapen_section() -> None:
    """The check above is not vacuous: a section of the wrong shape is refused, and on Airflow 3.4+ a
    ``plugins`` item that is not ``{name, plugin-class}`` strings too."""
    import json
    from importlib.resources import files

    import jsonschema
    import pytest

    from airflow_provider_rtk.version_compat import AIRFLOW_V_3_4_PLUS

    schema = json.loads((files("airflow") / "provider_info.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    bad = [{"extra-links": "not-a-list"}]
    if AIRFLOW_V_3_4_PLUS:
        bad += [{"plugins": [{"name": "rtk", "plugin-class": 7}]}, {"plugins": ["rtk"]}]
    for section in bad:
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**get_provider_info(), **section})
