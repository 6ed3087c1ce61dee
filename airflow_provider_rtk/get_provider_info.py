"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Kept free of heavy imports: Airflow calls it in every process that discovers providers.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from airflow_provider_rtk import DISTRIBUTION

CONNECTION_TYPE = "realtimekit"
#: The connection every hook, operator, sensor and trigger uses unless told otherwise.
DEFAULT_CONN_ID = "realtimekit_default"
DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"

#: Extra fields of the connection form (Airflow 3.2+ reads these; the hook derives 3.0/3.1 widgets).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "account_id": {
        "label": "Account ID",
        "description": "Cloudflare account id (required).",
        "schema": {"type": "string", "minLength": 1},
    },
    "app_id": {
        "label": "App ID",
        "description": "RealtimeKit app id (required).",
        "schema": {"type": "string", "minLength": 1},
    },
}

#: Standard form fields: which are hidden, how the used ones are labelled. The port stays visible: the
#: connection list's *Test* button sends the stored port (``0`` when empty), and Airflow 3.3 refuses a
#: test whose port differs from the stored one, so a saved port (443) is what makes *Test* work. A port
#: written in the Base URL wins over this field.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login"],
    "relabeling": {
        "password": "API token",
        "host": "Base URL (optional)",
        "port": "Port (443; set it for the Test button)",
    },
    "placeholders": {
        "host": DEFAULT_BASE_URL,
        "port": "443",
        "password": "Cloudflare API token with the Realtime Admin permission",
        "account_id": "023e105f4ecef8ad9ca31a8372d0c353",
        "app_id": "RealtimeKit app id",
    },
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager needs to know: the connection type, its form, the extra link."""
    return {
        "package-name": DISTRIBUTION,
        "name": "Cloudflare RealtimeKit",
        "description": "Start, follow and control Cloudflare RealtimeKit track recordings from Airflow.",
        "versions": [version(DISTRIBUTION)],
        "integrations": [{"integration-name": "Cloudflare RealtimeKit"}],
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": "airflow_provider_rtk.hooks.realtimekit.RealtimeKitHook",
                "hook-name": "Cloudflare RealtimeKit",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
        "extra-links": ["airflow_provider_rtk.links.RealtimeKitRecordingLink"],
        "plugins": [
            {
                "name": "realtimekit_webhooks",
                "plugin-class": "airflow_provider_rtk.webhooks.plugin.RealtimeKitWebhooksPlugin",
            }
        ],
        "triggers": [
            {
                "integration-name": "Cloudflare RealtimeKit",
                "python-modules": [
                    f"airflow_provider_rtk.triggers.{name}"
                    for name in (
                        "active_session",
                        "recording",
                        "live_session",
                        "pushed_recording",
                        "session_documents",
                    )
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Cloudflare RealtimeKit",
                "python-modules": [
                    "airflow_provider_rtk.operators.recording",
                    "airflow_provider_rtk.operators.webhooks",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Cloudflare RealtimeKit",
                "target-integration-name": "Common IO",
                "python-module": "airflow_provider_rtk.transfers.recording_to_object_storage",
            },
            {
                "source-integration-name": "Cloudflare RealtimeKit",
                "target-integration-name": "Common IO",
                "python-module": "airflow_provider_rtk.transfers.session_transcript_to_object_storage",
            },
        ],
        "config": {
            "realtimekit": {
                "description": "How the RealtimeKit provider shares the API between tasks and triggers.",
                "options": {
                    "poll_requests_per_second": {
                        "description": (
                            "Requests per second that all the recording triggers of one triggerer (and "
                            "connection) may spend following recordings, together. Default 2: half of "
                            "Cloudflare's global limit per token (1,200 requests per 5 minutes, past "
                            "which every call of the token is refused for 5 minutes), the other half "
                            "left for starts, stops and other clients. With several triggerers on one "
                            "token, give each its share (the value divided by their number). A 429 "
                            "halves the rate for a while; Retry-After and rate-limit headers are "
                            "honoured."
                        ),
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "1",
                        "default": "2",
                    },
                    "connection_cache_seconds": {
                        "description": (
                            "Seconds a RealtimeKit connection, once looked up and checked, is kept for "
                            "the next hook of the same process (sync hooks) or event loop (async hooks "
                            "and triggers). A connection given by an AIRFLOW_CONN_ environment variable "
                            "is read again whenever the variable changes; an answer refusing the token "
                            "(401, 403) drops it. 0 looks the connection up for every hook."
                        ),
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "0",
                        "default": "30",
                    },
                },
            }
        },
    }
