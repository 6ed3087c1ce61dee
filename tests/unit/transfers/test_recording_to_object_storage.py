"""The copy operator's arguments and HTTP handling against a respx-mocked API and storage links, and
the asset-event extra builder (``airflow_provider_rtk.assets``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from airflow_provider_rtk.assets import recording_asset_extra
from airflow_provider_rtk.exceptions import RealtimeKitError, RealtimeKitPayloadError
from airflow_provider_rtk.models import Recording
from airflow_provider_rtk.transfers import recording_to_object_storage as copy_module
from airflow_provider_rtk.transfers.recording_to_object_storage import (
    DEFAULT_ASSET_ALIAS,
    RealtimeKitDownloadLinksExpiredError,
    RealtimeKitFilesNotDownloadableError,
    RealtimeKitRecordingToObjectStorageOperator,
    _asset_uri,
    _Size,
    _size_of,
)
from tests.api_answers import APP_URL, set_conn
from tests.hostile_server import (
    MB,
    HostileServer,
    Route,
    huge,
    json_answer,
    redirect,
    serve_file,
    trickle,
)
from tests.recording_files import BODY, fresh_signature, serve_one_file, serve_recording, uploaded_recording

SIGNATURE = "X-Amz-Signature=5ec7e75fa11ed"
LINK = f"http://files.test/bucket/alice.webm?X-Amz-Expires=604800&{SIGNATURE}"


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"account_id": "ACC", "app_id": "APP", "max_attempts": 1})


def _operator(tmp_path=None, **kwargs: Any) -> RealtimeKitRecordingToObjectStorageOperator:
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
            200, json={"success": True, "data": uploaded_recording({"../escape.webm": LINK})}
        )
        mock.get(LINK).respond(200, content=b"x")
        with pytest.raises(RealtimeKitError, match="not a plain file name"):
            _operator(tmp_path / "in").execute({})
    assert not (tmp_path / "escape.webm").exists()


def test_a_file_name_cut_mid_emoji_is_refused_not_written_under_another_name(tmp_path) -> None:
    """The API names two files with text a client cut mid-emoji (lone surrogates): the hook reads each
    as U+FFFD, so both names would be one; the copy refuses a name that is no plain file name (U+FFFD
    included) before anything is fetched, so no file is written under a name the service did not give."""
    files = {f"cam{chr(high)}.webm": f"{LINK}?{high}" for high in (0xD83D, 0xD83E)}
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200,
            content=json.dumps({"success": True, "data": uploaded_recording(files)}).encode(),
            headers={"Content-Type": "application/json"},
        )
        download = mock.get(url__startswith=LINK).respond(200, content=b"x")
        with pytest.raises(RealtimeKitError, match="not a plain file name; nothing was copied") as info:
            _operator(tmp_path / "in").execute({})
    assert "cam\ufffd.webm" in str(info.value)
    assert download.call_count == 0
    assert not (tmp_path / "in").exists() or not any((tmp_path / "in").iterdir())


class _Clock:
    """The copy's clock, for a wait until its deadline: each sleep moves it on at once (the wait is
    counted in polls, not in seconds of a busy machine). Not for a test of the download rate, which
    this clock never sees fall."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def copy_clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    """The copy operator's module runs on a :class:`_Clock`."""
    clock = _Clock()
    monkeypatch.setattr(copy_module, "time", clock)
    return clock


def test_a_link_failing_until_the_deadline_is_reported_without_its_signature(
    tmp_path, caplog, copy_clock
) -> None:
    caplog.set_level(logging.INFO)
    clock = copy_clock
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": uploaded_recording({"alice.webm": LINK})}
        )
        download = mock.get(LINK).respond(503)
        with pytest.raises(RealtimeKitFilesNotDownloadableError, match=r"alice\.webm: HTTP 503") as error:
            _operator(tmp_path, wait_timeout=10.0, poll_interval=0.5).execute({})

    assert download.call_count >= 2  # tried again with fresh links while waiting
    assert set(clock.slept) == {0.5}  # a poll interval at a time
    assert 9.5 <= clock.now <= 10.0  # until the deadline, not past it
    assert SIGNATURE not in str(error.value)
    assert SIGNATURE not in caplog.text


def test_a_fresh_link_refused_again_means_the_links_expired(tmp_path) -> None:
    with respx.mock() as mock:
        reads = mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": uploaded_recording({"alice.webm": LINK})}
        )
        mock.get(LINK).respond(403, content=b"<Error><Code>AccessDenied</Code></Error>")
        with pytest.raises(RealtimeKitDownloadLinksExpiredError, match="refused: 403") as error:
            _operator(tmp_path).execute({})

    assert reads.call_count == 2  # the first refusal fetched fresh links at once
    assert SIGNATURE not in str(error.value)


def test_links_past_their_expiry_fail_before_any_download(tmp_path) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": uploaded_recording({"alice.webm": LINK}, expires_in=-60)}
        )
        download = mock.get(LINK).respond(200, content=b"late")
        with pytest.raises(RealtimeKitDownloadLinksExpiredError, match="7 days"):
            _operator(tmp_path).execute({})
    assert not download.called


def test_a_short_download_is_tried_again_and_the_link_gets_no_api_token(tmp_path) -> None:
    body = bytes(range(256)) * 40
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200, json={"success": True, "data": uploaded_recording({"alice.webm": LINK})}
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
            200,
            json={
                "success": True,
                "data": {**uploaded_recording({}), "status": "ERRORED", "download_url": None},
            },
        )
        with pytest.raises(RealtimeKitError, match="ERRORED"):
            _operator(tmp_path).execute({})


# --------------------------------------------------------------------------------------------------
# assets.recording_asset_extra


def test_asset_extra_of_a_track_recording_names_each_file_and_no_link() -> None:
    recording = Recording.model_validate(
        uploaded_recording({"alice.webm": LINK, "bob.webm": LINK.replace("alice", "bob")})
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
        **uploaded_recording({}),
        "download_url": "http://files.test/composite.mp4?sig=1",
        "output_file_name": "composite.mp4",
    }

    extra = recording_asset_extra(Recording.model_validate(data))

    assert extra["files"] == [
        {"name": "composite.mp4", "layer": None, "size_bytes": 2048, "duration_seconds": 61}
    ]
    assert "sig=1" not in json.dumps(extra)


# --------------------------------------------------------------------------------------------------
# Against a hostile server on loopback: the API and the download links are served by
# tests/hostile_server.py, and misbehave on purpose.


@pytest.mark.usefixtures("copy_clock")  # (it waits until the deadline)
def test_a_download_cut_short_leaves_nothing_under_the_final_name(hostile, tmp_path) -> None:
    serve_one_file(hostile, serve_file(BODY, cut_after=len(BODY) // 2))

    with pytest.raises(RealtimeKitFilesNotDownloadableError, match=r"alice\.webm"):
        _operator(tmp_path / "out").execute({})

    assert list((tmp_path / "out").iterdir()) == []  # no partial file, no temporary file either


def _watch(path, stop: threading.Event) -> list[bytes]:
    """Every content ``path`` showed while watched (until ``stop``)."""
    seen: list[bytes] = []

    def run() -> None:
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                seen.append(path.read_bytes())
            stop.wait(0.005)

    threading.Thread(target=run, daemon=True).start()
    return seen


def test_two_copies_at_once_end_with_the_right_bytes_and_show_nothing_else(hostile, tmp_path) -> None:
    """A rerun while a run still copies: the final name is only ever absent or right."""
    serve_one_file(hostile, serve_file(BODY, piece=16 * 1024, pause=0.02))
    target = tmp_path / "alice.webm"
    stop = threading.Event()
    seen = _watch(target, stop)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def copy() -> None:
        try:
            results.append(_operator(tmp_path, wait_timeout=30).execute({}))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    first = threading.Thread(target=copy)
    first.start()
    deadline = time.monotonic() + 30
    while hostile.written.get("file", 0) < len(BODY) // 4:  # the first copy is well under way
        assert time.monotonic() < deadline
        assert first.is_alive()
        time.sleep(0.01)
    second = threading.Thread(target=copy)
    second.start()
    first.join(60)
    second.join(60)
    stop.set()

    assert not errors, errors
    assert len(results) == 2
    assert target.read_bytes() == BODY
    assert {len(content) for content in seen if content != BODY} == set(), "a wrong file was visible"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alice.webm"]  # no temporary left


def test_a_file_of_the_right_size_with_wrong_bytes_is_copied_again_when_the_link_gives_its_md5(
    hostile, tmp_path
) -> None:
    md5 = hashlib.md5(BODY).hexdigest()  # what S3 puts in an ETag
    serve_one_file(hostile, serve_file(BODY, headers={"ETag": f'"{md5}"'}))
    (tmp_path / "alice.webm").write_bytes(bytes(len(BODY)))  # the zeroed blocks of an old race

    result = _operator(tmp_path).execute({})

    assert [item["copied"] for item in result["files"]] == [True]
    assert (tmp_path / "alice.webm").read_bytes() == BODY
    again = _operator(tmp_path).execute({})  # now right: skipped
    assert [item["copied"] for item in again["files"]] == [False]


def test_a_body_without_length_is_not_read_past_the_recordings_file_size(hostile, tmp_path) -> None:
    serve_one_file(hostile, huge(size=20 * MB, declare_length=False), file_size=100_000)

    with pytest.raises(RealtimeKitError, match=r"more than the 100000 bytes") as error:
        _operator(tmp_path, wait_timeout=5).execute({})

    assert not isinstance(error.value, RealtimeKitFilesNotDownloadableError)  # not worth a retry
    assert list(tmp_path.iterdir()) == []
    assert hostile.written.get("huge", 0) < 10 * MB  # stopped reading long before the end


@pytest.mark.usefixtures("copy_clock")  # (it waits until the deadline)
def test_a_body_without_length_shorter_than_the_file_size_fails_and_leaves_nothing(hostile, tmp_path) -> None:
    serve_one_file(hostile, serve_file(BODY, declare_length=False), file_size=len(BODY) + 100)

    with pytest.raises(RealtimeKitFilesNotDownloadableError, match=rf"got {len(BODY)} of {len(BODY) + 100}"):
        _operator(tmp_path).execute({})

    assert list(tmp_path.iterdir()) == []


def test_a_body_of_unknown_size_is_refused_before_anything_is_written(hostile, tmp_path) -> None:
    serve_one_file(hostile, huge(size=20 * MB, declare_length=False))

    with pytest.raises(RealtimeKitError, match="announced no size"):
        _operator(tmp_path).execute({})

    assert list(tmp_path.iterdir()) == []


#: Recordings whose ``file_size`` is only an upper bound for ``alice.webm``: [(why, file_size, other files)].
BOUND_ONLY = [
    pytest.param(2 * len(BODY), {"bob.webm": serve_file(BODY, name="bob")}, id="several-files"),
    pytest.param(len(BODY) + 0.5, {}, id="fractional-size"),
]


def serve_bound_only(server: HostileServer, route: Route, file_size: float, others: dict[str, Route]) -> str:
    """Serve ``alice.webm`` behind ``route`` (first) and ``others`` in a recording of ``file_size``."""
    path = f"/files/alice.webm?X-Amz-Signature={fresh_signature()}"
    files = {"alice.webm": (path, route)}
    files.update({name: (f"/files/{name}", other) for name, other in others.items()})
    serve_recording(server, [("default", files)], file_size=file_size)
    return path


@pytest.mark.parametrize(("file_size", "others"), BOUND_ONLY)
@pytest.mark.parametrize("cut_after", [len(BODY) // 2, None], ids=["cut", "whole"])
def test_a_body_ended_by_closing_the_connection_is_refused_when_its_exact_size_is_unknown(
    hostile, tmp_path, caplog, file_size, others, cut_after
) -> None:
    """No ``Content-Length``, no chunked framing, and a ``file_size`` that is only a bound: a cut body
    ends as a complete one does (the connection closes), so neither is kept."""
    path = serve_bound_only(
        hostile, serve_file(BODY, declare_length=False, cut_after=cut_after), file_size, others
    )

    with pytest.raises(RealtimeKitError, match=r"alice\.webm.*not chunked.*cut short") as error:
        _operator(tmp_path, wait_timeout=5).execute({})

    assert not isinstance(error.value, RealtimeKitFilesNotDownloadableError)  # no retry will help
    assert_no_signature(error.value, caplog.text, path.rsplit("=", 1)[1])
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


@pytest.mark.parametrize(("file_size", "others"), BOUND_ONLY)
def test_a_chunked_body_within_the_bound_is_copied_whole(hostile, tmp_path, file_size, others) -> None:
    serve_bound_only(hostile, serve_file(BODY, chunked=True, piece=10_000), file_size, others)

    result = _operator(tmp_path).execute({})

    assert (tmp_path / "alice.webm").read_bytes() == BODY
    assert {item["name"]: item["size_bytes"] for item in result["files"]}["alice.webm"] == len(BODY)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alice.webm", *others]


@pytest.mark.usefixtures("copy_clock")  # (it waits until the deadline)
@pytest.mark.parametrize(("file_size", "others"), BOUND_ONLY)
@pytest.mark.parametrize("cut_after", [30_000, 30_100], ids=["between-chunks", "inside-a-chunk"])
def test_a_chunked_body_cut_short_fails_and_leaves_nothing(
    hostile, tmp_path, file_size, others, cut_after
) -> None:
    """httpx (h11) raises when the connection closes before a chunked body's last, empty chunk."""
    serve_bound_only(
        hostile, serve_file(BODY, chunked=True, piece=10_000, cut_after=cut_after), file_size, others
    )

    with pytest.raises(RealtimeKitFilesNotDownloadableError, match=r"alice\.webm: RemoteProtocolError"):
        _operator(tmp_path).execute({})

    assert not (tmp_path / "alice.webm").exists()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temporary file


def test_a_chunked_body_past_a_fractional_file_size_is_not_read_on(hostile, tmp_path) -> None:
    serve_one_file(hostile, serve_file(BODY, chunked=True, piece=10_000), file_size=len(BODY) / 2 + 0.5)

    with pytest.raises(RealtimeKitError, match=rf"more than the {len(BODY) // 2 + 1} bytes"):
        _operator(tmp_path).execute({})

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("file_size", "files", "exact", "limit"),
    [
        (2048.0, 1, 2048, 2048),
        (2048.0, 3, None, 2048),
        (2048.5, 1, None, 2049),
        (0.25, 1, None, 1),
        (float(2**53 - 1), 1, 2**53 - 1, 2**53 - 1),
        # a float this large may be a neighbour of the true size (9007199254740993 reads as 2**53)
        pytest.param(float(2**53), 1, None, 2**53 + 2, id="2**53"),
        pytest.param(1e300, 1, None, math.ceil(math.nextafter(1e300, math.inf)), id="1e300"),
        (None, 1, None, None),
        (0.0, 1, None, None),
        (-5.0, 1, None, None),
        (float("nan"), 1, None, None),
        (float("inf"), 1, None, None),
    ],
)
def test_what_a_recordings_file_size_says_of_each_file(file_size, files, exact, limit) -> None:
    recording = Recording.model_validate({"id": "rec-1", "status": "UPLOADED", "file_size": file_size})

    assert _size_of(recording, files) == _Size(exact, limit)


def test_a_trickling_link_fails_at_the_minimum_rate_and_leaves_nothing(hostile, tmp_path) -> None:
    """One byte every 0.05 s never trips the idle time-out (1 s); the minimum rate ends it."""
    serve_one_file(hostile, trickle(every=0.05), file_size=10 * MB)

    with pytest.raises(RealtimeKitFilesNotDownloadableError, match="slower than 1024 bytes/s"):
        _operator(tmp_path, download_timeout=1, min_download_rate=1024, wait_timeout=0).execute({})

    assert list(tmp_path.iterdir()) == []
    assert hostile.written["trickle"] < 1000  # ended after about a second, not when the server stopped


def test_the_minimum_rate_is_checked_when_the_dag_is_parsed(tmp_path) -> None:
    for bad in (0, -1, "fast", True):
        with pytest.raises(RealtimeKitPayloadError) as error:
            _operator(tmp_path, min_download_rate=bad)
        assert error.value.paths == ["min_download_rate"]


def test_two_files_of_one_name_in_two_layers_fail_before_anything_is_copied(hostile, tmp_path) -> None:
    serve_recording(
        hostile,
        [
            (
                "default",
                {
                    "bob.webm": ("/files/bob.webm", serve_file(BODY)),
                    "x.webm": ("/a/x.webm", serve_file(BODY)),
                },
            ),
            ("screen", {"x.webm": ("/b/x.webm", serve_file(BODY))}),
        ],
    )

    with pytest.raises(RealtimeKitError) as error:
        _operator(tmp_path).execute({})

    text = str(error.value)
    assert "two files named 'x.webm'" in text
    assert "layer 'default'" in text
    assert "layer 'screen'" in text
    assert list(tmp_path.iterdir()) == []
    assert not [seen for seen in hostile.seen if not seen.path.startswith("/client/")]  # no download


SIGNED_PATHS: dict[str, Callable[[str], str]] = {
    "query": lambda sig: f"/files/alice.webm?X-Amz-Signature={sig}",
    "segment key=value": lambda sig: f"/sig={sig}/files/alice.webm",
    "token segment": lambda sig: f"/t/{sig}/alice.webm",
    "token after the name": lambda sig: f"/files/alice.webm/{sig}",
    "matrix parameter": lambda sig: f"/files/alice.webm;sig={sig}",
}


@pytest.mark.usefixtures("copy_clock")  # (it waits until the deadline)
@pytest.mark.parametrize("where", list(SIGNED_PATHS))
@pytest.mark.parametrize("status", [400, 503])
def test_a_links_signature_is_in_no_error_text_and_no_log_line(
    hostile, tmp_path, caplog, capsys, where, status
) -> None:
    caplog.set_level(logging.DEBUG)
    signature = fresh_signature()
    path = SIGNED_PATHS[where](signature)
    serve_one_file(hostile, json_answer(status, {"path": path}), path=path)

    with pytest.raises(RealtimeKitError) as error:
        _operator(tmp_path).execute({})

    assert "alice.webm" in str(error.value)
    assert_no_signature(error.value, caplog.text + str(capsys.readouterr()), signature)


def assert_no_signature(error: BaseException, log: str, signature: str) -> None:
    texts = [str(error), repr(error), repr(error.args), log]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        texts += [str(cause), repr(cause)]
    for text in texts:
        assert signature not in text


def test_a_redirect_to_another_host_is_not_followed(hostile, tmp_path, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    signature = fresh_signature()
    with HostileServer() as elsewhere:
        elsewhere.fallback = serve_file(BODY)
        port = elsewhere.host_port.rsplit(":", 1)[1]
        serve_one_file(hostile, redirect(302, f"http://localhost:{port}/files/alice.webm?sig={signature}"))

        with pytest.raises(
            RealtimeKitError, match=r"redirected to another host \(http://localhost:\d+\)"
        ) as error:
            _operator(tmp_path).execute({})

        assert elsewhere.seen == []
    assert_no_signature(error.value, caplog.text + str(capsys.readouterr()), signature)
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_on_the_same_host_is_followed(hostile, tmp_path) -> None:
    hostile.routes[("GET", "/real/alice.webm")] = serve_file(BODY)
    serve_one_file(hostile, redirect(307, f"/real/alice.webm?X-Amz-Signature={fresh_signature()}"))

    result = _operator(tmp_path).execute({})

    assert [item["copied"] for item in result["files"]] == [True]
    assert (tmp_path / "alice.webm").read_bytes() == BODY


def test_redirects_on_the_same_host_are_bounded(hostile, tmp_path) -> None:
    path = serve_one_file(hostile, redirect(302, "/files/alice.webm"), path="/files/alice.webm")

    with pytest.raises(RealtimeKitError, match="redirected more than 5 times"):
        _operator(tmp_path).execute({})

    assert sum(1 for seen in hostile.seen if seen.path == path) == 6
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "link",
    [
        "file:///etc/passwd?sig={sig}",
        "ftp://files.test/sig={sig}/alice.webm",
        "http://[::1/files/alice.webm?sig={sig}",
        "http://files.test/files/\x00alice.webm?sig={sig}",
    ],
)
def test_a_link_that_is_no_http_url_fails_clearly_without_showing_it(tmp_path, link) -> None:
    signature = fresh_signature()
    with respx.mock() as mock:
        mock.get(f"{APP_URL}/recordings/rec-1").respond(
            200,
            json={"success": True, "data": uploaded_recording({"alice.webm": link.format(sig=signature)})},
        )
        with pytest.raises(RealtimeKitError, match=r"alice\.webm") as error:
            _operator(tmp_path).execute({})

    assert not isinstance(error.value, RealtimeKitFilesNotDownloadableError)
    assert_no_signature(error.value, "", signature)
    assert list(tmp_path.iterdir()) == []


def test_on_any_other_filesystem_a_file_is_renamed_into_place_only_when_complete(
    hostile, monkeypatch
) -> None:
    """fsspec's in-memory filesystem stands for the stores with no atomic upload of their own."""
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach, store
    from fsspec.implementations.memory import MemoryFileSystem

    monkeypatch.setattr(store, "_STORE_CACHE", {})
    attach("memory", fs=MemoryFileSystem())

    folder = f"memory://rtk-copy-{uuid.uuid4().hex[:8]}/out"
    serve_one_file(hostile, serve_file(BODY, cut_after=len(BODY) // 2))
    with pytest.raises(RealtimeKitFilesNotDownloadableError):
        _operator(destination=folder).execute({})
    assert not ObjectStoragePath(folder).exists() or list(ObjectStoragePath(folder).iterdir()) == []

    serve_one_file(hostile, serve_file(BODY))
    result = _operator(destination=folder).execute({})

    assert [item["destination"] for item in result["files"]] == [f"{folder}/alice.webm"]
    assert [path.name for path in ObjectStoragePath(folder).iterdir()] == ["alice.webm"]
    assert (ObjectStoragePath(folder) / "alice.webm").read_bytes() == BODY


def test_the_old_import_path_gives_the_same_operator() -> None:
    """The operator lives under ``transfers/`` (Airflow's convention); DAG files that import it from
    ``operators.copy`` keep working."""
    from airflow_provider_rtk.operators.copy import (
        DEFAULT_ASSET_ALIAS as OLD_ALIAS,
    )
    from airflow_provider_rtk.operators.copy import (
        RealtimeKitRecordingToObjectStorageOperator as OldPathOperator,
    )

    assert OldPathOperator is RealtimeKitRecordingToObjectStorageOperator
    assert OLD_ALIAS == DEFAULT_ASSET_ALIAS
    assert RealtimeKitRecordingToObjectStorageOperator.__module__ == (
        "airflow_provider_rtk.transfers.recording_to_object_storage"
    )
