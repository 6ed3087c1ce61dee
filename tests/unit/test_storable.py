"""Text every database stores: lone surrogates become U+FFFD, everything else is kept."""

from __future__ import annotations

import json

from airflow_provider_rtk.storable import storable, storable_json


def test_only_lone_surrogates_change():
    assert storable(None) is None
    assert storable("plain") == "plain"
    assert storable("stand-up \U0001f600") == "stand-up \U0001f600"  # a whole emoji is kept
    assert storable(json.loads('"cut \\ud83d"')) == "cut \ufffd"
    assert storable(json.loads('"\\ude00 and \\ud83d"')) == "\ufffd and \ufffd"


def test_every_text_of_decoded_json_is_storable_keys_too():
    decoded = json.loads('{"a\\ud83d": ["x\\udc00", 1, 2.5, true, null, {"k": "\\ud83d\\ude00"}]}')
    cleaned = storable_json(decoded)
    assert cleaned == {"a\ufffd": ["x\ufffd", 1, 2.5, True, None, {"k": "\U0001f600"}]}
    json.dumps(cleaned, ensure_ascii=False).encode()  # no UnicodeEncodeError
