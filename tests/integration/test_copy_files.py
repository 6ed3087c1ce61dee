"""The copy operator against the emulator's real download links: into ``file://`` (a temporary folder)
and into a real S3-compatible server on loopback (moto's server mode, a separate process), byte for
byte; reruns skip what is there; it waits while the files are on their way; expired links fail clearly;
one asset event per destination; no link in XCom, asset events, errors or the task log; a failed or
concurrent copy leaves nothing wrong under the final name, on a local disk and on S3."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_rtk.hooks.realtimekit import RealtimeKitHook
from airflow_provider_rtk.transfers.recording_to_object_storage import (
    RealtimeKitDownloadLinksExpiredError,
    RealtimeKitFilesNotDownloadableError,
    RealtimeKitRecordingToObjectStorageOperator,
)
from tests.hostile_server import json_answer, redirect, serve_file
from tests.integration.conftest import (
    ALIAS_EVENTS_RECORDED,
    asset_events,
    console_text,
    load_dag,
    task_states,
    xcom,
)
from tests.recording_files import BODY, fresh_signature, serve_one_file

#: What every download link serves: random, so a wrong or partial copy cannot pass by chance.
CONTENT = os.urandom(700_000 + 17)
pytestmark = pytest.mark.realtimekit_emulator(recording_bytes=CONTENT, upload_delay=0.1)


def _recording(emulator, *, wait: bool = True) -> str:
    """A track recording of a two-person meeting, stopped; ``wait`` until it is UPLOADED."""
    meeting_id = emulator.create_meeting("standup")["id"]
    emulator.start_session(meeting_id, participants=["alice", "bob"])
    with RealtimeKitHook() as hook:
        recording_id = hook.start_track_recording({"meeting_id": meeting_id}).recording.id
        deadline = time.monotonic() + 20
        while hook.get_recording(recording_id).status.value == "INVOKED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        hook.stop_recording(recording_id)
        while wait and hook.get_recording(recording_id).status.value != "UPLOADED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    return recording_id


def _files(recording_id: str) -> list[str]:
    with RealtimeKitHook() as hook:
        return sorted(hook.get_recording(recording_id).download_links)


def _copy(recording_id: str, destination: str, storage_conn_id: str = ""):
    return load_dag("rtk_test_copy_recording").test(
        run_conf={
            "recording_id": recording_id,
            "destination": destination,
            "storage_conn_id": storage_conn_id,
        }
    )


def assertasset_events(events: list[dict], expected_uris: list[str]) -> None:
    assert sorted(event["uri"] for event in events) == (expected_uris if ALIAS_EVENTS_RECORDED else [])


def test_copies_every_file_to_a_local_folder_byte_for_byte_and_emits_an_asset_event_each(emulator, tmp_path):
    recording_id = _recording(emulator)
    names = _files(recording_id)
    assert len(names) == 2
    destination = tmp_path / "recordings" / recording_id

    dag_run = _copy(recording_id, f"file://{destination}")

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert sorted(path.name for path in destination.iterdir()) == names
    for name in names:
        assert (destination / name).read_bytes() == CONTENT
    result = xcom(dag_run, "copy")
    assert result["recording_id"] == recording_id
    assert [(f["name"], f["size_bytes"], f["copied"]) for f in result["files"]] == [
        (name, len(CONTENT), True) for name in names
    ]
    assert emulator.origin not in json.dumps(result)  # no download link in XCom

    events = asset_events(f"file://{destination}")
    assertasset_events(events, [f"file://{destination}/{name}" for name in names])
    for event in events:
        extra = event["extra"]
        assert extra["recording_id"] == recording_id
        assert extra["meeting_id"]
        assert extra["session_id"]
        assert extra["file"]["size_bytes"] == len(CONTENT)
        assert extra["file"]["name"] == event["uri"].rsplit("/", 1)[1]
        assert emulator.origin not in json.dumps(extra)  # no link in the asset event


def test_a_rerun_skips_files_already_there_and_recopies_a_partial_one(emulator, tmp_path):
    recording_id = _recording(emulator)
    destination = tmp_path / "out"
    assert str(_copy(recording_id, f"file://{destination}").state) == "success"
    first, second = sorted(destination.iterdir())
    first_written = first.stat().st_mtime_ns
    second.write_bytes(CONTENT[:1000])  # an interrupted copy

    dag_run = _copy(recording_id, f"file://{destination}")

    assert str(dag_run.state) == "success", task_states(dag_run)
    copied = {f["name"]: f["copied"] for f in xcom(dag_run, "copy")["files"]}
    assert copied == {first.name: False, second.name: True}
    assert first.stat().st_mtime_ns == first_written
    assert second.read_bytes() == CONTENT


def _local_copy(
    recording_id: str, folder, *, wait_timeout: float
) -> RealtimeKitRecordingToObjectStorageOperator:
    """The copy operator into a local folder, polling fast, without asset events."""
    return RealtimeKitRecordingToObjectStorageOperator(
        task_id="copy",
        recording_id=recording_id,
        destination=f"file://{folder}",
        poll_interval=0.2,
        wait_timeout=wait_timeout,
        asset_alias=None,
    )


@pytest.mark.realtimekit_emulator(recording_bytes=CONTENT, upload_delay=2.0)
def test_waits_while_the_files_are_still_uploading(emulator, tmp_path):
    recording_id = _recording(emulator, wait=False)
    operator = _local_copy(recording_id, tmp_path, wait_timeout=30)
    with RealtimeKitHook() as hook:
        assert hook.get_recording(recording_id).status.value == "UPLOADING"

    result = operator.execute({})

    assert [f["copied"] for f in result["files"]] == [True, True]
    assert all(path.read_bytes() == CONTENT for path in tmp_path.iterdir())


@pytest.mark.realtimekit_emulator(recording_bytes=CONTENT, upload_delay=30.0)
def test_gives_up_after_wait_timeout_while_nothing_is_downloadable(emulator, tmp_path):
    recording_id = _recording(emulator, wait=False)
    operator = _local_copy(recording_id, tmp_path, wait_timeout=1)
    started = time.monotonic()
    with pytest.raises(RealtimeKitFilesNotDownloadableError, match="UPLOADING, not UPLOADED"):
        operator.execute({})
    assert time.monotonic() - started < 20  # not the 30 s upload (generous: a busy machine)
    assert list(tmp_path.iterdir()) == []


def test_expired_links_fail_with_a_clear_error_that_shows_no_link(emulator, tmp_path, caplog):
    recording_id = _recording(emulator)
    emulator.expire_links(recording_id)
    operator = RealtimeKitRecordingToObjectStorageOperator(
        task_id="copy", recording_id=recording_id, destination=f"file://{tmp_path}", asset_alias=None
    )

    with pytest.raises(RealtimeKitDownloadLinksExpiredError) as error:
        operator.execute({})

    assert f"download links of recording {recording_id} have expired" in str(error.value)
    assert "7 days" in str(error.value)
    assert emulator.origin not in str(error.value)
    assert list(tmp_path.iterdir()) == []


BIG = os.urandom(24 * 1024 * 1024)


@pytest.mark.realtimekit_emulator(recording_bytes=BIG, upload_delay=0.1)
def test_the_copy_streams_in_chunks_without_holding_a_file_in_memory(emulator, tmp_path):
    """A 24 MiB file copied in a process of its own: its Python heap peaks far below the file's size."""
    big = BIG
    recording_id = _recording(emulator)
    script = (
        "import json, sys, tracemalloc\n"
        "from airflow_provider_rtk.transfers import recording_to_object_storage\n"
        "Op = recording_to_object_storage.RealtimeKitRecordingToObjectStorageOperator\n"
        "op = Op(task_id='copy', recording_id=sys.argv[1], destination=sys.argv[2], asset_alias=None,\n"
        "        chunk_size=256 * 1024)\n"
        "from airflow.sdk import AssetAlias, ObjectStoragePath\n"
        "warm = ObjectStoragePath(sys.argv[2]) / 'warm-up'  # first-use imports done before measuring\n"
        "with warm.fs.open(warm.path, 'wb') as out:\n"
        "    out.write(b'x')\n"
        "warm.unlink()\n"
        "tracemalloc.start()\n"
        "result = op.execute({})\n"
        "print(json.dumps({'peak': tracemalloc.get_traced_memory()[1], 'files': result['files']}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, recording_id, f"file://{tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [f["size_bytes"] for f in report["files"]] == [len(big), len(big)]
    assert all(path.read_bytes() == big for path in tmp_path.iterdir())
    assert report["peak"] < 8 * 1024 * 1024, report["peak"]  # two files of 24 MiB went through


# --------------------------------------------------------------------------------------------------
# S3: a real S3-compatible server (moto in server mode) on a free loopback port


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3_server(monkeypatch, tmp_path):
    """moto's S3 server in its own process on loopback, an AWS connection ``moto_s3`` pointing at it,
    and a bucket ``recordings``; the server is stopped after the test."""
    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "moto.log").open("wb"),
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "moto.log").read_text()
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv(
            "AIRFLOW_CONN_MOTO_S3",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
                }
            ),
        )
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="recordings")
        from airflow.sdk.io import store

        monkeypatch.setattr(store, "_STORE_CACHE", {})  # no filesystem attached to an earlier server
        yield client
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_copies_every_file_to_s3_byte_for_byte_and_a_rerun_skips_them(emulator, s3_server):
    recording_id = _recording(emulator)
    names = _files(recording_id)

    dag_run = _copy(recording_id, f"s3://recordings/meetings/{recording_id}", storage_conn_id="moto_s3")

    assert str(dag_run.state) == "success", task_states(dag_run)
    listed = s3_server.list_objects_v2(Bucket="recordings", Prefix=f"meetings/{recording_id}/")
    assert sorted(item["Key"] for item in listed["Contents"]) == [
        f"meetings/{recording_id}/{name}" for name in names
    ]
    for name in names:
        body = s3_server.get_object(Bucket="recordings", Key=f"meetings/{recording_id}/{name}")["Body"].read()
        assert body == CONTENT
    events = asset_events(f"s3://recordings/meetings/{recording_id}/")
    assertasset_events(events, [f"s3://recordings/meetings/{recording_id}/{name}" for name in names])
    assert all("moto_s3" not in event["uri"] for event in events)

    rerun = _copy(recording_id, f"s3://recordings/meetings/{recording_id}", storage_conn_id="moto_s3")
    assert str(rerun.state) == "success", task_states(rerun)
    assert [f["copied"] for f in xcom(rerun, "copy")["files"]] == [False, False]


def _hostile_copy(destination: str, **kwargs) -> RealtimeKitRecordingToObjectStorageOperator:
    """The copy of the hostile server's recording ``rec-1`` to ``destination``, polling fast."""
    return RealtimeKitRecordingToObjectStorageOperator(
        task_id="copy",
        recording_id="rec-1",
        destination=destination,
        **{"poll_interval": 0.05, "wait_timeout": 0.5, "asset_alias": None, **kwargs},
    )


def _keys(client, prefix: str = "") -> list[str]:
    return [
        item["Key"] for item in client.list_objects_v2(Bucket="recordings", Prefix=prefix).get("Contents", [])
    ]


def test_a_download_cut_short_leaves_no_object_and_no_pending_upload_on_s3(hostile, s3_server):
    serve_one_file(hostile, serve_file(BODY, cut_after=len(BODY) // 2))

    with pytest.raises(RealtimeKitFilesNotDownloadableError, match=r"alice\.webm"):
        _hostile_copy("s3://recordings/out", storage_conn_id="moto_s3").execute({})

    assert _keys(s3_server) == []
    assert s3_server.list_multipart_uploads(Bucket="recordings").get("Uploads", []) == []


def test_two_copies_at_once_to_s3_both_end_with_the_right_bytes(hostile, s3_server):
    import threading

    serve_one_file(hostile, serve_file(BODY, piece=16 * 1024, pause=0.02))
    results, errors = [], []

    def copy() -> None:
        try:
            results.append(
                _hostile_copy("s3://recordings/out", storage_conn_id="moto_s3", wait_timeout=30).execute({})
            )
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=copy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors
    assert len(results) == 2
    assert _keys(s3_server) == ["out/alice.webm"]
    assert s3_server.get_object(Bucket="recordings", Key="out/alice.webm")["Body"].read() == BODY


def test_an_s3_object_of_the_right_size_with_wrong_bytes_is_copied_again(hostile, s3_server):
    import hashlib

    md5 = hashlib.md5(BODY).hexdigest()  # what S3 puts in an ETag
    serve_one_file(hostile, serve_file(BODY, headers={"ETag": f'"{md5}"'}))
    s3_server.put_object(Bucket="recordings", Key="out/alice.webm", Body=bytes(len(BODY)))

    result = _hostile_copy("s3://recordings/out", storage_conn_id="moto_s3").execute({})

    assert [item["copied"] for item in result["files"]] == [True]
    assert s3_server.get_object(Bucket="recordings", Key="out/alice.webm")["Body"].read() == BODY


def _copy_logged(capfd, recording_id: str, destination: str):
    """Run the copy DAG; returns it and everything it wrote to the console (its task log)."""
    capfd.readouterr()
    dag_run = _copy(recording_id, destination)
    return dag_run, console_text(capfd.readouterr())


@pytest.mark.parametrize("case", ["signed path, HTTP 400", "redirect to another host"])
def test_the_task_log_of_a_failing_copy_shows_no_signature(airflow_db, hostile, tmp_path, capfd, case):
    signature = fresh_signature()
    if case == "redirect to another host":
        other = f"http://localhost:{hostile.host_port.rsplit(':', 1)[1]}/t/{signature}/alice.webm"
        serve_one_file(hostile, redirect(302, other), path=f"/files/sig={signature}/alice.webm")
        expected = "redirected to another host"
    else:
        serve_one_file(
            hostile, json_answer(400, {"no": signature}), path=f"/t/{signature}/alice.webm/{signature}"
        )
        expected = "answered HTTP 400"

    dag_run, log = _copy_logged(capfd, "rec-1", f"file://{tmp_path}")

    assert str(dag_run.state) == "failed", task_states(dag_run)
    assert expected in log
    assert "alice.webm" in log
    assert signature not in log
    assert list(tmp_path.iterdir()) == []
