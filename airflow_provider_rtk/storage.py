"""Storage credentials from Airflow connections, so no DAG, form or template ever holds them.

An output of a legacy-generation layer may name a connection instead of inline keys::

    {"type": "STORAGE_CONFIG", "storage_conn_id": "recordings_s3", "storage_config": {"path": "standup/"}}

At execute time :func:`resolve_storage_connections` fills ``storage_config`` from the connection:

- AWS (``aws``): login = access key, password = secret, extra ``region_name``/``region``,
  ``bucket``/``bucket_name`` (or ``bucket`` in the output's own ``storage_config``).
- SFTP/SSH (``sftp``, ``ssh``): host, port (22), login = username, password; extra ``private_key``
  (then ``auth_method`` KEY, with the password as the key's passphrase), else PASSWORD.
- Anything else: extra ``type`` (``azure``, ``digitalocean``, ``gcs``, ``aws``, ``sftp``), login =
  access key, password = secret, host, extra ``bucket``, ``region``, ``path``.

Non-secret fields written in the output's ``storage_config`` (``path``, ``bucket``…) win over the
connection's; secrets come only from the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError
from airflow_provider_rtk.models import SECRET_STORAGE_FIELDS, StorageType

if TYPE_CHECKING:
    from airflow.sdk import Connection

STORAGE_CONN_KEY = "storage_conn_id"
_SFTP_TYPES = ("sftp", "ssh")


def _aws_config(conn: Connection, extra: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": StorageType.AWS.value,
        "access_key": conn.login,
        "secret": conn.password,
        "region": extra.get("region_name") or extra.get("region"),
        "bucket": extra.get("bucket") or extra.get("bucket_name"),
        "path": extra.get("path"),
    }


def _sftp_config(conn: Connection, extra: Mapping[str, Any]) -> dict[str, Any]:
    private_key = extra.get("private_key")
    return {
        "type": StorageType.SFTP.value,
        "host": conn.host,
        "port": conn.port or 22,
        "username": conn.login,
        "auth_method": "KEY" if private_key else "PASSWORD",
        "private_key": private_key,
        "password": conn.password,
        "path": extra.get("path"),
    }


def _generic_config(conn: Connection, extra: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": extra.get("type") or conn.conn_type,
        "access_key": conn.login,
        "secret": conn.password,
        "host": conn.host,
        "bucket": extra.get("bucket"),
        "region": extra.get("region"),
        "path": extra.get("path"),
    }


def storage_config_from_connection(
    conn: Connection, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``storage_config`` dict from an Airflow connection, with the output's non-secret overrides."""
    extra = conn.extra_dejson
    if conn.conn_type == "aws":
        config = _aws_config(conn, extra)
    elif conn.conn_type in _SFTP_TYPES:
        config = _sftp_config(conn, extra)
    else:
        config = _generic_config(conn, extra)
    for key, value in (overrides or {}).items():
        if key not in SECRET_STORAGE_FIELDS:
            config[key] = value
    return {key: value for key, value in config.items() if value not in (None, "")}


def _outputs(layers: Any) -> list[tuple[str, int, dict[str, Any]]]:
    """(layer name, index, output) for every output that is a plain mapping."""
    found = []
    if isinstance(layers, Mapping):
        for name, layer in layers.items():
            outputs = layer.get("outputs") if isinstance(layer, Mapping) else None
            for index, output in enumerate(outputs if isinstance(outputs, list) else []):
                if isinstance(output, dict):
                    found.append((str(name), index, output))
    return found


def resolve_storage_connections(
    layers: Any, get_connection: Callable[[str], Connection] | None = None
) -> Any:
    """``layers`` with every ``storage_conn_id`` replaced by the ``storage_config`` it stands for.

    Raises :class:`RealtimeKitPayloadError` naming ``layers.<name>.outputs[<i>].storage_conn_id`` when
    a connection is missing. Input that is not a mapping is returned as is (validation reports it).
    """
    pending = [item for item in _outputs(layers) if STORAGE_CONN_KEY in item[2]]
    if not pending:
        return layers
    if get_connection is None:
        from airflow.providers.common.compat.sdk import BaseHook

        get_connection = BaseHook.get_connection
    resolved = {name: dict(layer) for name, layer in layers.items()}
    errors = []
    for name, index, output in pending:
        path = f"layers.{name}.outputs[{index}].{STORAGE_CONN_KEY}"
        conn_id = output[STORAGE_CONN_KEY]
        if not isinstance(conn_id, str) or not conn_id.strip():
            errors.append(FieldError(path, "must be the id of an Airflow connection"))
            continue
        try:
            conn = get_connection(conn_id.strip())
        except Exception:
            errors.append(FieldError(path, f"Airflow connection {conn_id!r} was not found"))
            continue
        config = storage_config_from_connection(conn, output.get("storage_config"))
        outputs = resolved[name]["outputs"] = list(resolved[name]["outputs"])
        outputs[index] = {
            **{key: value for key, value in output.items() if key != STORAGE_CONN_KEY},
            "type": output.get("type", "STORAGE_CONFIG"),
            "storage_config": config,
        }
    if errors:
        raise RealtimeKitPayloadError(errors)
    return resolved
