"""Storage credentials from Airflow connections: each connection kind, overrides, missing ones, and
connections not marked for recordings."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from airflow_provider_rtk.exceptions import RealtimeKitPayloadError
from airflow_provider_rtk.models import build_track_request
from airflow_provider_rtk.storage import resolve_storage_connections, storage_config_from_connection

MARK = {"realtimekit_storage": True}


def connection(conn_id: str, conn_type: str, extra: dict | None = None, **fields) -> Connection:
    """A connection marked for recordings (``extra`` may unmark it)."""
    return Connection(
        conn_id=conn_id, conn_type=conn_type, extra=json.dumps({**MARK, **(extra or {})}), **fields
    )


CONNECTIONS = {
    "s3": connection(
        "s3", "aws", {"region_name": "eu-west-1", "bucket": "rec-bucket"}, login="AK", password="SK"
    ),
    "sftp_pw": connection("sftp_pw", "sftp", host="sftp.test", login="rec", password="PW"),
    "sftp_key": connection(
        "sftp_key", "ssh", {"private_key": "PRIVATE"}, host="h.test", port=2222, login="rec"
    ),
    "gcs": connection(
        "gcs", "google_cloud_platform", {"type": "gcs", "bucket": "b", "path": "p/"}, password="KEY"
    ),
}


def get(conn_id: str) -> Connection:
    if conn_id not in CONNECTIONS:
        raise LookupError(conn_id)
    return CONNECTIONS[conn_id]


@pytest.mark.parametrize(
    ("conn_id", "expected"),
    [
        (
            "s3",
            {
                "type": "aws",
                "access_key": "AK",
                "secret": "SK",
                "region": "eu-west-1",
                "bucket": "rec-bucket",
            },
        ),
        (
            "sftp_pw",
            {
                "type": "sftp",
                "host": "sftp.test",
                "port": 22,
                "username": "rec",
                "auth_method": "PASSWORD",
                "password": "PW",
            },
        ),
        (
            "sftp_key",
            {
                "type": "sftp",
                "host": "h.test",
                "port": 2222,
                "username": "rec",
                "auth_method": "KEY",
                "private_key": "PRIVATE",
            },
        ),
        ("gcs", {"type": "gcs", "secret": "KEY", "bucket": "b", "path": "p/"}),
    ],
)
def test_each_kind_of_connection(conn_id: str, expected: dict) -> None:
    assert storage_config_from_connection(get(conn_id)) == expected


def test_overrides_add_paths_and_what_the_connection_lacks() -> None:
    assert storage_config_from_connection(get("s3"), {"path": "standup/"})["path"] == "standup/"
    assert storage_config_from_connection(get("sftp_pw"), {"path": "rec/"})["path"] == "rec/"
    no_bucket = connection("s3_bare", "aws", {}, login="AK", password="SK")
    assert storage_config_from_connection(no_bucket, {"bucket": "mine"})["bucket"] == "mine"
    # the same value as the connection's is no conflict
    assert (
        storage_config_from_connection(get("sftp_key"), {"host": "h.test", "port": 2222})["host"] == "h.test"
    )


def test_outputs_naming_connections_become_valid_storage_configs() -> None:
    layers = {
        "default": {
            "file_name_prefix": "x",
            "outputs": [
                {"type": "REALTIMEKIT_BUCKET"},
                {"storage_conn_id": "sftp_key", "storage_config": {"path": "r/"}},
            ],
        }
    }

    resolved = resolve_storage_connections(layers, get)

    assert resolved["default"]["outputs"][0] == {"type": "REALTIMEKIT_BUCKET"}
    assert resolved["default"]["outputs"][1]["type"] == "STORAGE_CONFIG"
    assert resolved["default"]["outputs"][1]["storage_config"]["path"] == "r/"
    assert layers["default"]["outputs"][1]["storage_conn_id"] == "sftp_key", "the input is left as it was"
    request = build_track_request("m1", resolved, max_seconds=60)
    assert request.secret_values() == ["PRIVATE"]


@pytest.mark.parametrize("conn_id", ["missing", "", 7])
def test_a_missing_connection_is_named_by_its_path(conn_id) -> None:
    layers = {"main": {"outputs": [{"type": "REALTIMEKIT_BUCKET"}, {"storage_conn_id": conn_id}]}}
    with pytest.raises(RealtimeKitPayloadError) as error:
        resolve_storage_connections(layers, get)
    assert error.value.paths == ["layers.main.outputs[1].storage_conn_id"]


def test_layers_without_connections_are_returned_as_they_are() -> None:
    layers = {"default": {"media_kind": "audio"}}
    assert resolve_storage_connections(layers, get) is layers
    assert resolve_storage_connections("not a mapping", get) == "not a mapping"


# --------------------------------------------------------------------------------------------------
# Issue 18: credentials go only where their owner meant


def _resolve_error(conn: Connection, **overrides) -> RealtimeKitPayloadError:
    output = {"type": "STORAGE_CONFIG", "storage_conn_id": conn.conn_id}
    if overrides:
        output["storage_config"] = overrides
    with pytest.raises(RealtimeKitPayloadError) as error:
        resolve_storage_connections({"default": {"outputs": [output]}}, lambda conn_id: conn)
    return error.value


@pytest.mark.parametrize("conn_id", ["s3", "sftp_pw", "sftp_key", "gcs"])
@pytest.mark.parametrize(
    "mark", [None, False, "false", "yes", 1, "", {"enabled": True}], ids=lambda mark: f"mark={mark!r}"
)
def test_a_connection_not_marked_for_recordings_is_refused(conn_id, mark) -> None:
    marked = CONNECTIONS[conn_id]
    extra = {key: value for key, value in marked.extra_dejson.items() if key != "realtimekit_storage"}
    if mark is not None:
        extra["realtimekit_storage"] = mark
    conn = Connection(
        conn_id=conn_id,
        conn_type=marked.conn_type,
        host=marked.host,
        port=marked.port,
        login=marked.login,
        password=marked.password,
        extra=json.dumps(extra),
    )

    error = _resolve_error(conn, path="rec/")

    assert error.paths == ["layers.default.outputs[0].storage_conn_id"]
    assert str(error) == (
        "Invalid track recording request: layers.default.outputs[0].storage_conn_id: connection "
        f"{conn_id!r} is not marked for RealtimeKit recordings (set extra realtimekit_storage=true on "
        "the connections whose credentials may be sent as a destination)"
    )
    with pytest.raises(RealtimeKitPayloadError, match="realtimekit_storage=true"):
        storage_config_from_connection(conn)


@pytest.mark.parametrize("mark", [True, "true", " True "])
def test_the_mark_may_be_a_boolean_or_the_text_a_connection_uri_gives(mark) -> None:
    conn = connection(
        "sftp_uri", "sftp", {"realtimekit_storage": mark}, host="h.test", login="u", password="P"
    )
    assert storage_config_from_connection(conn)["password"] == "P"


def test_a_connection_uri_with_the_mark_is_marked() -> None:
    uri = "sftp://rec:PW@sftp.test:2222/?realtimekit_storage=true"
    if hasattr(Connection, "from_uri"):
        conn = Connection.from_uri(uri, conn_id="uri")
    else:  # Airflow 3.0's task SDK connection reads no URI: its core model does, as a connection URI
        from airflow.models.connection import Connection as CoreConnection

        conn = CoreConnection(conn_id="uri", uri=uri)
    assert storage_config_from_connection(conn)["host"] == "sftp.test"


@pytest.mark.parametrize("field", ["host", "port"])
def test_host_and_port_are_the_connections_for_every_storage_type(field) -> None:
    """An AWS or generic connection holding no host: the output may not add one (the credentials
    would go to a host of the layers' choosing)."""
    value = "evil.example" if field == "host" else 2222
    for conn in (CONNECTIONS["s3"], CONNECTIONS["gcs"]):
        error = _resolve_error(conn, **{field: value})
        assert error.paths == [f"layers.default.outputs[0].storage_config.{field}"]
        assert f"must name the {field}" in str(error)
