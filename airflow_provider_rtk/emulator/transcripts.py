"""A session's post-meeting transcript and summary: deterministic text, in the formats the docs show.

From Cloudflare's guides (developers.cloudflare.com/realtime/realtimekit/ai/transcription/,
"Post-meeting transcription", "Output formats"; .../realtimekit/ai/summary/): a meeting created with
``transcribe_on_end: true`` gets a transcript after its session ends, ``summarize_on_end: true`` a
summary; ``GET .../sessions/{session_id}/transcript`` answers
``{sessionId, transcript_download_url, transcript_download_url_expiry}`` (CSV by default; the
TypeScript SDK documents ``?format=SRT|VTT|JSON|CSV``), ``GET .../sessions/{session_id}/summary``
answers ``{sessionId, summaryDownloadUrl, summaryDownloadUrlExpiry}`` (plain text); both are kept
7 days. CSV rows: start time in ms, peer id, user id, custom participant id, name, text.

The words are made up but fixed: the same session always gives the same bytes, so a test can compare a
copy with :func:`transcript_bytes` byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

TRANSCRIPT_FORMATS = ("CSV", "JSON", "SRT", "VTT")
DEFAULT_TRANSCRIPT_FORMAT = "CSV"
CONTENT_TYPES = {
    "CSV": "text/csv; charset=utf-8",
    "JSON": "application/json",
    "SRT": "application/x-subrip",
    "VTT": "text/vtt; charset=utf-8",
    "SUMMARY": "text/plain; charset=utf-8",
}
_SENTENCES = (
    "Good morning, shall we start?",
    "Yes. The recording pipeline shipped on Tuesday.",
    "Great. Any blockers for the transcript copy?",
    "None so far; the files land in the bucket byte for byte.",
)
_LINE_MS = 2_000
_SPOKEN_MS = 1_500


@dataclass(frozen=True)
class Speaker:
    user_id: str
    peer_id: str


@dataclass(frozen=True)
class Line:
    start_ms: int
    end_ms: int
    speaker: Speaker
    text: str


def transcript_lines(speakers: Sequence[Speaker]) -> list[Line]:
    """Who said what, when: the sentences in turn, speakers taking turns."""
    people = list(speakers) or [Speaker("user-1", "peer-1")]
    return [
        Line(
            1_000 + index * _LINE_MS,
            1_000 + index * _LINE_MS + _SPOKEN_MS,
            people[index % len(people)],
            sentence,
        )
        for index, sentence in enumerate(_SENTENCES)
    ]


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1_000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def transcript_bytes(speakers: Sequence[Speaker], file_format: str = DEFAULT_TRANSCRIPT_FORMAT) -> bytes:
    """The transcript file in ``file_format`` (one of :data:`TRANSCRIPT_FORMATS`)."""
    lines = transcript_lines(speakers)
    if file_format == "CSV":
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for line in lines:
            who = line.speaker
            writer.writerow([line.start_ms, who.peer_id, who.user_id, who.user_id, who.user_id, line.text])
        return out.getvalue().encode()
    if file_format == "JSON":
        entries = [
            {
                "startTime": line.start_ms,
                "endTime": line.end_ms,
                "sentence": line.text,
                "peerData": {
                    "id": line.speaker.peer_id,
                    "userId": line.speaker.user_id,
                    "displayName": line.speaker.user_id,
                    "cpi": line.speaker.user_id,
                },
            }
            for line in lines
        ]
        return json.dumps(entries, indent=2).encode()
    separator = "," if file_format == "SRT" else "."
    cues = [
        f"{_clock(line.start_ms, separator)} --> {_clock(line.end_ms, separator)}\n"
        f"{line.speaker.user_id}: {line.text}\n"
        for line in lines
    ]
    if file_format == "SRT":
        return "\n".join(f"{number}\n{cue}" for number, cue in enumerate(cues, 1)).encode()
    return ("WEBVTT\n\n" + "\n".join(cues)).encode()


def summary_bytes(title: str | None, speakers: Sequence[Speaker]) -> bytes:
    """The summary (markdown, the documented default ``text_format``)."""
    names = ", ".join(speaker.user_id for speaker in speakers) or "nobody"
    text = (
        f"## Meeting Summary: {title or 'Untitled meeting'}\n\n"
        f"### Participants\n\n- {names}\n\n"
        "### Key Discussion Points\n\n- The recording pipeline shipped on Tuesday\n"
        "- No blockers for the transcript copy\n"
    )
    return text.encode()
