"""A local Cloudflare RealtimeKit API ("emulator") for the demo, the DAG tests, and your own tests.

In-process::

    from airflow_provider_rtk.emulator import RealtimeKitEmulator

    with RealtimeKitEmulator(invoke_delay=0, upload_delay=0) as emulator:
        emulator.start_session(emulator.create_meeting("standup")["id"])
        os.environ["AIRFLOW_CONN_REALTIMEKIT_DEFAULT"] = emulator.airflow_connection_json()

As a server: ``python -m airflow_provider_rtk.emulator --port 8787`` (base URL
``http://127.0.0.1:8787/client/v4``). In pytest: ``pytest -p airflow_provider_rtk.emulator.pytest_plugin``
and the ``realtimekit_emulator`` fixture.

It also speaks webhooks (the Webhooks API, deliveries signed with its own key served at
``/.well-known/webhooks.json``, retried as the service retries) and makes post-meeting transcripts and
summaries: see :mod:`.webhooks`, :mod:`.delivery`, :mod:`.events`, :mod:`.transcripts`, and the
control endpoints in :mod:`.control`.

Importing this package is cheap: the server loads on first use of an export. The emulator imports
nothing of Airflow and nothing of the provider outside this package: the standard library, and
``cryptography`` (only once something is signed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.emulator import RealtimeKitEmulator
    from airflow_provider_rtk.emulator.settings import (
        DEFAULT_ACCOUNT_ID,
        DEFAULT_API_TOKEN,
        DEFAULT_APP_ID,
        EmulatorSettings,
    )

_EXPORTS = {
    "RealtimeKitEmulator": "emulator",
    "EmulatorSettings": "settings",
    "DEFAULT_API_TOKEN": "settings",
    "DEFAULT_ACCOUNT_ID": "settings",
    "DEFAULT_APP_ID": "settings",
}

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_API_TOKEN",
    "DEFAULT_APP_ID",
    "EmulatorSettings",
    "RealtimeKitEmulator",
]


def __getattr__(name: str) -> Any:
    """Load an export from its submodule on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
