"""The sync hook against a respx-mocked API: connection, envelopes, retries, the safe start, the calls."""

from __future__ import annotations

import email.utils
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
import tenacity
from tenacity import RetryCallState, Retrying

from airflow_provider_rtk.exceptions import (
    RealtimeKitAPIError,
    RealtimeKitConnectionConfigError,
    RealtimeKitNotFoundError,
    RealtimeKitPayloadError,
)
from airflow_provider_rtk.hooks._api import HttpRetryPolicy, parse_retry_after
from airflow_provider_rtk.hooks.realtimekit import ConnectionSettings, RealtimeKitHook
from airflow_provider_rtk.models import RecordingStatus
from tests.api_answers import (
    APP_URL,
    BASE,
    FAST,
    MEETING,
    TOKEN,
    assert_no_token,
    gateway_error,
    list_answer,
    ok,
    recording,
    rtk_error,
    set_conn,
)

DEFAULT_APP_URL = "https://api.cloudflare.com/client/v4/accounts/ACC/realtime/kit/APP"


# --------------------------------------------------------------------------------------------------
# Connection settings


class TestConnectionSettings:
    def test_reads_env_connection(self, hook):
        assert hook.settings == ConnectionSettings(
            base_url=BASE, account_id="ACC", app_id="APP", api_token=TOKEN
        )
        assert hook.settings.app_url == APP_URL

    def test_default_base_url(self, monkeypatch):
        set_conn(monkeypatch, host=None)
        hook = RealtimeKitHook(retry_policy=FAST)
        assert hook.settings.base_url == "https://api.cloudflare.com/client/v4"
        with respx.mock(base_url=DEFAULT_APP_URL) as mock:
            route = mock.get("/recordings/rec-1").mock(return_value=ok(recording()))
            assert hook.get_recording("rec-1").id == "rec-1"
        assert route.call_count == 1
        assert str(route.calls.last.request.url) == f"{DEFAULT_APP_URL}/recordings/rec-1"

    @pytest.mark.parametrize(
        ("host", "port", "base_url"),
        [
            ("rtk.internal", None, "https://rtk.internal"),
            ("rtk.internal", 8443, "https://rtk.internal:8443"),
            ("rtk.internal/prefix/v4", 8080, "https://rtk.internal:8080/prefix/v4"),
            ("http://10.1.2.3:9000/proxy/cf/", None, "http://10.1.2.3:9000/proxy/cf"),
            ("http://10.1.2.3:9000/proxy/cf", 1234, "http://10.1.2.3:9000/proxy/cf"),
            ("https://emulator.local", None, "https://emulator.local"),
            ("  http://localhost:8787/client/v4  ", None, "http://localhost:8787/client/v4"),
        ],
    )
    def test_any_scheme_host_port_path(self, monkeypatch, host, port, base_url):
        set_conn(monkeypatch, host=host, port=port)
        hook = RealtimeKitHook(retry_policy=FAST)
        assert hook.settings.base_url == base_url
        app_url = f"{base_url}/accounts/ACC/realtime/kit/APP"
        with respx.mock() as mock:
            route = mock.get(f"{app_url}/recordings/rec-9").mock(return_value=ok(recording("rec-9")))
            assert hook.get_recording("rec-9").id == "rec-9"
        assert route.call_count == 1
        hook.close()

    @pytest.mark.parametrize(
        ("changes", "missing"),
        [
            ({"password": None}, ["password (the API token)"]),
            ({"password": "   "}, ["password (the API token)"]),
            ({"extra": {"app_id": "APP"}}, ["extra.account_id"]),
            ({"extra": {"account_id": "ACC"}}, ["extra.app_id"]),
            ({"extra": {"account_id": "ACC", "app_id": " "}}, ["extra.app_id"]),
            ({"extra": {}}, ["extra.account_id", "extra.app_id"]),
            (
                {"password": None, "extra": {}},
                ["password (the API token)", "extra.account_id", "extra.app_id"],
            ),
        ],
    )
    def test_missing_settings_named(self, monkeypatch, changes, missing):
        set_conn(monkeypatch, conn_id="rtk_incomplete", **changes)
        hook = RealtimeKitHook("rtk_incomplete", retry_policy=FAST)
        with respx.mock() as mock, pytest.raises(RealtimeKitConnectionConfigError) as info:
            hook.get_recording("rec-1")
        assert not mock.calls
        message = str(info.value)
        assert "rtk_incomplete" in message
        for name in missing:
            assert name in message
        for name in {"password (the API token)", "extra.account_id", "extra.app_id"} - set(missing):
            assert name not in message
        assert_no_token(info.value)

    def test_values_stripped(self, monkeypatch):
        set_conn(monkeypatch, password=f" {TOKEN} ", extra={"account_id": " ACC ", "app_id": "APP\n"})
        settings = RealtimeKitHook().settings
        assert (settings.api_token, settings.account_id, settings.app_id) == (TOKEN, "ACC", "APP")

    @pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "5", True])
    def test_hook_timeout_checked_at_construction(self, timeout):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            RealtimeKitHook(timeout=timeout)

    def test_hook_timeout_is_the_request_deadline(self, hook):
        hook.timeout = 2.5
        assert hook._limits(hook.settings).timeout == 2.5
        assert hook.client.timeout.read == 2.5
        assert hook.client.follow_redirects is False

    def test_token_never_in_repr(self, hook):
        assert TOKEN not in repr(hook.settings)
        assert TOKEN not in str(hook.settings)
        assert "ACC" in repr(hook.settings)
        assert TOKEN not in repr(hook)
        assert repr(hook) == "RealtimeKitHook(realtimekit_conn_id='realtimekit_default')"


# --------------------------------------------------------------------------------------------------
# Transport: headers, one client


class TestTransport:
    def test_bearer_header_and_user_agent(self, hook, api):
        route = api.get("/recordings/rec-1").mock(return_value=ok(recording()))
        hook.get_recording("rec-1")
        request = route.calls.last.request
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["User-Agent"] == "airflow-provider-rtk"
        assert str(request.url) == f"{APP_URL}/recordings/rec-1"

    def test_one_client_reused(self, hook, api, monkeypatch):
        created = []
        original = httpx.Client

        class CountingClient(original):
            def __init__(self, *args, **kwargs):
                created.append(self)
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(httpx, "Client", CountingClient)
        api.get("/recordings/rec-1").mock(return_value=ok(recording()))
        api.get(f"/recordings/active-recording/{MEETING}").mock(return_value=ok(recording()))
        api.put("/recordings/rec-1").mock(return_value=ok(recording(status="UPLOADING")))
        hook.get_recording("rec-1")
        hook.get_active_recording(MEETING)
        hook.stop_recording("rec-1")
        hook.get_recording("rec-1")
        assert len(created) <= 1  # none if an earlier test of this process made the shared one
        assert hook.get_conn() is hook.client
        assert all(client is hook.client for client in created)

    def test_close_lets_go_of_the_shared_client_which_the_next_hook_reuses(self, conn, api):
        api.get("/recordings/rec-1").mock(return_value=ok(recording()))
        with RealtimeKitHook(retry_policy=FAST) as hook:
            hook.get_recording("rec-1")
            client = hook.client
        assert "client" not in hook.__dict__
        assert not client.is_closed  # kept alive for the process's next hook of the connection
        with RealtimeKitHook(retry_policy=FAST) as again:
            again.get_recording("rec-1")
            assert again.client is client


# --------------------------------------------------------------------------------------------------
# Error envelopes


class TestEnvelopes:
    @pytest.mark.parametrize(
        ("response", "status", "code", "message"),
        [
            (rtk_error(422, "meeting is not live", code=1422), 422, 1422, "meeting is not live"),
            (gateway_error(403, "Authentication error", code=10000), 403, 10000, "Authentication error"),
            (
                httpx.Response(400, json={"message": "Bad Request: layers invalid"}),
                400,
                None,
                "Bad Request: layers invalid",
            ),
            (
                httpx.Response(400, text="upstream said no", headers={"content-type": "text/plain"}),
                400,
                None,
                "upstream said no",
            ),
            (httpx.Response(409, text=""), 409, None, "Conflict"),
            (
                httpx.Response(200, json={"success": False, "error": {"code": 7, "message": "quota"}}),
                200,
                7,
                "quota",
            ),
        ],
        ids=["realtimekit", "gateway", "bare-message", "non-json", "empty", "success-false-200"],
    )
    def test_every_envelope_read(self, hook, api, response, status, code, message):
        route = api.get("/recordings/rec-1").mock(return_value=response)
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        error = info.value
        assert type(error) is RealtimeKitAPIError
        assert (error.status_code, error.code, error.message) == (status, code, message)
        assert error.operation == "get_one_recording"
        assert message in str(error)
        assert f"HTTP {status}" in str(error)
        assert route.call_count == 1  # none of these is retried
        assert_no_token(error)

    def test_gateway_errors_joined(self, hook, api):
        body = {
            "success": False,
            "errors": [{"code": 1, "message": "a"}, {"code": 2, "message": "b"}],
            "messages": [],
            "result": None,
        }
        api.get("/recordings/rec-1").mock(return_value=httpx.Response(400, json=body))
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        assert (info.value.code, info.value.message) == (1, "a; b")

    def test_404_is_not_found(self, hook, api):
        api.get("/recordings/nope").mock(return_value=rtk_error(404, "Recording not found"))
        with pytest.raises(RealtimeKitNotFoundError) as info:
            hook.get_recording("nope")
        assert info.value.status_code == 404
        assert info.value.message == "Recording not found"
        assert isinstance(info.value, RealtimeKitAPIError)
        assert_no_token(info.value)

    def test_non_json_success_is_an_error(self, hook, api):
        api.get("/recordings/rec-1").mock(return_value=httpx.Response(200, text="<html>hi</html>"))
        with pytest.raises(RealtimeKitAPIError, match="not JSON"):
            hook.get_recording("rec-1")

    def test_transport_error_has_no_token(self, hook, api):
        api.get("/recordings/rec-1").mock(side_effect=httpx.ConnectError("connection refused"))
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        assert info.value.status_code is None
        assert "ConnectError" in str(info.value)
        assert_no_token(info.value)

    def test_token_echoed_by_server_is_not_in_the_error(self, hook, api):
        """A proxy or a wrong base URL may echo the request headers back; the error must not carry them."""
        echo = httpx.Response(400, text=f"bad request\nAuthorization: Bearer {TOKEN}\n")
        api.get("/recordings/rec-1").mock(return_value=echo)
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        assert info.value.status_code == 400
        assert_no_token(info.value)


# --------------------------------------------------------------------------------------------------
# Retry rules


def retry_state_with(error: BaseException, attempt: int = 1) -> RetryCallState:
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


class TestRetryPolicy:
    def test_wait_is_retry_after(self):
        error = RealtimeKitAPIError("slow down", status_code=429, retry_after=7)
        assert HttpRetryPolicy().wait(retry_state_with(error)) == 7.0

    def test_wait_is_retry_after_even_when_larger_than_backoff(self):
        error = RealtimeKitAPIError("slow down", status_code=429, retry_after=45)
        assert HttpRetryPolicy(initial_wait=0.001, max_wait=0.01).wait(retry_state_with(error)) == 45.0

    def test_wait_without_retry_after_is_bounded_backoff(self):
        policy = HttpRetryPolicy(initial_wait=1.0, max_wait=30.0)
        error = RealtimeKitAPIError("down", status_code=503)
        first = policy.wait(retry_state_with(error, attempt=1))
        assert 1.0 <= first <= 2.0
        assert policy.wait(retry_state_with(error, attempt=20)) <= 30.0

    @pytest.mark.parametrize(
        ("header", "seconds"),
        [("7", 7.0), ("0", 0.0), ("2.5", 2.5), ("-3", 0.0), (None, None), ("", None), ("soon", None)],
    )
    def test_parse_retry_after(self, header, seconds):
        assert parse_retry_after(header) == seconds

    def test_parse_retry_after_http_date(self):
        """The seconds from the moment of parsing to the date, bracketed by the clock read before and
        after (a fixed bound like ``28 <= waited`` fails when the machine stalls between two lines)."""
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
        before = time.time()
        waited = parse_retry_after(email.utils.format_datetime(when, usegmt=True))
        after = time.time()
        assert when.timestamp() - after <= waited <= when.timestamp() - before

    def test_429_header_reaches_the_error(self, hook, api):
        api.get("/recordings/rec-1").mock(
            return_value=gateway_error(429, "rate limited", 971, headers={"Retry-After": "12"})
        )
        hook.retry_policy = HttpRetryPolicy(max_attempts=1)
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        assert (info.value.status_code, info.value.retry_after) == (429, 12.0)

    def test_retry_after_really_waited(self, hook, api):
        route = api.get("/recordings/rec-1").mock(
            side_effect=[
                gateway_error(429, "rate limited", 971, headers={"Retry-After": "1"}),
                ok(recording()),
            ]
        )
        started = time.monotonic()
        assert hook.get_recording("rec-1").id == "rec-1"
        elapsed = time.monotonic() - started
        assert route.call_count == 2
        assert 0.9 <= elapsed < 10.0  # (generous above: a busy machine)

    def test_retry_after_beyond_cap_fails_instead_of_waiting(self, hook, api):
        """``max_retry_after``: "beyond it, the call fails rather than hangs"."""
        hook.retry_policy = HttpRetryPolicy(initial_wait=0.001, max_wait=0.01, max_retry_after=0.5)
        route = api.get("/recordings/rec-1").mock(
            side_effect=[
                gateway_error(429, "rate limited", 971, headers={"Retry-After": "3600"}),
                ok(recording()),
            ]
        )
        started = time.monotonic()
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        assert info.value.status_code == 429
        assert route.call_count == 1
        assert time.monotonic() - started < 60.0  # not the 3600 s (nor the cap: no retry at all)


class TestRetries:
    @pytest.mark.parametrize(
        "first",
        [
            gateway_error(429, "rate limited", 971, headers={"Retry-After": "0"}),
            gateway_error(429, "rate limited", 971),
            rtk_error(500, "internal"),
            httpx.Response(502, text="<html>bad gateway</html>"),
            rtk_error(503, "unavailable"),
            httpx.Response(504, text=""),
            httpx.ConnectError("refused"),
            httpx.ConnectTimeout("connect timeout"),
            httpx.ReadTimeout("read timeout"),
            httpx.RemoteProtocolError("peer closed connection"),
        ],
        ids=[
            "429-retry-after",
            "429",
            "500",
            "502",
            "503",
            "504",
            "connect",
            "connect-timeout",
            "read-timeout",
            "dropped",
        ],
    )
    def test_get_retried_on_transient(self, hook, api, first):
        route = api.get("/recordings/rec-1").mock(side_effect=[first, first, ok(recording())])
        assert hook.get_recording("rec-1").id == "rec-1"
        assert route.call_count == 3

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422])
    def test_4xx_not_retried(self, hook, api, status):
        route = api.get("/recordings/rec-1").mock(side_effect=[rtk_error(status, "no"), ok(recording())])
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        assert info.value.status_code == status
        assert route.call_count == 1

    def test_attempts_bounded(self, hook, api):
        hook.retry_policy = HttpRetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.01)
        route = api.get("/recordings/rec-1").mock(return_value=rtk_error(503, "still down"))
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_recording("rec-1")
        assert info.value.status_code == 503
        assert info.value.message == "still down"
        assert route.call_count == 3

    def test_default_attempts_bounded(self, hook, api):
        hook.retry_policy = HttpRetryPolicy(initial_wait=0.001, max_wait=0.01)
        route = api.get("/recordings/rec-1").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(RealtimeKitAPIError):
            hook.get_recording("rec-1")
        assert route.call_count == 5

    def test_total_time_bounded(self, hook, api, monkeypatch):
        """On tenacity's clock, moved by hand: each attempt takes one second of it, so a budget of
        three seconds ends the call after three of its hundred attempts, however busy the machine is
        (on the real clock, a first attempt that stalled as long as the budget was the only one)."""
        now = [1000.0]
        monkeypatch.setattr(tenacity, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))
        hook.retry_policy = HttpRetryPolicy(
            max_attempts=100, initial_wait=0.001, max_wait=0.001, max_total_seconds=3
        )

        def a_second_then_503(request: httpx.Request) -> httpx.Response:
            now[0] += 1.0
            return rtk_error(503)

        route = api.get("/recordings/rec-1").mock(side_effect=a_second_then_503)
        with pytest.raises(RealtimeKitAPIError):
            hook.get_recording("rec-1")
        assert route.call_count == 3

    def test_create_meeting_not_retried(self, hook, api):
        route = api.post("/meetings").mock(side_effect=[rtk_error(503), ok({"id": "m1"}, 201)])
        with pytest.raises(RealtimeKitAPIError):
            hook.create_meeting("standup")
        assert route.call_count == 1

    def test_create_meeting(self, hook, api):
        route = api.post("/meetings").mock(return_value=ok({"id": "m1", "title": "standup"}, 201))
        meeting = hook.create_meeting("standup", record_on_start=False)
        assert (meeting.id, meeting.title) == ("m1", "standup")
        assert json.loads(route.calls.last.request.content) == {"title": "standup", "record_on_start": False}


# --------------------------------------------------------------------------------------------------
# Starting a recording: never blindly repeated


# --------------------------------------------------------------------------------------------------
# The other calls


class TestCalls:
    def test_get_recording_parses(self, hook, api):
        api.get("/recordings/rec-1").mock(
            return_value=ok(
                recording(
                    status="UPLOADED",
                    download_url=[
                        {
                            "layer_name": "default",
                            "download_urls": {"f.webm": {"download_url": "https://d/f"}},
                        }
                    ],
                )
            )
        )
        result = hook.get_recording("rec-1")
        assert result.status is RecordingStatus.UPLOADED
        assert result.download_links == {"f.webm": "https://d/f"}

    def test_list_recordings_params(self, hook, api):
        route = api.get("/recordings").mock(
            return_value=list_answer([recording("a"), recording("b", "UPLOADED")], total=2, start=1, end=2)
        )
        page = hook.list_recordings(
            meeting_id=MEETING,
            status=["recording", RecordingStatus.PAUSED],
            page_no=2,
            per_page=25,
            sort_by="invokedTime",
            sort_order="desc",
            start_time=datetime(2026, 7, 1, 9, 30, tzinfo=UTC),
            end_time="2026-07-02T00:00:00Z",
            expired=False,
            search="standup",
        )
        params = dict(route.calls.last.request.url.params)
        assert params == {
            "meeting_id": MEETING,
            "status": "RECORDING,PAUSED",
            "page_no": "2",
            "per_page": "25",
            "sort_by": "invokedTime",
            "sort_order": "DESC",
            "start_time": "2026-07-01T09:30:00+00:00",
            "end_time": "2026-07-02T00:00:00Z",
            "expired": "false",
            "search": "standup",
        }
        assert [r.id for r in page.recordings] == ["a", "b"]
        assert page.paging.total_count == 2

    def test_list_recordings_status_text_and_no_empty_params(self, hook, api):
        route = api.get("/recordings").mock(return_value=list_answer([], total=0, start=0, end=0))
        hook.list_recordings(status="uploaded,errored")
        assert dict(route.calls.last.request.url.params) == {"status": "UPLOADED,ERRORED"}

    def test_list_recordings_unknown_status(self, hook, api):
        with pytest.raises(ValueError, match="BOGUS"):
            hook.list_recordings(status="bogus")
        assert not api.calls

    def test_iter_recordings_pages(self, hook, api):
        pages = {
            "1": (["a", "b"], {"total_count": 5, "start_offset": 1, "end_offset": 2}),
            "2": (["c", "d"], {"total_count": 5, "start_offset": 3, "end_offset": 4}),
            "3": (["e"], {"total_count": 5, "start_offset": 5, "end_offset": 5}),
        }

        def answer(request: httpx.Request) -> httpx.Response:
            ids, paging = pages[request.url.params["page_no"]]
            return ok([recording(i) for i in ids], paging=paging)

        route = api.get("/recordings").mock(side_effect=answer)
        ids = [r.id for r in hook.iter_recordings(per_page=2, meeting_id=MEETING)]
        assert ids == ["a", "b", "c", "d", "e"]
        assert [c.request.url.params["page_no"] for c in route.calls] == ["1", "2", "3"]
        assert {c.request.url.params["per_page"] for c in route.calls} == {"2"}
        assert {c.request.url.params["meeting_id"] for c in route.calls} == {MEETING}

    def test_iter_recordings_stops_on_empty_page(self, hook, api):
        route = api.get("/recordings").mock(return_value=list_answer([], total=10, start=0, end=0))
        assert list(hook.iter_recordings()) == []
        assert route.call_count == 1

    def test_get_active_recording(self, hook, active):
        active.mock(return_value=ok(recording("rec-a")))
        assert hook.get_active_recording(MEETING).id == "rec-a"

    def test_get_active_recording_none_on_404(self, hook, active):
        active.mock(return_value=rtk_error(404, "no active recording"))
        assert hook.get_active_recording(MEETING) is None
        assert active.call_count == 1

    def test_get_active_recording_other_errors_raise(self, hook, active):
        active.mock(return_value=gateway_error(403, "forbidden"))
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.get_active_recording(MEETING)
        assert info.value.status_code == 403

    def test_get_active_session(self, hook, api):
        api.get(f"/meetings/{MEETING}/active-session").mock(
            return_value=ok({"id": "sess", "status": "LIVE", "live_participants": 2})
        )
        session = hook.get_active_session(MEETING)
        assert (session.id, session.is_live, session.live_participants) == ("sess", True, 2)

    def test_get_active_session_none_on_404(self, hook, api):
        api.get(f"/meetings/{MEETING}/active-session").mock(return_value=rtk_error(404, "no session"))
        assert hook.get_active_session(MEETING) is None

    def test_get_meeting(self, hook, api):
        api.get(f"/meetings/{MEETING}").mock(
            return_value=ok({"id": MEETING, "title": "t", "status": "ACTIVE"})
        )
        assert hook.get_meeting(MEETING).title == "t"

    @pytest.mark.parametrize(
        ("method", "action", "status"),
        [
            ("stop_recording", "stop", "UPLOADING"),
            ("pause_recording", "pause", "PAUSED"),
            ("resume_recording", "resume", "RECORDING"),
        ],
    )
    def test_recording_action_bodies(self, hook, api, method, action, status):
        route = api.put("/recordings/rec-1").mock(return_value=ok(recording(status=status)))
        result = getattr(hook, method)("rec-1")
        assert json.loads(route.calls.last.request.content) == {"action": action}
        assert result.status is RecordingStatus(status)
        assert route.call_count == 1

    def test_recording_action_by_name(self, hook, api):
        route = api.put("/recordings/rec-1").mock(return_value=ok(recording(status="PAUSED")))
        hook.recording_action("rec-1", "pause")
        assert json.loads(route.calls.last.request.content) == {"action": "pause"}
        with pytest.raises(ValueError):
            hook.recording_action("rec-1", "explode")
        assert route.call_count == 1

    @pytest.mark.parametrize("final", ["UPLOADING", "UPLOADED", "ERRORED"])
    def test_stop_already_stopped_returns_it(self, hook, api, final):
        put = api.put("/recordings/rec-1").mock(return_value=rtk_error(400, "Recording already stopped"))
        get = api.get("/recordings/rec-1").mock(return_value=ok(recording(status=final)))
        result = hook.stop_recording("rec-1")
        assert result.status is RecordingStatus(final)
        assert (put.call_count, get.call_count) == (1, 1)

    def test_pause_already_paused_returns_it(self, hook, api):
        api.put("/recordings/rec-1").mock(return_value=rtk_error(409, "already paused"))
        api.get("/recordings/rec-1").mock(return_value=ok(recording(status="PAUSED")))
        assert hook.pause_recording("rec-1").status is RecordingStatus.PAUSED

    def test_stop_refused_while_recording_raises(self, hook, api):
        api.put("/recordings/rec-1").mock(return_value=rtk_error(400, "cannot stop now"))
        api.get("/recordings/rec-1").mock(return_value=ok(recording(status="RECORDING")))
        with pytest.raises(RealtimeKitAPIError) as info:
            hook.stop_recording("rec-1")
        assert info.value.status_code == 400
        assert info.value.message == "cannot stop now"

    @pytest.mark.parametrize("action", ["stop", "pause", "resume"])
    def test_a_refused_action_on_a_status_it_does_not_know_stands(self, hook, api, action):
        """Issue 21: a newer service's status proves nothing: the refusal is not taken for "done"."""
        api.put("/recordings/rec-1").mock(return_value=rtk_error(400, "cannot do that now"))
        api.get("/recordings/rec-1").mock(return_value=ok(recording(status="ARCHIVING")))
        with pytest.raises(RealtimeKitAPIError, match="cannot do that now"):
            hook.recording_action("rec-1", action)

    def test_stop_unknown_recording_raises_not_found(self, hook, api):
        api.put("/recordings/nope").mock(return_value=rtk_error(404, "not found"))
        get = api.get("/recordings/nope").mock(return_value=rtk_error(404, "not found"))
        with pytest.raises(RealtimeKitNotFoundError):
            hook.stop_recording("nope")
        assert get.call_count == 0

    @pytest.mark.parametrize("bad", ["../x", "..", "a/b", "a b", "", "rec?x=1", "rec#f", "%2e%2e", "abc\n"])
    def test_path_ids_validated_before_any_request(self, hook, api, bad):
        for call in (
            hook.get_recording,
            hook.stop_recording,
            hook.get_active_recording,
            hook.get_active_session,
            hook.get_meeting,
        ):
            with pytest.raises(RealtimeKitPayloadError) as info:
                call(bad)
            assert info.value.paths[0] in ("recording_id", "meeting_id")
        assert not api.calls


class TestTestConnection:
    def test_success(self, hook, api):
        route = api.get("/recordings").mock(return_value=list_answer([recording()], total=42, start=1, end=1))
        assert hook.test_connection() == (True, "Connected to RealtimeKit app APP: 42 recordings")
        assert route.calls.last.request.url.params["per_page"] == "1"

    def test_auth_failure(self, hook, api):
        api.get("/recordings").mock(return_value=gateway_error(401, "Authentication error", 10000))
        ok_, message = hook.test_connection()
        assert ok_ is False
        assert "HTTP 401" in message
        assert "Authentication error" in message
        assert TOKEN not in message

    def test_missing_config(self, monkeypatch):
        set_conn(monkeypatch, conn_id="rtk_noapp", extra={"account_id": "ACC"})
        ok_, message = RealtimeKitHook("rtk_noapp").test_connection()
        assert ok_ is False
        assert "extra.app_id" in message
        assert TOKEN not in message

    def test_unreachable(self, hook, api):
        hook.retry_policy = HttpRetryPolicy(max_attempts=2, initial_wait=0.001, max_wait=0.01)
        api.get("/recordings").mock(side_effect=httpx.ConnectError("Name or service not known"))
        ok_, message = hook.test_connection()
        assert ok_ is False
        assert "ConnectError" in message
        assert TOKEN not in message


def test_client_options_is_a_pure_builder_and_the_token_is_masked_where_the_settings_are_read(monkeypatch):
    """Section 7 of the design review: building the client's options changes nothing; reading the
    settings is what masks the token and makes it the hook's secret."""
    from uuid import uuid4

    from airflow_provider_rtk import redaction

    token = f"TOKEN-{uuid4().hex}"
    unread = ConnectionSettings(base_url=BASE, account_id="ACC", app_id="APP", api_token=token)
    hook = RealtimeKitHook()
    options = hook._client_options(unread)
    assert options["headers"]["Authorization"] == f"Bearer {token}"
    assert hook._secrets == ()
    assert token in redaction.redact(f"x {token}")  # not masked by a builder

    set_conn(monkeypatch, password=token)
    assert hook.settings.api_token == token
    assert hook._secrets == (token,)
    assert token not in redaction.redact(f"x {token}")
