"""Masking follows decoding, and one redaction covers every form a secret takes in text.

``mask_layer_secrets`` must hide every storage secret that validation could see, however many times
the layers were JSON-encoded; ``redaction`` must blank a remembered secret written plain, JSON- or
repr-escaped, HTML- or URL-encoded (or several of them at once, as a server may echo it), and hand
those forms to Airflow's masker for log lines.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_rtk import redaction
from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.models import decode_layers
from airflow_provider_rtk.operators.recording import (
    RealtimeKitStartTrackRecordingOperator,
    mask_layer_secrets,
)
from tests.echo_encodings import AWKWARD_TAIL, ENCODINGS, shows
from tests.known_secrets import forgotten_afterwards


def fresh(name: str = "S") -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}"


def layers_holding(**secrets: Any) -> dict[str, Any]:
    config = {"type": "aws", "bucket": "b", **secrets}
    return {"default": {"outputs": [{"type": "STORAGE_CONFIG", "storage_config": config}]}}


def encoded(value: Any, times: int) -> Any:
    for _ in range(times):
        value = json.dumps(value)
    return value


@pytest.mark.parametrize("times", [0, 1, 2, 3])
def test_secrets_masked_however_often_the_layers_were_encoded(times):
    key, secret = fresh("AK"), fresh("SK")
    masked, found = mask_layer_secrets(encoded(layers_holding(access_key=key, secret=secret), times))
    text = json.dumps(masked)
    assert key not in text
    assert secret not in text
    assert sorted(found) == sorted([key, secret])
    assert "***" in text


def test_double_encoded_layers_are_rejected_where_they_are_decoded():
    text = encoded(layers_holding(secret=fresh()), 2)
    with pytest.raises(RealtimeKitPayloadError) as info:
        decode_layers(text)
    assert info.value.paths == ["layers"]
    assert "encoded twice" in str(info.value)


def test_json_text_nested_inside_a_layer_is_masked_too():
    secret = fresh()
    output = {"type": "STORAGE_CONFIG", "storage_config": json.dumps({"secret": secret})}
    layers = {"default": {"outputs": [output]}}
    masked, found = mask_layer_secrets(layers)
    assert secret not in json.dumps(masked)
    assert found == [secret]


@pytest.mark.parametrize("value", [12345, 1.5, ["a", "b"], {"k": "v"}, True])
def test_secret_fields_that_are_not_text_are_masked(value):
    masked, found = mask_layer_secrets(layers_holding(secret=value))
    assert masked["default"]["outputs"][0]["storage_config"]["secret"] == "***"
    assert found == [json.dumps(value)]


def test_rendered_double_encoded_layers_show_no_secret_and_execute_refuses_them():
    secret = fresh()
    operator = RealtimeKitStartTrackRecordingOperator(
        task_id="t", meeting_id="m1", layers=encoded(layers_holding(secret=secret), 2)
    )
    operator.render_template_fields(context={})  # type: ignore[arg-type]
    assert secret not in json.dumps(operator.layers)
    with pytest.raises(RealtimeKitPayloadError) as info:
        operator.build_request()
    assert info.value.paths == ["layers"]
    assert secret not in str(info.value)


secret_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=6, max_size=30
).map(lambda text: f"{uuid.uuid4().hex[:8]}{text}")


@settings(max_examples=60, deadline=None)
@given(secret=secret_text, times=st.integers(min_value=0, max_value=3))
def test_any_secret_text_is_masked_at_any_encoding_depth(secret, times):
    masked, found = mask_layer_secrets(encoded(layers_holding(password=secret), times))
    shown = json.dumps(masked)
    for form in redaction.forms(secret):
        assert form not in shown
    assert found == [secret]


# --------------------------------------------------------------------------------------------------
# redaction


def test_every_form_of_a_remembered_secret_is_redacted():
    secret = f'{fresh()}"q\\b\nn\x01c-é'
    redaction.remember(secret)
    escaped = json.dumps(secret)[1:-1]
    for text in (
        f"plain {secret} end",
        f"json {escaped} end",
        f"json twice {json.dumps(escaped)[1:-1]} end",
        f"repr {secret!r} end",
        f"non-ascii json {json.dumps(secret, ensure_ascii=False)} end",
        f"url ?key={quote(secret, safe='')}",
    ):
        assert not redaction.holds_secret(redaction.redact(text))
        for form in redaction.forms(secret):
            assert form not in redaction.redact(text)


def test_redact_takes_extra_secrets_it_does_not_remember():
    once = fresh("ONCE")
    assert redaction.redact(f"a {once} b", [once]) == "a *** b"
    assert redaction.redact(f"a {once} b") == f"a {once} b"


def test_a_private_key_is_redacted_line_by_line():
    lines = [fresh("LINE-ONE"), fresh("LINE-TWO")]
    key = "-----BEGIN KEY-----\n" + "\n".join(lines) + "\n-----END KEY-----"
    redaction.remember(key)
    assert redaction.redact(f"echo: {lines[1]}") == "echo: ***"


def test_remembered_forms_reach_airflows_masker():
    """What Airflow's masker does to a log line: the JSON-escaped form is masked too."""
    try:  # Airflow 3.2+
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact
    except ImportError:  # Airflow 3.0/3.1
        from airflow.sdk.execution_time.secrets_masker import redact as airflow_redact
    secret = f'{fresh()}"quoted'
    redaction.remember(secret)
    line = str(airflow_redact(f"body {json.dumps({'secret': secret})}"))
    assert json.dumps(secret)[1:-1] not in line
    assert "***" in line


def test_empty_and_non_text_secrets_are_ignored():
    redaction.remember("", "   ", None, 5)
    assert redaction.redact("nothing *** here") == "nothing *** here"


# --------------------------------------------------------------------------------------------------
# Issue 18: every encoding a server may echo a secret in


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_a_remembered_secret_is_redacted_in_every_encoding_a_server_may_echo(encoding):
    secret = fresh("ECHOED") + AWKWARD_TAIL
    redaction.remember(secret)
    echoed = ENCODINGS[encoding](secret)
    assert shows(echoed, secret), "the oracle must see the secret in the echo"

    for text in (f"bad password {echoed}", f'{{"body": "{echoed}", "next": "x&amp;y"}}', echoed):
        redacted = redaction.redact(text)
        assert not shows(redacted, secret), redacted
        assert "***" in redacted


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_an_extra_secret_is_redacted_in_every_encoding(encoding):
    secret = fresh("EXTRA") + AWKWARD_TAIL
    redacted = redaction.redact(f"echo: {ENCODINGS[encoding](secret)} (done)", [secret])
    assert not shows(redacted, secret), redacted
    assert redacted.endswith("(done)")


def test_several_secrets_in_several_encodings_in_one_text():
    secrets = [fresh(f"MANY{n}") + AWKWARD_TAIL for n in range(3)]
    redaction.remember(*secrets)
    encodings = list(ENCODINGS.values())
    text = " | ".join(
        encode(secret) for secret in secrets for encode in encodings[secrets.index(secret) :: 3]
    )
    redacted = redaction.redact(text)
    assert [secret for secret in secrets if shows(redacted, secret)] == []


def test_text_without_a_secret_is_left_as_the_server_wrote_it():
    redaction.remember(fresh("UNSEEN") + AWKWARD_TAIL)
    text = "bad value &amp; %2F \\u0026 a+b &#39;quoted&#39; \\/path"
    assert redaction.redact(text) == text


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_only_the_secret_is_blanked_and_the_rest_stays_as_written(encoding):
    secret = fresh("AMID") + AWKWARD_TAIL
    redaction.remember(secret)
    before, after = "bad &amp; value %2F &#39;x&#39; \\u0026 a+b: ", " (see \\/docs?a=1&amp;b=%20)"
    assert redaction.redact(before + ENCODINGS[encoding](secret) + after) == f"{before}***{after}"


#: The encodings of one layer each: chains of up to three of them are what redaction undoes.
ONE_LAYER = [
    "html-named",
    "html-decimal",
    "html-hex-upper",
    "url-lower",
    "url-plus",
    "json-go",
    "json-every-char",
]


@settings(max_examples=60, deadline=None)
@given(
    secret=secret_text,
    chain=st.lists(st.sampled_from(ONE_LAYER), min_size=1, max_size=3),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_any_secret_under_any_three_layers_of_encoding_is_redacted(secret, chain, before, after):
    # each example's secret forgotten after it, as each test's is (else the examples' remembers cost
    # ever more: Airflow's masker recompiles all it holds at each new secret)
    with forgotten_afterwards():
        redaction.remember(secret)
        echoed = secret
        for name in chain:
            echoed = ENCODINGS[name](echoed)
        redacted = redaction.redact(f"{before}{echoed}{after}")
    assert secret not in redacted
    assert not shows(redacted, secret)


def test_remembering_hands_airflow_only_what_its_masker_does_not_cover_in_one_call(monkeypatch):
    """Airflow's masker recompiles its pattern for each new value: it gets one call per remembered
    secret, without the forms it skips (too short) or already hides (a key's lines and line breaks)."""
    from airflow.providers.common.compat import sdk

    calls: list[Any] = []
    monkeypatch.setattr(sdk, "mask_secret", lambda value, name=None: calls.append(value))
    lines = [fresh("LINE") for _ in range(3)]
    key = "\n".join(["-----BEGIN KEY-----", *lines, "-----END KEY-----"])
    redaction.remember(key)
    assert len(calls) == 1
    handed = calls[0]
    assert set(lines) <= set(handed)
    assert key not in handed
    assert json.dumps(key)[1:-1] not in handed
    assert all(len(form) >= 5 for form in handed)
    assert redaction.redact(f"echo: {json.dumps(key)}") == 'echo: "***"'


def test_a_validated_request_s_secrets_are_remembered_in_one_pass():
    from airflow_provider_rtk.models import build_track_request

    secret = fresh()
    request = build_track_request("m1", layers_holding(access_key=fresh("A"), secret=secret))
    redaction.remember_request_secrets(request)
    assert not redaction.holds_secret("no secret")
    assert redaction.holds_secret(f"x {quote(secret)} y")


def test_layers_rendered_as_a_mapped_task_renders_them_show_no_secret():
    """A mapped task's unmapped operator is rendered through the templater directly (not through
    ``render_template_fields``): the rendered JSON text is masked there too, the request keeps it."""
    secret = fresh()
    operator = RealtimeKitStartTrackRecordingOperator(
        task_id="t", meeting_id="m1", layers=encoded(layers_holding(secret=secret), 1)
    )
    operator._do_render_template_fields(  # what MappedOperator.render_template_fields calls
        operator, operator.template_fields, {}, operator.get_template_env(), set()
    )
    assert secret not in json.dumps(operator.layers)
    assert secret in json.dumps(operator.build_request().to_api_body())
