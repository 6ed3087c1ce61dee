"""The hooks against a hostile server: a real HTTP server on loopback (``tests/hostile_server.py``) that
echoes secrets back, sends 200 MB, trickles, redirects, nests JSON without end and answers in the wrong
shape. Every case ends in a ``RealtimeKitAPIError`` naming the operation and status, within the
request's timeout and the size cap, with no secret in its text."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tracemalloc
import uuid
from typing import Any

import httpx
import pytest

from airflow_provider_rtk.exceptions import RealtimeKitAPIError, RealtimeKitTransportError
from airflow_provider_rtk.hooks._api import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpRetryPolicy,
    RealtimeKitBadAnswerError,
    RealtimeKitTlsError,
)
from airflow_provider_rtk.hooks.realtimekit import RealtimeKitAsyncHook, RealtimeKitHook
from tests.api_answers import MEETING
from tests.hostile_server import (
    MB,
    HostileServer,
    echo,
    gzip_bomb,
    huge,
    json_answer,
    nested,
    raw_answer,
    redirect,
    trickle,
)

RECORDING = {"id": "rec-1", "status": "RECORDING", "meeting_id": MEETING}


def fresh(name: str) -> str:
    """A secret never seen before (the redaction registry and Airflow's masker are process-wide)."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def server():
    with HostileServer() as running:
        yield running


@pytest.fixture
def connect(monkeypatch, server):
    """``connect(**extra)``: point ``realtimekit_default`` at the server; returns the token."""

    def point(host: str | None = None, password: str | None = None, **extra: Any) -> str:
        token = password or fresh("TOKEN")
        conn = {
            "conn_type": "realtimekit",
            "password": token,
            "host": host or server.base_url,
            "extra": {"account_id": "ACC", "app_id": "APP", "max_attempts": 1, **extra},
        }
        monkeypatch.setenv("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", json.dumps(conn))
        return token

    return point


def texts_of(error: BaseException) -> str:
    """Every text an error can be shown as: message, repr, args, attributes, the whole chain."""
    parts = [str(error), repr(error), repr(error.args), repr(vars(error))]
    cause = error.__cause__ or error.__context__
    if cause is not None and cause is not error:
        parts.append(texts_of(cause))
    return "\n".join(parts)


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        escaped = json.dumps(secret)[1:-1]
        for form in {secret, escaped, json.dumps(escaped)[1:-1], repr(secret)[1:-1]}:
            assert form not in text, f"{form!r} leaked"


def call_sync(method: str = "get_recording", *args: Any) -> RealtimeKitAPIError:
    with RealtimeKitHook() as hook, pytest.raises(RealtimeKitAPIError) as info:
        getattr(hook, method)(*(args or ("rec-1",)))
    return info.value


def call_async(method: str = "get_recording", *args: Any) -> RealtimeKitAPIError:
    async def run() -> None:
        async with RealtimeKitAsyncHook() as hook:
            await getattr(hook, method)(*(args or ("rec-1",)))

    with pytest.raises(RealtimeKitAPIError) as info:
        asyncio.run(run())
    return info.value


CALLERS = {"sync": call_sync, "async": call_async}


# --------------------------------------------------------------------------------------------------
# Echoed secrets


def awkward_secret(name: str) -> str:
    """A storage secret with what JSON and repr escape: quotes, backslash, newline, control, non-ASCII."""
    return f'{fresh(name)}"q\\b\nn\x01c-é'


def layers_with(config: dict[str, Any]) -> dict[str, Any]:
    output = {"type": "STORAGE_CONFIG", "storage_config": config}
    return {"default": {"file_name_prefix": "echo", "outputs": [output]}}


def aws_secrets() -> tuple[dict[str, Any], list[str]]:
    secrets = [awkward_secret("ACCESS"), awkward_secret("SECRET")]
    return {"type": "aws", "bucket": "b", "access_key": secrets[0], "secret": secrets[1]}, secrets


def sftp_secrets() -> tuple[dict[str, Any], list[str]]:
    secrets = [awkward_secret("SFTP-PW")]
    config = {"type": "sftp", "host": "h", "username": "u", "auth_method": "PASSWORD", "password": secrets[0]}
    return config, secrets


@pytest.mark.parametrize("storage", [aws_secrets, sftp_secrets], ids=["aws", "sftp"])
@pytest.mark.parametrize("envelope", [True, False], ids=["json-envelope", "plain-text"])
def test_start_error_echoing_the_request_carries_no_secret(server, connect, caplog, envelope, storage):
    """The service quotes the request body back in its error: the storage secrets in it (with
    quotes, backslashes, newlines, control and non-ASCII characters, so JSON-escaped) are blanked."""
    token = connect()
    config, secrets = storage()
    server.route("POST", "/recordings/track", echo(400, envelope=envelope))
    body = {"meeting_id": MEETING, "max_seconds": 60, "layers": layers_with(config)}

    caplog.set_level(logging.DEBUG)
    with RealtimeKitHook() as hook, pytest.raises(RealtimeKitAPIError) as info:
        hook.start_track_recording(body)

    sent = server.seen[0]
    assert sent.path.endswith("/recordings/track")
    assert token in sent.headers["Authorization"]  # the server did get them, and echoed them
    on_the_wire = sent.body.decode()
    assert all(json.dumps(secret, ensure_ascii=False)[1:-1] in on_the_wire for secret in secrets)
    error = info.value
    assert (error.status_code, error.operation) == (400, "startTrackRecordingForAMeeting")
    assert MEETING in error.message  # the echo itself is kept...
    assert error.message.count("***") >= len(secrets)  # ...with every secret in it blanked
    assert_clean(texts_of(error), token, *secrets)
    assert_clean(caplog.text, token, *secrets)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_read_error_echoing_the_authorization_header_carries_no_token(server, connect, mode):
    token = connect()
    server.route("GET", "/recordings/rec-1", echo(401, envelope=False))
    error = CALLERS[mode]()
    assert error.status_code == 401
    assert "Authorization: Bearer ***" in error.message
    assert_clean(texts_of(error), token)


def test_echo_with_control_characters_cannot_forge_log_lines(server, connect):
    connect()
    server.route(
        "GET", "/recordings/rec-1", raw_answer(400, b"no\r\n[ERROR] forged line\x1b[31m", "text/plain")
    )
    error = call_sync()
    for control in ("\n", "\r", "\x1b"):
        assert control not in str(error)
    assert "forged line" in str(error)


# --------------------------------------------------------------------------------------------------
# Huge answers


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "streamed"])
def test_200_mb_answer_is_cut_at_the_cap(server, connect, declare_length):
    connect()
    server.route("GET", "/recordings/rec-1", huge(200 * MB, declare_length=declare_length))
    tracemalloc.start()
    started = time.monotonic()
    try:
        error = call_sync()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert (error.status_code, error.operation) == (200, "get_one_recording")
    assert f"larger than {DEFAULT_MAX_RESPONSE_BYTES} bytes" in str(error)
    assert error.maybe_took_effect
    # a few times the cap (what the client buffers past it varies with how fast the server writes),
    # never the 200 MB
    assert peak < 6 * DEFAULT_MAX_RESPONSE_BYTES, f"peak {peak / MB:.1f} MB"
    assert server.written.get("huge", 0) < 64 * MB  # the client hung up long before 200 MB
    print(
        f"\n200 MB ({'declared' if declare_length else 'streamed'}): {elapsed:.2f}s, peak {peak / MB:.1f} MB"
    )


def test_200_mb_error_answer_is_not_read_either(server, connect):
    connect()
    server.route("GET", "/recordings/rec-1", huge(200 * MB, status=500, declare_length=False))
    error = call_sync()
    assert error.status_code == 500
    assert "larger than" in str(error)
    assert server.written.get("huge", 0) < 64 * MB


def test_200_mb_async(server, connect):
    connect()
    server.route("GET", "/recordings/rec-1", huge(200 * MB, declare_length=False))
    error = call_async()
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert server.written.get("huge", 0) < 64 * MB


def test_gzip_bomb_is_counted_decoded(server, connect):
    connect()
    server.route("GET", "/recordings/rec-1", gzip_bomb(200 * MB))
    error = call_sync()
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert "larger than" in str(error)


def test_size_cap_is_a_connection_extra(server, connect):
    connect(max_response_bytes=2048)
    padded = {**RECORDING, "padding": "p" * 3000}
    server.route("GET", "/recordings/rec-1", json_answer(200, {"success": True, "data": padded}))
    server.route("GET", "/recordings/rec-2", json_answer(200, {"success": True, "data": RECORDING}))
    with RealtimeKitHook() as hook:
        assert hook.get_recording("rec-2").id == "rec-1"
        with pytest.raises(RealtimeKitBadAnswerError, match="larger than 2048 bytes"):
            hook.get_recording("rec-1")


# --------------------------------------------------------------------------------------------------
# Slow answers: one deadline for the whole request


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_trickling_server_cannot_hold_a_call_past_its_timeout(server, connect, mode, headers_too):
    """A byte every 0.2 s never trips a per-read timeout; the request's deadline (0.8 s) does."""
    connect(timeout=0.8)
    server.route("GET", "/recordings/rec-1", trickle(every=0.2, headers_too=headers_too))
    started = time.monotonic()
    error = CALLERS[mode]()
    elapsed = time.monotonic() - started
    assert isinstance(error, RealtimeKitTransportError)
    assert error.operation == "get_one_recording"
    assert error.maybe_in_progress
    # the trickle never ends by itself: any bound shows the deadline held (generous for a busy machine)
    assert 0.75 <= elapsed < 10.0, elapsed
    assert server.written.get("trickle", 0) >= 2  # it did trickle


def test_retries_of_a_trickled_call_are_each_bounded(server, connect, monkeypatch):
    """Each of the three attempts ends at its own deadline. The attempts are counted as the client
    sends them: a busy machine can spend an attempt's 0.3 s before its request reaches the server."""
    connect(timeout=0.3)
    server.route("GET", "/recordings/rec-1", trickle(every=0.1))
    sent = []
    send = httpx.Client.send

    def counted(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent.append(request.url.path)
        return send(client, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", counted)
    policy = HttpRetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.01)
    started = time.monotonic()
    with RealtimeKitHook(retry_policy=policy) as hook, pytest.raises(RealtimeKitTransportError):
        hook.get_recording("rec-1")
    elapsed = time.monotonic() - started
    assert sent == [server.app_path("/recordings/rec-1")] * 3
    assert server.calls("GET", "/recordings/rec-1") >= 1  # the trickle held at least one
    assert elapsed < 15.0, elapsed  # unbounded attempts would never end (generous for a busy machine)


# --------------------------------------------------------------------------------------------------
# Redirects are errors, never followed


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_an_error_and_not_followed(server, connect, status):
    token = connect()
    elsewhere = f"http://{server.host_port}/stolen?token={token}"
    server.route("GET", "/recordings/rec-1", redirect(status, elsewhere))
    error = call_sync()
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert (error.status_code, error.operation) == (status, "get_one_recording")
    assert "redirect" in str(error)
    assert error.maybe_took_effect
    assert not error.is_retryable
    assert [seen.path for seen in server.seen] == [server.app_path("/recordings/rec-1")]
    assert_clean(texts_of(error), token)


def test_redirected_start_is_reconciled_not_resent(server, connect):
    """A start answered with a 302 may have worked: the hook asks for the meeting's active recording
    (none here) and fails without sending the start again."""
    connect()
    server.route("POST", "/recordings/track", redirect(302, "https://elsewhere.test/"))
    with RealtimeKitHook() as hook, pytest.raises(RealtimeKitBadAnswerError) as info:
        hook.start_track_recording({"meeting_id": MEETING})
    assert info.value.status_code == 302
    assert info.value.maybe_took_effect
    assert server.calls("POST", "/recordings/track") == 1
    assert server.calls("GET", f"/recordings/active-recording/{MEETING}") == 1


def test_async_redirect(server, connect):
    connect()
    server.route("GET", "/recordings/rec-1", redirect(307, "http://127.0.0.1:9/x"))
    error = call_async()
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert error.status_code == 307


# --------------------------------------------------------------------------------------------------
# Deeply nested and wrongly shaped answers


@pytest.mark.parametrize("depth", [40, 100_000])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_deeply_nested_json_is_an_api_error(server, connect, depth, mode):
    connect()
    server.route("GET", "/recordings/rec-1", nested(depth))
    error = CALLERS[mode]()
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert (error.status_code, error.operation) == (200, "get_one_recording")
    assert "nested too deeply" in str(error)


def test_deeply_nested_error_answer_keeps_its_status(server, connect):
    connect()
    server.route("GET", "/recordings/rec-1", raw_answer(400, b"[" * 100_000 + b"]" * 100_000))
    error = call_sync()
    assert error.status_code == 400
    assert not isinstance(error, RecursionError)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_text_cut_mid_emoji_reads_as_replacement_characters(server, connect, mode):
    """Lone surrogates (``"\\ud83d"``: valid JSON, no character) anywhere in an answer, keys too,
    read as U+FFFD where the hook decodes it: whatever the provider builds of it (a trigger's event,
    an XCom) stays UTF-8 every database stores. Before, the text was kept and crashed later."""
    connect()
    cut = {
        **RECORDING,
        "output_file_name": "cut\ud83d.mp4",
        "download_url": [
            {"layer_name": "cam \ud83d", "download_urls": {"f\udc00.mp4": {"download_url": "https://x/y"}}}
        ],
        "storage_config": {"path": ["in\ud83d"]},
        "surprise\ud83d": 1.5,
    }
    server.route("GET", "/recordings/rec-1", json_answer(200, envelope(cut)))

    async def read_async() -> Any:
        async with RealtimeKitAsyncHook() as hook:
            return await hook.get_recording("rec-1")

    if mode == "sync":
        with RealtimeKitHook() as hook:
            recording = hook.get_recording("rec-1")
    else:
        recording = asyncio.run(read_async())

    assert recording.output_file_name == "cut\ufffd.mp4"
    assert recording.download_links == {"f\ufffd.mp4": "https://x/y"}
    assert recording.to_xcom()["storage_config"] == {"path": ["in\ufffd"]}
    assert recording.model_extra == {"surprise\ufffd": 1.5}
    json.dumps(recording.to_xcom(links=True), ensure_ascii=False).encode()  # no UnicodeEncodeError


def envelope(data: Any, **extra: Any) -> dict[str, Any]:
    return {"success": True, "data": data, **extra}


SHAPES: list[tuple[str, str, str, Any, tuple[Any, ...]]] = [
    # (case, method, path, answer, arguments)
    ("recording-is-a-list", "get_recording", "/recordings/rec-1", envelope([]), ()),
    ("recording-is-text", "get_recording", "/recordings/rec-1", envelope("rec-1"), ()),
    ("recording-without-id", "get_recording", "/recordings/rec-1", envelope({"status": "RECORDING"}), ()),
    (
        "recording-status-not-text",
        "get_recording",
        "/recordings/rec-1",
        envelope({"id": "r", "status": 7}),
        (),
    ),
    ("recording-null", "get_recording", "/recordings/rec-1", envelope(None), ()),
    ("bare-list", "get_recording", "/recordings/rec-1", [1, 2], ()),
    ("bare-number", "get_recording", "/recordings/rec-1", 42, ()),
    ("page-data-object", "list_recordings", "/recordings", envelope({"a": 1}), ()),
    ("page-paging-list", "list_recordings", "/recordings", envelope([], paging=[1]), ()),
    ("page-paging-text", "list_recordings", "/recordings", envelope([], paging={"total_count": "many"}), ()),
    ("meeting-list", "get_meeting", f"/meetings/{MEETING}", envelope([]), (MEETING,)),
    ("session-text", "get_active_session", f"/meetings/{MEETING}/active-session", envelope("x"), (MEETING,)),
    (
        "active-number",
        "get_active_recording",
        f"/recordings/active-recording/{MEETING}",
        envelope(5),
        (MEETING,),
    ),
]


DEFAULT_ARGS = {"get_recording": ("rec-1",), "get_active_recording": (MEETING,)}


@pytest.mark.parametrize(
    ("method", "path", "answer", "args"), [case[1:] for case in SHAPES], ids=[case[0] for case in SHAPES]
)
def test_wrongly_shaped_answer_is_an_api_error(server, connect, method, path, answer, args):
    connect()
    method_of = {"get_recording": "GET", "list_recordings": "GET"}
    server.route(method_of.get(method, "GET"), path, json_answer(200, answer))
    with RealtimeKitHook() as hook, pytest.raises(RealtimeKitAPIError) as info:
        getattr(hook, method)(*(args or DEFAULT_ARGS.get(method, ())))
    error = info.value
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert error.status_code == 200
    assert error.operation
    assert "unexpected shape" in str(error)


def test_html_success_answer_is_an_api_error(server, connect):
    connect()
    server.route("GET", "/recordings/rec-1", raw_answer(200, b"<html>login</html>", "text/html"))
    error = call_sync()
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert "not JSON" in str(error)


def test_async_wrong_shape(server, connect):
    connect()
    server.route("GET", "/recordings/rec-1", json_answer(200, envelope({"id": 5})))
    error = call_async()
    assert isinstance(error, RealtimeKitBadAnswerError)
    assert "unexpected shape" in str(error)


# --------------------------------------------------------------------------------------------------
# Unreachable, silent and TLS-less servers


def test_connection_test_on_a_silent_server_answers_within_one_timeout(server, connect):
    connect(timeout=1.0, max_attempts=5)
    server.route("GET", "/recordings", trickle(every=30.0, headers_too=True))
    started = time.monotonic()
    ok, message = RealtimeKitHook().test_connection()
    elapsed = time.monotonic() - started
    assert not ok
    assert "deadline" in message or "Timeout" in message
    assert elapsed < 10.0, elapsed  # a retry budget would take over 15 s
    assert server.calls("GET", "/recordings") == 1  # no retry budget spent


def test_connection_test_on_a_closed_port_answers_at_once(connect, free_tcp_port):
    token = connect(host=f"http://127.0.0.1:{free_tcp_port}/client/v4", max_attempts=5)
    started = time.monotonic()
    ok, message = RealtimeKitHook().test_connection()
    assert not ok
    assert "ConnectError" in message
    assert time.monotonic() - started < 10.0  # the retry budget would take over 15 s
    assert token not in message


def test_host_without_scheme_on_a_plain_http_server_fails_fast_with_a_hint(server, connect):
    """``127.0.0.1:port`` is taken as https; the TLS failure is not retried and says what to write."""
    connect(host=f"{server.host_port}/client/v4", max_attempts=5)
    started = time.monotonic()
    error = call_sync()
    assert isinstance(error, RealtimeKitTlsError)
    assert "http://" in str(error)
    assert time.monotonic() - started < 10.0  # five attempts with backoff would take over 15 s


def test_the_deadline_holds_through_an_environment_proxy(monkeypatch, connect):
    """``HTTP_PROXY`` gives the client a proxy transport of its own; its sockets keep the deadline."""
    with HostileServer(fallback=trickle(every=0.3, headers_too=True)) as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.host_port}")
        connect(host="http://rtk.invalid/client/v4", timeout=1.2)
        started = time.monotonic()
        error = call_sync()
        elapsed = time.monotonic() - started
    assert isinstance(error, RealtimeKitTransportError)
    assert proxy.seen[0].path.startswith("http://rtk.invalid/client/v4/")  # it went through the proxy
    assert elapsed < 10.0, elapsed  # the trickle never ends by itself


def test_a_page_of_unreadable_items_is_read_item_by_item(server, connect):
    """One item the models cannot read concerns that recording only (issue 18): the page is read, the
    item skipped and named in ``unreadable`` (no value of it, only where and why)."""
    connect()
    items = [
        1,
        {"id": "F1", "status": "RECORDING", "recording_duration": 12.5},
        {"id": "rec-2", "status": "RECORDING"},
    ]
    server.route("GET", "/recordings", json_answer(200, envelope(items)))
    with RealtimeKitHook() as hook:
        page = hook.list_recordings()
    assert [r.id for r in page.recordings] == ["rec-2"]
    assert [u.id for u in page.unreadable] == [None, "F1"]
    assert "12.5" not in repr(page.unreadable)


def test_a_page_with_more_items_than_asked_is_refused(server, connect):
    connect()
    items = [{"id": f"rec-{n}", "status": "RECORDING"} for n in range(3)]
    server.route("GET", "/recordings", json_answer(200, envelope(items)))
    with RealtimeKitHook() as hook, pytest.raises(RealtimeKitBadAnswerError, match="more than the 2 asked"):
        hook.list_recordings(per_page=2)
