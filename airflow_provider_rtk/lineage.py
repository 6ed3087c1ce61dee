"""What a task read and wrote, for OpenLineage (``pip install airflow-provider-rtk[openlineage]``).

The start and copy operators keep a :class:`RecordingLineage` as they finish and turn it into the
``OperatorLineage`` Airflow's OpenLineage provider asks for (``get_openlineage_facets_on_complete``).
Names (the README's "Lineage"):

- a meeting: namespace ``realtimekit://{account_id}/{app_id}``, name ``meetings/{meeting_id}``;
- a recording at RealtimeKit: the same namespace, ``recordings/{recording_id}`` (always, so a start that
  returned before there were files and the copy of them join up), and each of its files known to the
  task, ``recordings/{recording_id}/{file_name}``;
- a copied file: named by the OpenLineage provider's own mapping of an object-storage URI
  (``s3://bucket`` + the key, ``file://`` + the path...), the URI the copy's asset events carry.

Ids and names only: never a download link, a token or a storage secret. The OpenLineage packages are
imported inside :func:`operator_lineage` only, so neither parsing a DAG nor running a task without
the provider installed loads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_rtk.connection import ConnectionSettings
    from airflow_provider_rtk.models import Recording

SCHEME = "realtimekit"


def namespace(account_id: str, app_id: str) -> str:
    """The OpenLineage namespace of one RealtimeKit app."""
    return f"{SCHEME}://{account_id}/{app_id}"


@dataclass(frozen=True)
class RecordingLineage:
    """A recording as lineage sees it: where it lives, its meeting, its files and where they went."""

    account_id: str
    app_id: str
    recording_id: str
    meeting_id: str | None = None
    file_names: tuple[str, ...] = ()
    #: the object-storage URIs of the copied files (no connection id in them)
    destinations: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        settings: ConnectionSettings,
        recording: Recording,
        *,
        meeting_id: str | None = None,
        destinations: Iterable[str] = (),
        file_names: Iterable[str] = (),
    ) -> RecordingLineage:
        """The lineage of ``recording`` read through ``settings``; its files are the ones named in
        ``file_names``, else the ones the recording lists (names only, no links)."""
        from airflow_provider_rtk.assets import recording_asset_extra

        names = tuple(file_names) or tuple(f["name"] for f in recording_asset_extra(recording)["files"])
        return cls(
            account_id=settings.account_id,
            app_id=settings.app_id,
            recording_id=recording.id,
            meeting_id=recording.meeting_id or meeting_id,
            file_names=names,
            destinations=tuple(destinations),
        )

    def recording_names(self) -> list[str]:
        """The dataset names of the recording and of each of its files at RealtimeKit."""
        base = f"recordings/{self.recording_id}"
        return [base, *(f"{base}/{name}" for name in self.file_names)]


def operator_lineage(
    lineage: RecordingLineage | None, *, recording_is: Literal["input", "output"]
) -> OperatorLineage[Any, Any]:
    """The ``OperatorLineage`` of a task: the start (``recording_is="output"``: the meeting in, the
    recording's files out) or the copy (``"input"``: the recording's files in, the copies out).
    Nothing known (the task ended before it knew its recording): empty lineage."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    if lineage is None:
        return OperatorLineage()
    where = namespace(lineage.account_id, lineage.app_id)
    files = [Dataset(namespace=where, name=name) for name in lineage.recording_names()]
    if recording_is == "output":
        meeting = (
            [Dataset(namespace=where, name=f"meetings/{lineage.meeting_id}")] if lineage.meeting_id else []
        )
        return OperatorLineage(inputs=meeting, outputs=files)
    copies = [
        ExtractorManager.convert_to_ol_dataset_from_object_storage_uri(uri) for uri in lineage.destinations
    ]
    return OperatorLineage(inputs=files, outputs=[copy for copy in copies if copy is not None])
