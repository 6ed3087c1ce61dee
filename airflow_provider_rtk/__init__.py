"""Apache Airflow provider for Cloudflare RealtimeKit track recordings.

Import the pieces from their modules (``airflow_provider_rtk.operators.recording`` and so on): this
package itself imports nothing heavy, so DAG files that use it stay quick to parse.
"""

from __future__ import annotations

from typing import Any

#: The distribution whose metadata holds the version (``pyproject.toml`` is its only source).
DISTRIBUTION = "airflow-provider-rtk"


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed distribution's metadata on first use."""
    if name == "__version__":
        from importlib.metadata import version

        return version(DISTRIBUTION)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
