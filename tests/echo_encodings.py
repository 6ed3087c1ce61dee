"""How a server may encode what it echoes (HTML entities, URL encoding, JSON escapes, and their
combinations), and the views that undo them: the tests' own oracle for "does this text show a
secret", independent of the provider's redaction."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

Encoding = Callable[[str], str]


def _each_char(value: str, encode: Callable[[str], str]) -> str:
    """``value`` with every character but letters and digits encoded by ``encode``."""
    return "".join(char if char.isascii() and char.isalnum() else encode(char) for char in value)


def _every_char(value: str, encode: Callable[[str], str]) -> str:
    """``value`` with every character encoded by ``encode``, letters and digits too."""
    return "".join(encode(char) for char in value)


#: HTML5 named entities (``html.escape`` writes only the first five of them, ``'`` as ``&#x27;``)
_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "/": "&sol;", "+": "&plus;"}
_NAMED |= {"=": "&equals;", "%": "&percnt;", "é": "&eacute;", "€": "&euro;", "\\": "&bsol;"}


def _utf16_escapes(char: str) -> str:
    """``char`` as JSON ``\\uXXXX`` escapes (a surrogate pair above the BMP)."""
    units = char.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2))


def _json_go(value: str) -> str:
    """JSON as Go's encoder writes it: ``&``, ``<``, ``>`` as ``\\u0026``-style escapes."""
    text = json.dumps(value)[1:-1]
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _lower_percent(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


#: name -> how a server writes a value it echoes
ENCODINGS: dict[str, Encoding] = {
    "html-named": lambda v: html.escape(v, quote=True),
    "html-named-html5": lambda v: "".join(_NAMED.get(char, char) for char in v),
    "html-decimal": lambda v: _each_char(v, lambda c: f"&#{ord(c)};"),
    "html-hex-lower": lambda v: _each_char(v, lambda c: f"&#x{ord(c):x};"),
    "html-hex-upper": lambda v: _each_char(v, lambda c: f"&#X{ord(c):X};"),
    "html-every-char": lambda v: _every_char(v, lambda c: f"&#{ord(c)};"),
    "url-upper": lambda v: quote(v, safe=""),
    "url-lower": lambda v: _lower_percent(quote(v, safe="")),
    "url-plus": lambda v: quote_plus(v, safe=""),
    "url-every-byte": lambda v: "".join(f"%{byte:02x}" for byte in v.encode()),
    "json-ascii": lambda v: json.dumps(v)[1:-1],
    "json-slash": lambda v: json.dumps(v)[1:-1].replace("/", "\\/"),
    "json-go": _json_go,
    "json-every-char": lambda v: _every_char(v, _utf16_escapes),
    "json-of-html": lambda v: _json_go(html.escape(v, quote=True)),
    "html-of-json": lambda v: html.escape(json.dumps(v)[1:-1], quote=True),
    "url-of-json": lambda v: quote(json.dumps(v)[1:-1], safe=""),
    "html-of-url": lambda v: _each_char(quote_plus(v), lambda c: f"&#{ord(c)};"),
    "json-of-url-of-html": lambda v: _json_go(quote(html.escape(v), safe="&;")),
}

#: A secret holding what each encoding changes: a space, quotes, ``&<>+/%=\\``, non-ASCII.
AWKWARD_TAIL = " &<>\"'+/%=\\é€😀"

_JSON_ESCAPE = re.compile(r"(?:\\u[0-9a-fA-F]{4})+|\\[\"\\/bfnrt]")


def _json_unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        try:
            value: str = json.loads(f'"{match.group(0)}"')
        except ValueError:
            return match.group(0)
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    return _JSON_ESCAPE.sub(one, text)


_DECODERS: tuple[Callable[[str], str], ...] = (html.unescape, unquote, unquote_plus, _json_unescape)


def decoded_views(text: str, depth: int = 3) -> set[str]:
    """``text`` and what it reads as once up to ``depth`` layers of encoding are undone."""
    views = {text}
    for _ in range(depth):
        views |= {decode(view) for view in views for decode in _DECODERS}
    return views


def shows(text: str, secret: str) -> bool:
    """Whether ``text`` shows ``secret`` in any encoding above (or as written)."""
    return any(secret in view for view in decoded_views(text))
