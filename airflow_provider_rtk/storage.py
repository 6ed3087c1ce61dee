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

A connection's credentials go only where its owner meant them to go:

- Only a connection marked for recordings is used: its extra holds ``"realtimekit_storage": true``
  (or the text ``"true"``, as a connection URI writes it). Any other connection is a field error
  naming ``layers.<name>.outputs[<i>].storage_conn_id`` and the extra, raised before the connection's
  credentials are read and before any request: whoever may write layers (a DAG, a form, a template)
  can name a connection id, but only an administrator can mark a connection.
- Only to the connection's destination. The destination fields the connection holds (``type``,
  ``host``, ``port``, ``bucket``, ``region``, ``username``, ``auth_method``; the host and port
  always, held or not) come from it: an inline ``storage_config`` may add the others (``path``, or a
  ``bucket`` the connection lacks), and one that sets a destination field to another value, or any
  secret, is a field error (``layers.default.outputs[0].storage_config.host``). The connection's type
  must fit the storage type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_rtk.exceptions import FieldError, RealtimeKitPayloadError
from airflow_provider_rtk.models import SECRET_STORAGE_FIELDS, StorageType

if TYPE_CHECKING:
    from airflow.sdk import Connection

STORAGE_CONN_KEY = "storage_conn_id"
#: The connection extra that marks a connection's credentials as meant for RealtimeKit recordings.
STORAGE_MARK = "realtimekit_storage"
_SFTP_TYPES = ("sftp", "ssh")
#: Fields that say where the files (and so the connection's credentials) go, or how they log in.
DESTINATION_FIELDS: tuple[str, ...] = ("type", "host", "port", "bucket", "region", "username", "auth_method")
#: Where the files go on the network: always the connection's, whether it names them or not.
_ALWAYS_OWNED = frozenset({"host", "port"})
_STORAGE_TYPES = tuple(kind.value for kind in StorageType)


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


def _extra(conn: Connection) -> Mapping[str, Any]:
    extra = conn.extra_dejson
    return extra if isinstance(extra, Mapping) else {}


def is_marked_for_recordings(conn: Connection) -> bool:
    """Whether ``conn``'s extra marks it as meant for recordings (``realtimekit_storage`` is true)."""
    mark = _extra(conn).get(STORAGE_MARK)
    return mark is True or (isinstance(mark, str) and mark.strip().lower() == "true")


def _mark_problem(conn: Connection) -> str | None:
    if is_marked_for_recordings(conn):
        return None
    return (
        f"connection {conn.conn_id!r} is not marked for RealtimeKit recordings (set extra "
        f"{STORAGE_MARK}=true on the connections whose credentials may be sent as a destination)"
    )


def _from_connection(conn: Connection) -> dict[str, Any]:
    extra = _extra(conn)
    if conn.conn_type == "aws":
        config = _aws_config(conn, extra)
    elif conn.conn_type in _SFTP_TYPES or extra.get("type") == StorageType.SFTP.value:
        config = _sftp_config(conn, extra)
    else:
        config = _generic_config(conn, extra)
    return {key: value for key, value in config.items() if value not in (None, "")}


def _merge(
    conn: Connection, config: dict[str, Any], overrides: Mapping[str, Any], path: str
) -> list[FieldError]:
    """Add the output's own fields to ``config`` (in place); the errors for what it may not set."""
    errors = []
    where = f"connection {conn.conn_id!r}"
    owned = {key for key in DESTINATION_FIELDS if key in config} | _ALWAYS_OWNED
    for key, value in overrides.items():
        field = f"{path}.{key}"
        if key in SECRET_STORAGE_FIELDS:
            errors.append(
                FieldError(field, f"is a secret: with {STORAGE_CONN_KEY} it comes from {where} only")
            )
        elif key in owned and value != config.get(key):
            if key == "type":
                message = f"is {value!r}, but {where} is {config['type']!r} storage"
            elif key not in config:
                message = f"cannot be set here: {where} must name the {key} its credentials go to"
            else:
                message = f"conflicts with {where}: the destination of its credentials comes from it"
            errors.append(FieldError(field, message))
        else:
            config[key] = value
    return errors


def _type_problem(conn: Connection, config: Mapping[str, Any]) -> str | None:
    kind = config.get("type")
    if kind in _STORAGE_TYPES:
        return None
    return (
        f"Airflow connection {conn.conn_id!r} (type {conn.conn_type!r}) holds no storage credentials "
        f"this API takes: use an aws, sftp or ssh connection, or set its extra.type to one of "
        f"{', '.join(_STORAGE_TYPES)}"
    )


def _checked_config(
    conn: Connection, overrides: Mapping[str, Any], path: str, type_field: str
) -> tuple[dict[str, Any], list[FieldError]]:
    """The connection's ``storage_config`` with the allowed ``overrides``, and what is wrong with it.

    An unmarked connection is refused before its credentials are read (the config is then empty)."""
    mark_problem = _mark_problem(conn)
    if mark_problem is not None:
        return {}, [FieldError(type_field, mark_problem)]
    config = _from_connection(conn)
    problem = _type_problem(conn, config)
    if problem is not None:
        return config, [FieldError(type_field, problem)]
    return config, _merge(conn, config, overrides, path)


def storage_config_from_connection(
    conn: Connection, overrides: Mapping[str, Any] | None = None, *, path: str = "storage_config"
) -> dict[str, Any]:
    """A ``storage_config`` dict from an Airflow connection, with the output's allowed additions.

    Raises :class:`RealtimeKitPayloadError` (fields under ``path``) when the connection is not marked
    for recordings, its type does not fit a storage type, or ``overrides`` sets a secret or changes a
    destination field.
    """
    config, errors = _checked_config(conn, overrides or {}, path, f"{path}.type")
    if errors:
        raise RealtimeKitPayloadError(errors)
    return config


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


def _resolve_one(
    output: dict[str, Any], where: str, get_connection: Callable[[str], Connection]
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """One output naming a connection: the output with its ``storage_config`` filled, or the errors."""
    conn_field = f"{where}.{STORAGE_CONN_KEY}"
    conn_id = output[STORAGE_CONN_KEY]
    if not isinstance(conn_id, str) or not conn_id.strip():
        return None, [FieldError(conn_field, "must be the id of an Airflow connection")]
    try:
        conn = get_connection(conn_id.strip())
    except Exception:
        return None, [FieldError(conn_field, f"Airflow connection {conn_id[:100]!r} was not found")]
    overrides = output.get("storage_config")
    if overrides is not None and not isinstance(overrides, Mapping):
        return None, [FieldError(f"{where}.storage_config", "must be an object (or left out)")]
    config, errors = _checked_config(conn, overrides or {}, f"{where}.storage_config", conn_field)
    if errors:
        return None, errors
    resolved = {key: value for key, value in output.items() if key != STORAGE_CONN_KEY}
    return {**resolved, "type": output.get("type", "STORAGE_CONFIG"), "storage_config": config}, []


def resolve_storage_connections(
    layers: Any, get_connection: Callable[[str], Connection] | None = None
) -> Any:
    """``layers`` with every ``storage_conn_id`` replaced by the ``storage_config`` it stands for.

    Raises :class:`RealtimeKitPayloadError` naming ``layers.<name>.outputs[<i>].storage_conn_id`` when
    a connection is missing, not marked for recordings (extra ``realtimekit_storage``), or of a type
    that holds no storage credentials, and
    ``...storage_config.<field>`` when the output sets a secret or another destination than the
    connection's. Input that is not a mapping is returned as is (validation reports it).
    """
    pending = [item for item in _outputs(layers) if STORAGE_CONN_KEY in item[2]]
    if not pending:
        return layers
    if get_connection is None:
        get_connection = BaseHook.get_connection
    resolved = {name: dict(layer) for name, layer in layers.items()}
    errors: list[FieldError] = []
    for name, index, output in pending:
        filled, problems = _resolve_one(output, f"layers.{name}.outputs[{index}]", get_connection)
        errors.extend(problems)
        if filled is not None:
            outputs = resolved[name]["outputs"] = list(resolved[name]["outputs"])
            outputs[index] = filled
    if errors:
        raise RealtimeKitPayloadError(errors)
    return resolved
