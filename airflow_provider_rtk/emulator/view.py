"""The page a person sees for one recording (the target of the task's "RealtimeKit recording" link)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

#: While a recording can still change, the page reloads itself this often (seconds).
REFRESH_SECONDS = 2
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "th,td{padding:.25em 1em .25em 0;text-align:left;vertical-align:top}"
    "pre{background:#f4f4f4;padding:1em;overflow:auto}"
)


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{escape(name)}</th><td>{escape(str(value))}</td></tr>" for name, value in pairs)


def _files(answer: dict[str, Any]) -> str:
    """Download links of either form of ``download_url`` (a string, or the per-layer list)."""
    links = answer.get("download_url")
    if not links:
        return "<p>Download links appear once the recording is UPLOADED.</p>"
    if isinstance(links, str):
        files = [(answer.get("output_file_name") or "recording", links, "")]
    else:
        files = [
            (name, link["download_url"], layer.get("layer_name") or "")
            for layer in links
            for name, link in layer.get("download_urls", {}).items()
        ]
    items = "".join(
        f'<li><a href="{escape(url)}">{escape(name)}</a>{f" (layer {escape(layer)})" if layer else ""}</li>'
        for name, url, layer in files
    )
    return f"<ul>{items}</ul>"


def recording_page(snapshot: dict[str, Any], answer: dict[str, Any]) -> str:
    """An HTML page from a recording's snapshot (secrets masked) and its API answer."""
    terminal = snapshot["status"] in ("UPLOADED", "ERRORED")
    refresh = "" if terminal else f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
    details = _rows(
        [
            ("Recording", snapshot["id"]),
            ("Status", snapshot["status"]),
            ("Meeting", snapshot["meeting_id"]),
            ("Session", snapshot["session_id"]),
            ("Kind", snapshot["kind"]),
            ("API generation", snapshot["generation"] or "-"),
            ("Duration (s)", snapshot["recording_duration"]),
            ("Stop reason", snapshot["stop_reason"] or "-"),
        ]
    )
    history = _rows([(step["status"], step["at"]) for step in snapshot["status_history"]])
    body = escape(json.dumps(snapshot["request_body"], indent=2))
    return (
        f'<!doctype html><html><head><meta charset="utf-8">{refresh}'
        f"<title>Recording {escape(snapshot['id'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>RealtimeKit recording (emulator)</h1><table>{details}</table>"
        f"<h2>Status history</h2><table>{history}</table>"
        f"<h2>Files</h2>{_files(answer)}"
        f"<h2>Request body</h2><pre>{body}</pre></body></html>"
    )
