"""Text every metadata database stores: lone surrogates made U+FFFD.

JSON allows a lone surrogate escape (``"\\ud83d"``: a client that cut a string mid-emoji sends one),
and Python's ``json.loads`` turns it into a ``str`` that cannot be encoded to UTF-8. Such text crashes
whatever encodes it later (a pydantic JSON dump, the triggerer's msgpack channel, an XCom, an asset
event in PostgreSQL's JSON column), far from where it came in. The provider makes it storable where
it comes in: the hook's JSON decoding (every API answer) and a live-session event (a pushed title).
"""

from __future__ import annotations

from typing import Any, overload


@overload
def storable(text: str) -> str: ...
@overload
def storable(text: None) -> None: ...
def storable(text: str | None) -> str | None:
    """``text`` with each lone surrogate (a code point that is no character) replaced by U+FFFD."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def storable_json(value: Any) -> Any:
    """Decoded JSON with every text (values and keys, at any depth) :func:`storable`; numbers, booleans
    and ``None`` as they are. Call it on a value whose depth is bounded (it recurses)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value
