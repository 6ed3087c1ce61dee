"""Recordings as assets: a start task that waits for the files emits an asset event whose extra names
the recording, meeting, session and files - and never a pre-signed link; nor does the XCom."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import recordings_of, xcom


def asset_events(uri: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
        )
        return [event.extra for event in session.scalars(query)]


@pytest.mark.skipif(
    __import__("airflow").__version__.startswith("3.0."),
    reason="version specific: on Airflow 3.0 dag.test() refuses a task whose outlet asset no scheduler "
    "has activated yet (AirflowInactiveAssetInInletOrOutletException); 3.1+ runs it",
)
def test_the_asset_event_describes_the_uploaded_files_without_links(
    emulator, live_meeting, end_session_once_recording, run
):
    end_session_once_recording(live_meeting)

    result = run("rtk_test_recording_asset", live_meeting)

    assert result.state == "success", result.output[-3000:]
    (recording,) = recordings_of(emulator, live_meeting)
    (extra,) = asset_events("rtk://recordings/fault-test")
    assert extra["recording_id"] == recording["id"]
    assert extra["meeting_id"] == live_meeting
    assert extra["session_id"] == recording["session_id"]
    assert extra["status"] == "UPLOADED"
    assert extra["files"], extra
    assert all(f["name"].startswith("fault-test_") for f in extra["files"])
    assert "http" not in json.dumps(extra)  # no pre-signed link
    returned = xcom(result.dag_run, "start")
    assert returned["status"] == "UPLOADED"
    assert "download_url" not in returned
