"""The copy operator's arguments and HTTP handling against a respx-mocked API and storage links, and
the asset-event extra builder (``airflow_provider_rtk.assets``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.assets import recording_asset_extra
from airflow_provider_rtk.exceptions import RealtimeKitError, RealtimeKitPayloadError
from airflow_provider_rtk.models import Recording
from airflow_provider_rtk.operators.copy import (
    DEFAULT_ASSET_ALIAS,
    RealtimeKitDownloadLinksExpiredError,
    RealtimeKitFilesNotDownloadableError,
    RealtimeKitRecordingToObjectStorageOperator,
    _asset_uri,
)
from tests.unit.test_async_hook import APP_URL, set_conn

SIGNATURE = "X-Amz-Signature=5ec7e75fa11ed"
LINK = f"http://files.test/bucket/alice.webm?X-Amz-Expires=604800&{SIGNATURE}"


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 1})


def _recording(
    files: dict[str, str], *, status: str = "UPLOADED", expires_in: float = 86_400
) -> dict[str, Any]:
    expiry = datetime.now(UTC) + timedelta(seconds=expires_in)
    return {
        "id": "rec-1",
        "meeting_id": "meet-1",
        "session_id": "sess-1",
        "status": status,
        "recording_duration": 61,
        "file_size": 2048.0,
        "output_file_name": next(iter(files), ""),
        "download_url": [
            {
                "layer_name": "default",
                "download_urls": {name: {"download_url": url} for name, url in files.items()},
            }
        ],
        "download_url_expiry": expiry.isoformat(),
    }


def _operator(tmp_path, **kwargs: Any) -> RealtimeKitRecordingToObjectStorageOperator:
    options: dict[str, Any] = {
        "task_id": "copy",
        "recording_id": "rec-1",
        "destination": f"file://{tmp_path}",
        "poll_interval": 0.05,
        "wait_timeout": 0.5,
        "asset_alias": None,
        **kwargs,
    }
    return RealtimeKitRecordingToObjectStorageOperator(**options)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chunk_size": 10}, "chunk_size"),
        ({"chunk_size": True}, "chunk_size"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"wait_timeout": "later"}, "wait_timeout"),
        ({"download_timeout": 0}, "download_timeout"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(tmp_path, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(RealtimeKitPayloadError) as error:
        _operator(tmp_path, **kwargs)
    assert field in error.value.paths


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"recording_id": ""}, "recording_id"),
        ({"recording_id": "rec/1"}, "recording_id"),
        ({"recording_id": "None"}, "recording_id"),
        ({"destination": "my-bucket/recordings"}, "destination"),
        ({"destination": "s3://"}, "destination"),
    ],
)
def test_bad_rendered_values_are_field_errors_before_any_request(
    tmp_path, kwargs: dict[str, Any], field: str
) -> None:
    with respx.mock() as mock, pytest.raises(RealtimeKitPayloadError) as error:
        _operator(tmp_path, **kwargs).execute({})
    assert field in error.value.paths
    assert not mock.calls


def test_the_asset_alias_is_an_outlet_unless_turned_off(tmp_path) -> None:
    from airflow.sdk import AssetAlias

    assert AssetAlias(DEFAULT_ASSET_ALIAS) in _operator(tmp_path, asset_alias=DEFAULT_ASSET_ALIAS).outlets
    assert _operator(tmp_path).outlets == []
    assert set(RealtimeKitRecordingToObjectStorageOperator.template_fields) == {
        "recording_id",
        "destination",
        "storage_conn_id",
    }


def test_asset_uris_carry_no_connection_id(tmp_path) -> None:
    from airflow.sdk import ObjectStoragePath

    assert _asset_uri(ObjectStoragePath("s3://aws_prod@bucket/rec/a.webm")) == "s3://bucket/rec/a.webm"
    assert _asset_uri(ObjectStoragePath(f"file://{tmp_path}/a.webm")) == f"file://{tmp_path}/a.webm"


def test_a_file_name_that_would_leave_the_folder_is_refused(tmp_path) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": _recording({"../escape.webm": LINK})}
        )
        mock.get(LINK).respond(200, content=b"x")
        with pytest.raises(RealtimeKitError, match="not a plain file name"):
            _operator(tmp_path / "in").execute({})
    assert not (tmp_path / "escape.webm").exists()


def test_a_link_failing_until_the_deadline_is_reported_without_its_signature(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": _recording({"alice.webm": LINK})}
        )
        download = mock.get(LINK).respond(503)
        with pytest.raises(RealtimeKitFilesNotDownloadableError, match=r"alice\.webm: HTTP 503") as error:
            _operator(tmp_path).execute({})

    assert download.call_count >= 3  # tried again with fresh links while waiting
    assert SIGNATURE not in str(error.value)
    assert SIGNATURE not in caplog.text


def test_a_fresh_link_refused_again_means_the_links_expired(tmp_path) -> None:
    with respx.mock() as mock:
        reads = mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": _recording({"alice.webm": LINK})}
        )
        mock.get(LINK).respond(403, content=b"<Error><Code>AccessDenied</Code></Error>")
        with pytest.raises(RealtimeKitDownloadLinksExpiredError, match="refused: 403") as error:
            _operator(tmp_path).execute({})

    assert reads.call_count == 2  # the first refusal fetched fresh links at once
    assert SIGNATURE not in str(error.value)


def test_links_past_their_expiry_fail_before_any_download(tmp_path) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": _recording({"alice.webm": LINK}, expires_in=-60)}
        )
        download = mock.get(LINK).respond(200, content=b"late")
        with pytest.raises(RealtimeKitDownloadLinksExpiredError, match="7 days"):
            _operator(tmp_path).execute({})
    assert not download.called


def test_a_short_download_is_tried_again_and_the_link_gets_no_api_token(tmp_path) -> None:
    body = bytes(range(256)) * 40
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": _recording({"alice.webm": LINK})}
        )
        download = mock.get(LINK).mock(
            side_effect=[
                httpx.Response(200, content=body[:100], headers={"Content-Length": str(len(body))}),
                httpx.Response(200, content=body),
            ]
        )
        result = _operator(tmp_path).execute({})

    assert (tmp_path / "alice.webm").read_bytes() == body
    assert result["files"] == [
        {
            "name": "alice.webm",
            "destination": f"file://{tmp_path}/alice.webm",
            "size_bytes": len(body),
            "copied": True,
        }
    ]
    assert all("authorization" not in call.request.headers for call in download.calls)


def test_a_recording_that_errored_has_nothing_to_copy(tmp_path) -> None:
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": {**_recording({}), "status": "ERRORED", "download_url": None}}
        )
        with pytest.raises(RealtimeKitError, match="ERRORED"):
            _operator(tmp_path).execute({})


# --------------------------------------------------------------------------------------------------
# assets.recording_asset_extra


def test_asset_extra_of_a_track_recording_names_each_file_and_no_link() -> None:
    recording = Recording.model_validate(
        _recording({"alice.webm": LINK, "bob.webm": LINK.replace("alice", "bob")})
    )

    extra = recording_asset_extra(recording, file_sizes={"alice.webm": 1000})

    assert extra["recording_id"] == "rec-1"
    assert extra["meeting_id"] == "meet-1"
    assert extra["session_id"] == "sess-1"
    assert extra["file_size"] == 2048
    assert extra["files"] == [
        {"name": "alice.webm", "layer": "default", "size_bytes": 1000, "duration_seconds": 61},
        {"name": "bob.webm", "layer": "default", "size_bytes": None, "duration_seconds": 61},
    ]
    text = json.dumps(extra)
    assert "files.test" not in text
    assert SIGNATURE not in text


def test_asset_extra_of_a_single_file_takes_the_recording_size() -> None:
    data = {
        **_recording({}),
        "download_url": "http://files.test/composite.mp4?sig=1",
        "output_file_name": "composite.mp4",
    }

    extra = recording_asset_extra(Recording.model_validate(data))

    assert extra["files"] == [
        {"name": "composite.mp4", "layer": None, "size_bytes": 2048, "duration_seconds": 61}
    ]
    assert "sig=1" not in json.dumps(extra)
