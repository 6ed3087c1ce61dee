"""One redaction for every text that leaves the provider: error messages, reprs, log and warning lines.

Every secret the hooks and operators learn (the API token, storage credentials) is remembered here,
process-wide like Airflow's own secret masker, and blanked out of any text in each form it can take
there: as written, JSON-escaped (a service echoing a request body), ``repr``-escaped (a Python error
quoting a value), URL-encoded and HTML-escaped. Each form is also handed to Airflow's masker, so log
lines are cleaned the same way.

A service may echo a value in an encoding no list of forms foresees (every character as ``&#NN;``,
``%xx`` in lower case, ``\\uXXXX`` escapes, a JSON-escaped HTML-escaped value...). So :func:`redact`
also reads the text with up to :data:`DECODING_DEPTH` layers of HTML entities, URL encoding and JSON
escapes undone, in any order; where such a reading shows a secret, the characters of the text it was
read from are blanked out. The rest of the text stays as it was written.

Storage secrets inside operator input are found by :func:`mask_layer_secrets` (what the
rendered-template view shows), and a validated request's secrets are remembered in one pass by
:func:`remember_request_secrets`.

Light on purpose: only the standard library at import time.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from airflow_provider_rtk.storable import storable

if TYPE_CHECKING:
    from pydantic import JsonValue

MASK = "***"
#: Fields of ``storage_config`` that are secrets: write-only on the API, masked everywhere here.
SECRET_STORAGE_FIELDS: tuple[str, ...] = ("access_key", "secret", "password", "private_key")
#: ``"secret": "value"`` (or ``'secret': 'value'``, a rendered dict) inside text that is not JSON.
_SECRET_IN_TEXT = re.compile(
    r"""((["'])(?:access_key|secret|password|private_key)\2\s*:\s*(["']))((?:(?!\3)[^\\]|\\.)*)"""
)
#: Airflow's masker skips shorter values (``SecretsMasker.min_length_to_mask``): not worth handing.
_AIRFLOW_MIN_LENGTH = 5
#: A line of a multi-line secret (a private key) is masked on its own once it is this long.
_MIN_LINE = 8
#: How many layers of encoding :func:`redact` undoes (a JSON-escaped, URL-encoded, HTML-escaped value
#: is three).
DECODING_DEPTH = 3
#: How many readings may each blank secrets out of one text (each blanks at least one).
_MAX_READINGS = 64

_lock = threading.Lock()
_known: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first, so a form is replaced before a shorter one inside it
_known_plain: set[str] = set()
_plain_ordered: tuple[str, ...] = ()  # the secrets as written (and their long lines), longest first


def _plain(secret: str) -> set[str]:
    """``secret`` as written, and each long line of a multi-line one (a private key)."""
    lines = [line.strip() for line in secret.splitlines()]
    found = {secret, *(line for line in lines if len(line) >= _MIN_LINE)} if len(lines) > 1 else {secret}
    return {form for form in found if form}


def forms(secret: str) -> set[str]:
    """The ways ``secret`` commonly shows up in text: plain, JSON- (once or twice; ``\\/``, and
    ``\\u0026`` as Go writes ``&<>``), repr-, URL- (upper and lower case, ``+`` for a space) and
    HTML-escaped, and its long lines. Airflow's masker gets these; :func:`redact` reads any other
    encoding too."""
    if not secret:
        return set()
    escaped = json.dumps(secret)[1:-1]
    url = quote(secret, safe="")
    found = {
        secret,
        escaped,
        json.dumps(escaped)[1:-1],  # an echo of an echo: a JSON body quoted inside a JSON message
        json.dumps(secret, ensure_ascii=False)[1:-1],
        escaped.replace("/", "\\/"),
        escaped.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"),
        repr(secret)[1:-1],
        repr(escaped)[1:-1],
        url,
        re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), url),
        quote_plus(secret, safe=""),
        html.escape(secret, quote=True),
        html.escape(secret, quote=True).replace("&#x27;", "&#39;"),
        *_plain(secret),
    }
    return {form for form in found if form}


def remember(*secrets: object) -> None:
    """Treat each (non-empty, text) secret as known from now on: redacted here, masked in logs."""
    new: set[str] = set()
    plain: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str) and secret.strip() and secret not in _known_plain:
            new |= forms(secret)
            plain |= _plain(secret)
    pieces = set(plain)  # each handed to Airflow (a line of a key is, whichever secret came first)
    global _ordered, _plain_ordered
    with _lock:
        new -= _known
        plain -= _known_plain
        if not new and not plain:
            return
        _known.update(new)
        _ordered = tuple(sorted(_known, key=len, reverse=True))
        _known_plain.update(plain)
        _plain_ordered = tuple(sorted(_known_plain, key=len, reverse=True))
    _mask_in_logs(new, pieces)


class _HoldsSecrets(Protocol):
    def secret_values(self) -> list[str]: ...


def remember_request_secrets(request: _HoldsSecrets) -> None:
    """Remember every secret of a validated request (its storage credentials, also those read from
    connections), in every form: the one masking pass a request's secrets need."""
    remember(*request.secret_values())


def _uncovered(values: Iterable[str], plain: Iterable[str]) -> list[str]:
    """The forms Airflow's masker does not already hide once it holds the others: not those it skips
    (too short), nor a form made only of plain pieces (a multi-line secret's long lines) and the line
    breaks between them, however escaped."""
    pieces = sorted(plain, key=len, reverse=True)
    handed = []
    for value in values:
        if len(value) < _AIRFLOW_MIN_LENGTH:
            continue
        rest = value
        for piece in pieces:
            if piece != value:
                rest = rest.replace(piece, "")
        if rest != value and not re.sub(r"(\\+[nr])|\s", "", rest):
            continue
        handed.append(value)
    return sorted(handed)


def _mask_in_logs(values: Iterable[str], plain: Iterable[str]) -> None:
    """Hand Airflow's masker the forms it needs, in one call (one message to the supervisor)."""
    from airflow.providers.common.compat.sdk import mask_secret

    handed: list[JsonValue] = list(_uncovered(values, plain))
    if handed:
        mask_secret(handed)


def mask_layer_secrets(layers: Any) -> tuple[Any, list[str]]:
    """A copy of ``layers`` with every storage secret replaced by ``***``, and the secrets found.

    Works on anything a user may pass (dicts, JSON text, request model instances) without validating
    it, so that even invalid input never shows a secret in the rendered-template view. Masking goes at
    least as deep as decoding: JSON text is decoded wherever it appears (double-encoded layers too,
    which :func:`~airflow_provider_rtk.arguments.decode_layers` then rejects), and text that is not
    JSON has whatever looks like a secret field blanked.
    """
    found: list[str] = []

    def walk(value: Any, depth: int = 0) -> Any:
        if depth > 100:  # deeper than any request: validation rejects it; show nothing of it
            return MASK
        to_api_body = getattr(value, "to_api_body", None)  # a request model (a TrackLayer)
        if callable(to_api_body):
            value = to_api_body()
        if isinstance(value, Mapping):
            masked = {}
            for key, item in value.items():
                if key in SECRET_STORAGE_FIELDS and item not in (None, "", MASK):
                    found.append(item if isinstance(item, str) else json.dumps(item, default=str))
                    masked[key] = MASK
                else:
                    masked[key] = walk(item, depth + 1)
            return masked
        if isinstance(value, list | tuple):
            return [walk(item, depth + 1) for item in value]
        if isinstance(value, str):
            return mask_text(value, depth)
        return value

    def mask_text(text: str, depth: int) -> str:
        if text.lstrip()[:1] in ("{", "[", '"'):
            try:
                decoded = json.loads(text)
            except (ValueError, RecursionError):
                pass
            else:
                return json.dumps(walk(decoded, depth + 1))
        found.extend(match.group(4) for match in _SECRET_IN_TEXT.finditer(text) if match.group(4))
        return _SECRET_IN_TEXT.sub(lambda match: f"{match.group(1)}{MASK}", text)

    return walk(layers), found


def _json_unescaped(token: str) -> str:
    """One JSON escape (``\\uXXXX``, a surrogate pair, ``\\/``, ``\\"``...) undone."""
    value: str = json.loads(f'"{token}"')
    return storable(value)  # a lone surrogate (half a pair) becomes U+FFFD: the text stays encodable


class _Decoding(NamedTuple):
    """One layer of encoding: the tokens it writes, how one is undone, a character each holds."""

    token: re.Pattern[str]
    undo: Callable[[str], str]
    mark: str


#: One UTF-8 character, percent-encoded (upper or lower case hex); a lone byte last.
_PERCENT = (
    r"%[cdCD][0-9a-fA-F]%[89abAB][0-9a-fA-F]|%[eE][0-9a-fA-F](?:%[89abAB][0-9a-fA-F]){2}"
    r"|%[fF][0-7](?:%[89abAB][0-9a-fA-F]){3}|%[0-9a-fA-F]{2}"
)
#: What a service may have encoded a value with: HTML entities (named, decimal, hex; the tokens
#: ``html.unescape`` reads), percent-encoding (``+`` kept, or read as a space), JSON escapes.
_DECODINGS: tuple[_Decoding, ...] = (
    _Decoding(re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)"), html.unescape, "&"),
    _Decoding(re.compile(_PERCENT), lambda token: unquote(token, errors="replace"), "%"),
    _Decoding(re.compile(rf"\+|{_PERCENT}"), lambda token: unquote_plus(token, errors="replace"), "+"),
    _Decoding(
        re.compile(
            r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\[\"\\/bfnrt]"
        ),
        _json_unescaped,
        "\\",
    ),
)


def _read(text: str, decoding: _Decoding) -> str:
    """``text`` with one layer of ``decoding`` undone."""
    if decoding.mark not in text:
        return text
    return decoding.token.sub(lambda match: decoding.undo(match.group(0)), text)


def _read_mapped(text: str, decoding: _Decoding) -> tuple[str, list[int], list[int]]:
    """:func:`_read`, with where each character of the reading comes from in ``text`` (start, end)."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0
    for match in decoding.token.finditer(text):
        begin, end = match.span()
        parts.append(text[done:begin])
        starts.extend(range(done, begin))
        ends.extend(range(done + 1, begin + 1))
        undone = decoding.undo(match.group(0))
        parts.append(undone)
        starts.extend([begin] * len(undone))
        ends.extend([end] * len(undone))
        done = end
    parts.append(text[done:])
    starts.extend(range(done, len(text)))
    ends.extend(range(done + 1, len(text) + 1))
    return "".join(parts), starts, ends


def _revealing_path(text: str, plain: Sequence[str]) -> list[_Decoding] | None:
    """The layers whose undoing (up to :data:`DECODING_DEPTH`, in any order) shows a secret in
    ``text``; ``None`` when no reading does."""
    explored: dict[str, int] = {}  # reading -> how many more layers were searched below it, in vain

    def search(current: str, depth: int, path: list[_Decoding]) -> list[_Decoding] | None:
        for decoding in _DECODINGS:
            reading = _read(current, decoding)
            if reading == current or explored.get(reading, -1) >= depth - 1:
                continue
            if any(secret in reading for secret in plain):
                return [*path, decoding]
            found = search(reading, depth - 1, [*path, decoding]) if depth > 1 else None
            if found is not None:
                return found
            explored[reading] = depth - 1
        return None

    return search(text, DECODING_DEPTH, [])


def _spans(text: str, path: Sequence[_Decoding], plain: Sequence[str]) -> list[tuple[int, int]]:
    """Where in ``text`` the secrets that the reading along ``path`` shows were written."""
    reading, maps = text, []
    for decoding in path:
        reading, starts, ends = _read_mapped(reading, decoding)
        maps.append((starts, ends))
    spans = []
    for secret in plain:
        at = reading.find(secret)
        while at != -1:
            begin, end = at, at + len(secret)
            for starts, ends in reversed(maps):
                begin, end = starts[begin], ends[end - 1]
            spans.append((begin, end))
            at = reading.find(secret, at + 1)
    return spans


def _masked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with each of ``spans`` (overlapping ones merged) replaced by ``***``."""
    parts: list[str] = []
    done = 0
    for begin, end in sorted(spans):
        if begin < done:  # overlaps the one before: extend it
            done = max(done, end)
            continue
        parts.extend((text[done:begin], MASK))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _blank(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _sorted(secrets: Iterable[str], more: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({*secrets, *more}, key=len, reverse=True))


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and each of ``extra``) replaced by ``***``, in every form and
    every encoding a service may echo it in (see the module's docstring); the rest as written."""
    secrets, plain = _ordered, _plain_ordered
    extra = [secret for secret in extra if secret]
    if extra:
        secrets = _sorted(secrets, (form for secret in extra for form in forms(secret)))
        plain = _sorted(plain, (form for secret in extra for form in _plain(secret)))
    if not secrets:
        return text
    text = _blank(text, secrets)
    for _ in range(_MAX_READINGS):
        path = _revealing_path(text, plain)
        if path is None:
            return text
        text = _blank(_masked(text, _spans(text, path, plain)), secrets)
    return MASK  # secrets in more encodings than can be undone one by one: show nothing of it


def holds_secret(text: str) -> bool:
    """Whether ``text`` still shows a known secret (in any of its forms or encodings)."""
    return redact(text) != text
