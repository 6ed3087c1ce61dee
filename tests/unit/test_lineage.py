"""The OpenLineage datasets of a recording: namespaces and names, ids only (never a link)."""

from __future__ import annotations

import json

import attrs

from airflow_provider_rtk.lineage import RecordingLineage, namespace, operator_lineage
from airflow_provider_rtk.models import Recording
from tests.api_answers import track_download_url

TRACK = {
    "id": "rec-1",
    "status": "UPLOADED",
    "meeting_id": "m-1",
    "download_url": track_download_url("a.webm", "b.webm"),
}


def _lineage(**changes: object) -> RecordingLineage:
    base = RecordingLineage(account_id="ACC", app_id="APP", recording_id="rec-1", meeting_id="m-1")
    return RecordingLineage(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def _pairs(datasets: list) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def test_the_namespace_is_the_app():
    assert namespace("ACC", "APP") == "realtimekit://ACC/APP"


def test_a_start_reports_the_meeting_in_and_each_file_out():
    lineage = operator_lineage(_lineage(file_names=("a.webm", "b.webm")), recording_is="output")
    assert _pairs(lineage.inputs) == [("realtimekit://ACC/APP", "meetings/m-1")]
    assert _pairs(lineage.outputs) == [
        ("realtimekit://ACC/APP", "recordings/rec-1"),
        ("realtimekit://ACC/APP", "recordings/rec-1/a.webm"),
        ("realtimekit://ACC/APP", "recordings/rec-1/b.webm"),
    ]


def test_a_recording_whose_files_are_not_known_yet_is_the_recording_alone():
    lineage = operator_lineage(_lineage(), recording_is="output")
    assert _pairs(lineage.outputs) == [("realtimekit://ACC/APP", "recordings/rec-1")]


def test_a_copy_reports_the_files_in_and_the_copies_out_as_the_openlineage_provider_names_them():
    lineage = operator_lineage(
        _lineage(file_names=("a.webm",), destinations=("s3://bucket/standup/a.webm", "file:///data/a.webm")),
        recording_is="input",
    )
    assert _pairs(lineage.inputs) == [
        ("realtimekit://ACC/APP", "recordings/rec-1"),
        ("realtimekit://ACC/APP", "recordings/rec-1/a.webm"),
    ]
    assert _pairs(lineage.outputs) == [("s3://bucket", "standup/a.webm"), ("file://", "data/a.webm")]


def test_nothing_known_is_empty_lineage():
    lineage = operator_lineage(None, recording_is="input")
    assert (lineage.inputs, lineage.outputs, lineage.run_facets, lineage.job_facets) == ([], [], {}, {})


def test_the_files_come_from_the_recording_by_name_without_their_links():
    settings = type("Settings", (), {"account_id": "ACC", "app_id": "APP"})()
    lineage = RecordingLineage.of(settings, Recording.model_validate(TRACK))  # type: ignore[arg-type]
    assert lineage.file_names == ("a.webm", "b.webm")
    assert lineage.meeting_id == "m-1"
    reported = operator_lineage(lineage, recording_is="output")
    text = json.dumps([attrs.asdict(d) for d in [*reported.inputs, *reported.outputs]])
    assert "r2.example" not in text
    assert "Signature" not in text
