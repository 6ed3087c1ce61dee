"""The command line: it starts, prints its base URL, serves with its options, and stops on a signal."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

STARTUP_SECONDS = 20  # generous: the machine is shared; the emulator itself starts in well under 1 s


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A running ``python -m airflow_provider_rtk.emulator`` and what it printed."""

    def __init__(self, *options: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "airflow_provider_rtk.emulator", "--port", str(self.port), *options]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_line(self, text: str) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                assert self.process.poll() is None, f"exited early: {''.join(self.output)}"
                continue
            self.output.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed in {STARTUP_SECONDS}s: {''.join(self.output)}")

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=10)
        self.wait_for_line("stopped")
        return code


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_cli_serves_with_its_options_and_stops_on_signals(servers):
    # Both start at once: the slow part (imports) overlaps.
    plain = Server(
        "--invoke-delay",
        "0",
        "--upload-delay",
        "0",
        "--second-start-status",
        "423",
        "--second-start-message",
        "busy: {meeting_id}",
    )
    custom = Server(
        "--api-token",
        "cli-token",
        "--account-id",
        "acc",
        "--app-id",
        "app",
        "--legacy-track",
        "--rate-limit",
        "2",
        "--rate-window",
        "60",
        "--second-start",
        "accept",
    )
    servers.extend([plain, custom])

    base_url = f"http://127.0.0.1:{plain.port}/client/v4"
    assert base_url in plain.wait_for_line("serving")
    custom_base = f"http://127.0.0.1:{custom.port}/client/v4"
    assert custom_base in custom.wait_for_line("serving")

    with httpx.Client(timeout=10, verify=False) as web:
        app_url = f"{base_url}/accounts/any/realtime/kit/any"
        token = {"Authorization": "Bearer emulator-token"}
        assert web.post(f"http://127.0.0.1:{plain.port}/_emulator/meetings/m1/session").status_code == 200
        started = web.post(f"{app_url}/recordings/track", json={"meeting_id": "m1"}, headers=token)
        assert started.status_code == 200
        assert started.json()["data"]["recording"]["status"] == "RECORDING"  # --invoke-delay 0
        again = web.post(f"{app_url}/recordings/track", json={"meeting_id": "m1"}, headers=token)
        assert again.status_code == 423
        assert again.json()["error"]["message"] == "busy: m1"

        custom_app = f"{custom_base}/accounts/acc/realtime/kit/app"
        auth = {"Authorization": "Bearer cli-token"}
        assert web.get(f"{custom_app}/recordings", headers=token).status_code == 401
        assert (
            web.get(f"{custom_base}/accounts/other/realtime/kit/app/recordings", headers=auth).status_code
            == 404
        )
        web.post(f"http://127.0.0.1:{custom.port}/_emulator/meetings/m2/session")
        for _ in range(2):  # --second-start accept: both start
            legacy = web.post(
                f"{custom_app}/recordings/track",
                json={"meeting_id": "m2", "layers": {"default": {}}},
                headers=auth,
            )
            assert (legacy.status_code, legacy.content) == (200, b"")
        assert (
            web.get(f"{custom_app}/recordings", headers=auth).status_code == 429
        )  # refused requests (401, 404) do not count

    assert plain.stop(signal.SIGTERM) == 0
    assert custom.stop(signal.SIGINT) == 0


def test_cli_help_lists_the_options():
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_rtk.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--api-token",
        "--account-id",
        "--app-id",
        "--legacy-track",
        "--invoke-delay",
        "--upload-delay",
        "--rate-limit",
        "--rate-window",
        "--second-start",
        "--second-start-status",
        "--second-start-message",
        "--unknown-fields",
        "--recording-file",
        "--webhook",
        "--webhook-retry-delays",
        "--webhook-timeout",
        "--transcript-delay",
        "--summary-delay",
        "--verbose",
    ):
        assert option in result.stdout


def test_cli_registers_webhooks_and_signs_with_its_served_key(servers, sink, verifies):
    server = Server("--webhook", sink.url, "--webhook-retry-delays", "0.01", "--transcript-delay", "0")
    servers.append(server)
    server.wait_for_line("serving")
    keys_url = server.wait_for_line("webhook signing key").split()[-1]
    with httpx.Client(timeout=10) as web:
        public_key = web.get(keys_url).json()["data"]["publicKey"]
        web.post(f"http://127.0.0.1:{server.port}/_emulator/meetings/m1/session")
    (received,) = sink.wait(1)
    assert verifies(public_key, received.headers["rtk-signature"], received.body)
    assert server.stop(signal.SIGTERM) == 0


def test_cli_refuses_bad_retry_delays(capsys):
    from airflow_provider_rtk.emulator.__main__ import main

    with pytest.raises(SystemExit):
        main(["--webhook-retry-delays", "1,soon"])
    assert "comma-separated list of seconds" in capsys.readouterr().err


def test_cli_reports_a_taken_port(capsys):
    from airflow_provider_rtk.emulator.__main__ import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["--port", str(taken.getsockname()[1])]) == 1
    assert "cannot start" in capsys.readouterr().err


def test_verbose_logs_one_line_per_request_and_never_the_token(servers, tmp_path):
    recorded = tmp_path / "voice.webm"
    recorded.write_bytes(b"\x1a\x45\xdf\xa3real-bytes")
    secret = "s3cret-cli-token-value"
    server = Server(
        "-v",
        "--api-token",
        secret,
        "--invoke-delay",
        "0",
        "--upload-delay",
        "0",
        "--recording-file",
        str(recorded),
    )
    default = Server()
    servers.extend([server, default])
    base_url = f"http://127.0.0.1:{server.port}/client/v4"
    server.wait_for_line("serving")
    banner = server.wait_for_line("API token")
    assert "the one given with --api-token" in banner
    assert '"password": "<your --api-token>"' in server.wait_for_line("AIRFLOW_CONN_REALTIMEKIT_DEFAULT")
    server.wait_for_line("control endpoints")
    default.wait_for_line("serving")
    assert "API token emulator-token" in default.wait_for_line("API token")

    app_url = f"{base_url}/accounts/a/realtime/kit/b"
    with httpx.Client(timeout=10, verify=False, headers={"Authorization": f"Bearer {secret}"}) as web:
        web.post(f"http://127.0.0.1:{server.port}/_emulator/meetings/m1/session")
        started = web.post(f"{app_url}/recordings/track", json={"meeting_id": "m1"}).json()["data"][
            "recording"
        ]
        web.put(f"{app_url}/recordings/{started['id']}", json={"action": "stop"})
        uploaded = web.get(f"{app_url}/recordings/{started['id']}", params={"secret": "q"}).json()["data"]
        link = next(iter(uploaded["download_url"][0]["download_urls"].values()))["download_url"]
        assert web.get(link).content == recorded.read_bytes()
        assert web.get(f"{app_url}/recordings", headers={"Authorization": "Bearer wrong"}).status_code == 401

    assert server.stop(signal.SIGTERM) == 0
    lines = [line for line in server.output if " ms" in line]
    expected = [
        ("POST", "/_emulator/meetings/m1/session", "200"),
        ("POST", "/client/v4/accounts/a/realtime/kit/b/recordings/track", "200"),
        ("PUT", f"/client/v4/accounts/a/realtime/kit/b/recordings/{started['id']}", "200"),
        ("GET", f"/client/v4/accounts/a/realtime/kit/b/recordings/{started['id']}", "200"),
        ("GET", "/files/", "200"),
        ("GET", "/client/v4/accounts/a/realtime/kit/b/recordings", "401"),
    ]
    assert len(lines) == len(expected), lines
    for line, (method, path, status) in zip(lines, expected, strict=True):
        words = line.split()
        assert words[-1] == "ms"
        float(words[-2])
        assert words[-5:-2][0] == method
        assert words[-4].startswith(path)
        assert words[-3] == status
    assert secret not in "".join(server.output)
    assert "secret=q" not in "".join(server.output)  # paths only, no query
