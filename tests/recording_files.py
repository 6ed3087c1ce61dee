"""A recording with download links, and a hostile server that serves it and its files: the copy
operator's helpers, shared by its unit tests and its DAG-level tests
(``tests/integration/test_copy_files.py``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.hostile_server import HostileServer, Route, json_answer


def uploaded_recording(
    files: dict[str, str], *, status: str = "UPLOADED", expires_in: float = 86_400
) -> dict[str, Any]:
    """Recording ``rec-1`` whose default layer links ``files`` (name: link), expiring in ``expires_in`` s."""
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


#: What a link serves: random, so a wrong or partial copy cannot pass by chance.
BODY = bytes(range(256)) * 1024 + b"tail"


def fresh_signature() -> str:
    """A signature never seen before (the redaction registry and Airflow's masker are process-wide)."""
    return f"SIG{uuid.uuid4().hex}"


def serve_recording(
    server: HostileServer,
    layers: list[tuple[str, dict[str, tuple[str, Route]]]],
    *,
    file_size: float | None = None,
) -> None:
    """Serve recording ``rec-1`` (UPLOADED) whose ``layers`` are ``[(layer, {name: (path, route)})]``:
    each file's link is ``http://<server><path>`` and answers with ``route``."""
    origin = f"http://{server.host_port}"
    data = uploaded_recording({})
    data["file_size"] = file_size
    data["download_url"] = [
        {
            "layer_name": layer,
            "download_urls": {name: {"download_url": origin + path} for name, (path, _) in files.items()},
        }
        for layer, files in layers
    ]
    server.route("GET", "/recordings/rec-1", json_answer(200, {"success": True, "data": data}))
    for _, files in layers:
        for path, route in files.values():
            server.routes[("GET", path.split("?")[0])] = route


def serve_one_file(
    server: HostileServer, route: Route, *, path: str = "", file_size: float | None = None
) -> str:
    """Serve ``alice.webm`` behind ``route`` at ``path`` (default: a signed-looking link); the path."""
    path = path or f"/files/alice.webm?X-Amz-Signature={fresh_signature()}"
    serve_recording(server, [("default", {"alice.webm": (path, route)})], file_size=file_size)
    return path
