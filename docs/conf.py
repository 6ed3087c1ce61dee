"""Sphinx configuration of the provider's docs (``make docs``; ``make doctest`` runs the examples).

Autodoc imports the real provider and Airflow from the project's venv: nothing is mocked, so a page
that documents a class also proves it imports.
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib.metadata import version as distribution_version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_provider_rtk"
sys.path.insert(0, str(ROOT))

# Airflow reads its configuration when first imported: a throw-away home, no example DAGs, so that
# building the docs touches nothing of the developer's own Airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="rtk-docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
# Log lines (the hook's, the emulator's) are not part of an example's output.
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

project = "airflow-provider-rtk"
author = "airflow-provider-rtk developers"
copyright = "2026, airflow-provider-rtk developers"
release = distribution_version("airflow-provider-rtk")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"airflow-provider-rtk {release}"
html_static_path: list[str] = []
# Wide enough for the reference tables and the class names in the navigation.
html_theme_options = {"page_width": "1280px", "sidebar_width": "300px"}

# Reference pages: the class docstrings (``:param:`` fields) and the ``__init__`` signature, members
# in source order, inherited Airflow machinery left out.
autoclass_content = "class"
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}

# Warnings are errors (-W) and every cross-reference must resolve (-n). The project's own names are
# checked; names of Airflow, the standard library and other libraries have no inventory to resolve
# against offline (no intersphinx: the build reaches no network), so they are let through.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(airflow|pydantic|httpx|httpcore|tenacity|jinja2|pendulum|datetime|collections|typing)(\..*)?",
    ),
    (r"py:.*", r"(typing_extensions|enum|asyncio|abc|pathlib|upath|fsspec|structlog|logging)(\..*)?"),
    (r"py:class", r"(Any|Context|Self|Iterator|AsyncIterator|Mapping|Sequence|Callable|Awaitable)"),
    (r"py:class", r"(str|int|float|bool|bytes|dict|list|tuple|set|object|None|NoneType|type|Exception)"),
    (r"py:class", r"(ValueError|TypeError|RuntimeError|BaseException|NamedTuple)"),
    (r"py:class", r"(timedelta|datetime|Enum|Retrying|Generic|EventT|T|_T|.*\._.*)"),
    (r"py:(class|obj)", r"(BaseOperator|BaseSensorOperator|BaseHook|BaseTrigger|BaseEventTrigger)"),
    (r"py:(class|obj)", r"(TriggerEvent|BaseOperatorLink|ResumableJobMixin|AirflowException)"),
    (r"py:(class|obj)", r"(AirflowFailException|ObjectStoragePath|TaskInstanceKey|Asset|AssetAlias)"),
    (r"py:(class|obj)", r"(Connection|BaseModel|annotated_types\..*|dict\[str|.*\.EventT)"),
    # pydantic's field metadata, as autodoc prints a model field's annotation
    (r"py:(class|obj)", r"(FieldInfo|MinLen|MaxLen|Ge|Le|Gt|Lt|PydanticUndefined|_Pydantic.*)"),
]

# The examples run in doctest with the docs' own Airflow home; each group starts from these imports.
doctest_global_setup = """
import os

os.environ.pop("AIRFLOW_CONN_REALTIMEKIT_DEFAULT", None)
"""


def _resolve_short_names(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve a provider name a docstring writes short (``RealtimeKitCopyError``) or by a re-export
    (``airflow_provider_rtk.triggers.RealtimeKitRecordingTrigger``) to the one documented object of
    that name; two or none leave the reference unresolved, and nitpicky mode then fails the build."""
    from sphinx.util.nodes import make_refnode

    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    # Class.method is matched whole; a bare or a package-qualified name by its last part
    tail = target if "." in target and not target.startswith(f"{PACKAGE}.") else target.rsplit(".", 1)[-1]
    objects = env.get_domain("py").objects
    matches = [
        name for name in objects if name.startswith("airflow_provider_rtk.") and name.endswith(f".{tail}")
    ]
    if len(matches) != 1:
        return None
    found = objects[matches[0]]
    return make_refnode(app.builder, node["refdoc"], found.docname, found.node_id, contnode, matches[0])


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_short_names)
