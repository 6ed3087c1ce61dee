"""Command line: ``python -m airflow_provider_rtk.emulator`` (or ``realtimekit-emulator``)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from airflow_provider_rtk.emulator.settings import (
    DEFAULT_API_TOKEN,
    DEFAULT_HOST,
    DEFAULT_INVOKE_DELAY,
    DEFAULT_PORT,
    DEFAULT_RATE_WINDOW,
    DEFAULT_SECOND_START,
    DEFAULT_SECOND_START_MESSAGE,
    DEFAULT_SECOND_START_STATUS,
    DEFAULT_SERVER,
    DEFAULT_SUMMARY_DELAY,
    DEFAULT_TRANSCRIPT_DELAY,
    DEFAULT_UNKNOWN_FIELDS,
    DEFAULT_UPLOAD_DELAY,
    DEFAULT_WEBHOOK_RETRY_DELAYS,
    DEFAULT_WEBHOOK_TIMEOUT,
    SECOND_START_MODES,
    SERVER_KINDS,
    UNKNOWN_FIELD_MODES,
)


def _delays(text: str) -> tuple[float, ...]:
    """``1,2,4`` -> ``(1.0, 2.0, 4.0)``; empty: no retries."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of seconds: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtimekit-emulator",
        description="A local Cloudflare RealtimeKit recording API for demos and tests.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port, 0 for any free one (default %(default)s)"
    )
    parser.add_argument(
        "--api-token",
        help=f"bearer token to accept (default {DEFAULT_API_TOKEN}); a token you set is never printed",
    )
    parser.add_argument("--account-id", help="accept only this account id (default: any)")
    parser.add_argument("--app-id", help="accept only this app id (default: any)")
    parser.add_argument(
        "--legacy-track",
        action="store_true",
        help="answer a track-recording start with 200 and an empty body, like the older API",
    )
    parser.add_argument(
        "--invoke-delay",
        type=float,
        default=DEFAULT_INVOKE_DELAY,
        help="seconds from INVOKED to RECORDING (default %(default)s)",
    )
    parser.add_argument(
        "--upload-delay",
        type=float,
        default=DEFAULT_UPLOAD_DELAY,
        help="seconds from UPLOADING to UPLOADED (default %(default)s)",
    )
    parser.add_argument(
        "--rate-limit", type=int, metavar="N", help="allow N API requests per window (default: no limit)"
    )
    parser.add_argument(
        "--rate-window",
        type=float,
        default=DEFAULT_RATE_WINDOW,
        metavar="SECONDS",
        help="rate-limit window in seconds (default %(default)s)",
    )
    parser.add_argument(
        "--second-start",
        choices=SECOND_START_MODES,
        default=DEFAULT_SECOND_START,
        help="a track start while the meeting is already being recorded: refuse it, or record twice "
        "(undocumented by the API; default %(default)s)",
    )
    parser.add_argument(
        "--second-start-status",
        type=int,
        default=DEFAULT_SECOND_START_STATUS,
        metavar="STATUS",
        help="HTTP status of that refusal (default %(default)s)",
    )
    parser.add_argument(
        "--second-start-message",
        default=DEFAULT_SECOND_START_MESSAGE,
        metavar="TEXT",
        help="message of that refusal; {meeting_id} and {recording_id} are filled in (default %(default)r)",
    )
    parser.add_argument(
        "--unknown-fields",
        choices=UNKNOWN_FIELD_MODES,
        default=DEFAULT_UNKNOWN_FIELDS,
        help="request fields the API description does not list: refuse with a 400 naming them, or "
        "ignore them (undocumented by the API; default %(default)s)",
    )
    parser.add_argument(
        "--recording-file",
        type=argparse.FileType("rb"),
        metavar="PATH",
        help="serve this file's bytes for every download link (default: synthetic WebM-headed bytes)",
    )
    parser.add_argument(
        "--server",
        choices=SERVER_KINDS,
        default=DEFAULT_SERVER,
        help="asyncio: one event loop, thousands of keep-alive clients; threads: one thread per "
        "connection (default %(default)s)",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="register a webhook to URL for every event at start (repeatable); also through the Webhooks API",
    )
    parser.add_argument(
        "--webhook-retry-delays",
        type=_delays,
        default=DEFAULT_WEBHOOK_RETRY_DELAYS,
        metavar="S,S,...",
        help="seconds between the attempts of a delivery met by a 5xx or a network error "
        f"(default {','.join(f'{d:g}' for d in DEFAULT_WEBHOOK_RETRY_DELAYS)})",
    )
    parser.add_argument(
        "--webhook-timeout",
        type=float,
        default=DEFAULT_WEBHOOK_TIMEOUT,
        metavar="SECONDS",
        help="seconds one delivery attempt may take (default %(default)s)",
    )
    parser.add_argument(
        "--transcript-delay",
        type=float,
        default=DEFAULT_TRANSCRIPT_DELAY,
        metavar="SECONDS",
        help="seconds from a session's end to its transcript (meetings with transcribe_on_end; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--summary-delay",
        type=float,
        default=DEFAULT_SUMMARY_DELAY,
        metavar="SECONDS",
        help="seconds from the transcript to the summary (summarize_on_end; default %(default)s)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log one line per request: method, path, status, time in ms (never the token)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; the exit status is 0 after a clean stop."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if args.verbose:
        logging.getLogger("airflow_provider_rtk.emulator").setLevel(logging.INFO)
    recording_bytes = None
    if args.recording_file is not None:
        with args.recording_file as source:
            recording_bytes = source.read()
    from airflow_provider_rtk.emulator.emulator import RealtimeKitEmulator  # the heavy part, after --help
    from airflow_provider_rtk.emulator.webhooks import WEBHOOK_EVENTS

    try:
        emulator = RealtimeKitEmulator(
            host=args.host,
            port=args.port,
            api_token=args.api_token or DEFAULT_API_TOKEN,
            account_id=args.account_id,
            app_id=args.app_id,
            legacy_track=args.legacy_track,
            invoke_delay=args.invoke_delay,
            upload_delay=args.upload_delay,
            rate_limit=args.rate_limit,
            rate_window=args.rate_window,
            second_start=args.second_start,
            second_start_status=args.second_start_status,
            second_start_message=args.second_start_message,
            unknown_fields=args.unknown_fields,
            recording_bytes=recording_bytes,
            server=args.server,
            webhooks=[
                {"name": f"--webhook {number}", "url": url, "events": list(WEBHOOK_EVENTS)}
                for number, url in enumerate(args.webhook, 1)
            ],
            webhook_retry_delays=args.webhook_retry_delays,
            webhook_timeout=args.webhook_timeout,
            transcript_delay=args.transcript_delay,
            summary_delay=args.summary_delay,
        ).start()
    except (OSError, ValueError) as error:
        print(f"realtimekit-emulator: cannot start: {error}", file=sys.stderr)
        return 1

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    ids = "" if args.account_id or args.app_id else " (any account and app id accepted)"
    print(f"RealtimeKit emulator serving {emulator.base_url}", flush=True)
    connection = emulator.airflow_connection()
    if args.api_token:  # the user's own token stays out of the terminal and its scroll-back
        token = "the one given with --api-token"
        connection["password"] = "<your --api-token>"
    else:
        token = emulator.api_token
    print(f"  API token {token}, account {emulator.account_id}, app {emulator.app_id}{ids}")
    print(f"  AIRFLOW_CONN_REALTIMEKIT_DEFAULT='{json.dumps(connection)}'")
    print(f"  webhook signing key: {emulator.webhook_keys_url}")
    print(f"  control endpoints: {emulator.origin}/_emulator/  (Ctrl+C stops)", flush=True)
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        emulator.stop()
    print("RealtimeKit emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
