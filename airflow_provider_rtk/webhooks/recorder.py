"""A verified delivery, durably recorded as asset events in Airflow's metadata database.

**Which assets.** The receiver feeds the active assets whose watchers are the provider's triggers for
the delivery's connection: a
:class:`~airflow_provider_rtk.triggers.live_session.RealtimeKitLiveSessionTrigger` (polling, or
``push_only=True``) watching the meeting, for ``meeting.started``; a
:class:`~airflow_provider_rtk.triggers.pushed_recording.RealtimeKitPushedRecordingTrigger` watching
the meeting and status, for ``recording.statusUpdate``; a
:class:`~airflow_provider_rtk.triggers.pushed_documents.RealtimeKitPushedDocumentsTrigger` watching
the meeting and document, for ``meeting.transcript`` / ``meeting.summary``. The asset declaration
in the DAG file is the configuration: no other name or URI convention.

**How.** Like Airflow's ``POST /api/v2/assets/events`` (``create_asset_event``): the active asset's
model, ``AssetManager.register_asset_change(asset=..., timestamp=now, extra=..., source_is_api=True)``,
in one database transaction that also writes the marks below; the answer is 2xx only after it
commits. The live-session event's ``extra`` is the watcher's (``{"payload": LiveSessionEvent}``,
plus ``"from_webhook": true``), so ``assets.sessions_from_asset_events`` reads either.

**Dedupe.** Each fed asset keeps the receiver's marks in its asset state store, key
:data:`~airflow_provider_rtk.triggers.live_session.PUSHED_MARKS_KEY`: ``deliveries`` (``rtk-uuid``),
``sessions`` (live-session ids), ``recordings`` (``<id>:<status>``) and ``documents``
(``<session id>:transcript``, ``<session id>:summary``), each with the time it was
recorded, the newest :data:`MAX_MARKS` kept for :data:`MARK_DAYS`. The assets' rows are locked
(``SELECT ... FOR UPDATE``) while the marks are read and written, so two api-server workers given the
same delivery record it once (SQLite serialises writers; the loser answers 5xx and the retry finds the
mark). A session is also skipped when the polling watcher already reported it (its own key).
Below Airflow 3.3 (no asset state store) the marks are read from the asset's own events of the last
``MARK_DAYS`` days (each carries its ``rtk_uuid``), under the same lock.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_rtk.triggers.live_session import PUSHED_MARKS_KEY, RealtimeKitLiveSessionTrigger
from airflow_provider_rtk.triggers.pushed_documents import RealtimeKitPushedDocumentsTrigger
from airflow_provider_rtk.triggers.pushed_recording import RealtimeKitPushedRecordingTrigger

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_provider_rtk.webhooks.deliveries import Delivery

log = logging.getLogger(__name__)

#: How long, and how many, marks of each kind an asset keeps (a retry comes within hours).
MARK_DAYS = 7
MAX_MARKS = 2000
_KINDS = ("deliveries", "sessions", "recordings", "documents")


def _classpath(trigger: type) -> str:
    return f"{trigger.__module__}.{trigger.__qualname__}"


_LIVE = _classpath(RealtimeKitLiveSessionTrigger)


def record(conn_id: str, delivery: Delivery) -> int:
    """Record ``delivery`` for ``conn_id``'s watched assets; the number of asset events created (0
    for a repeat, or when no asset is fed). Raises on any database failure (nothing is committed)."""
    from airflow.utils.session import create_session

    if delivery.live_session is None and delivery.recording is None and delivery.document is None:
        return 0
    with create_session() as session:
        return _record(conn_id, delivery, session)


def _record(conn_id: str, delivery: Delivery, session: Session) -> int:
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.sqlalchemy import with_row_locks
    from sqlalchemy import select

    targets = _targets(conn_id, delivery, session)
    if not targets:
        log.info("No asset watches %s deliveries of connection %s; nothing recorded", delivery.event, conn_id)
        return 0
    locked = select(AssetModel).where(AssetModel.id.in_(sorted(targets))).order_by(AssetModel.id)
    assets = {asset.id: asset for asset in session.scalars(with_row_locks(locked, session=session))}
    now = datetime.now(UTC)
    created = 0
    stored = has_state_store()
    for asset_id in sorted(assets):
        marks = _load(asset_id, PUSHED_MARKS_KEY, session) if stored else _from_events(asset_id, session, now)
        deliveries = _marks(marks, "deliveries")
        if delivery.uuid in deliveries:
            continue
        deliveries[delivery.uuid] = now.isoformat()
        if _first(delivery, marks, targets[asset_id], asset_id, session, now):
            extra = _extra(delivery)
            event = asset_manager.register_asset_change(
                asset=assets[asset_id], timestamp=now, extra=extra, source_is_api=True, session=session
            )
            created += event is not None
        if stored:
            _save(asset_id, _pruned(marks, now), session)
    return created


def _first(
    delivery: Delivery,
    marks: dict[str, Any],
    state_keys: list[str],
    asset_id: int,
    session: Session,
    now: datetime,
) -> bool:
    """Whether the delivery's session or recording status is new to the asset (and mark it)."""
    if delivery.session_id is not None:
        sessions = _marks(marks, "sessions")
        if delivery.session_id in sessions or any(
            delivery.session_id in _watched_live(_load(asset_id, key, session))
            for key in state_keys
            if has_state_store()
        ):
            return False
        sessions[delivery.session_id] = now.isoformat()
        return True
    kind, mark = (
        ("recordings", delivery.recording_mark)
        if delivery.document is None
        else ("documents", delivery.document_mark)
    )
    seen = _marks(marks, kind)
    if mark is None or mark in seen:
        return False
    seen[mark] = now.isoformat()
    return True


def _extra(delivery: Delivery) -> dict[str, Any]:
    marks = {"from_webhook": True, "rtk_uuid": delivery.uuid}
    if delivery.live_session is not None:
        return {**marks, "payload": delivery.live_session}
    return {**marks, **(delivery.recording or delivery.document or {})}


def has_state_store() -> bool:
    """Whether this Airflow has the asset state store (3.3+)."""
    try:
        import airflow.state  # noqa: F401
    except ImportError:  # pragma: no cover - Airflow below 3.3
        return False
    return True


def _from_events(asset_id: int, session: Session, now: datetime) -> dict[str, Any]:
    """The marks as the asset's events of the last ``MARK_DAYS`` days hold them (below 3.3)."""
    from airflow.models.asset import AssetEvent
    from sqlalchemy import select

    since = now - timedelta(days=MARK_DAYS)
    extras = session.scalars(
        select(AssetEvent.extra)
        .where(AssetEvent.asset_id == asset_id, AssetEvent.timestamp >= since)
        .order_by(AssetEvent.timestamp.desc())
        .limit(MAX_MARKS)
    )
    marks: dict[str, Any] = {kind: {} for kind in _KINDS}
    for extra in extras:
        if not isinstance(extra, dict) or not extra.get("from_webhook"):
            continue
        at = now.isoformat()
        if isinstance(extra.get("rtk_uuid"), str):
            marks["deliveries"][extra["rtk_uuid"]] = at
        payload = extra.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("session_id"), str):
            marks["sessions"][payload["session_id"]] = at
        if isinstance(extra.get("recording_id"), str):
            marks["recordings"][f"{extra['recording_id']}:{extra.get('status')}"] = at
        if isinstance(extra.get("document"), str) and isinstance(extra.get("session_id"), str):
            marks["documents"][f"{extra['session_id']}:{extra['document']}"] = at
    return marks


def _targets(conn_id: str, delivery: Delivery, session: Session) -> dict[int, list[str]]:
    """Active assets fed by the delivery -> the state keys of their polling live-session watches."""
    from airflow.models.asset import AssetModel, AssetWatcherModel
    from airflow.models.trigger import Trigger
    from sqlalchemy import select

    watcher: type = (
        RealtimeKitLiveSessionTrigger
        if delivery.live_session is not None
        else RealtimeKitPushedRecordingTrigger
        if delivery.recording is not None
        else RealtimeKitPushedDocumentsTrigger
    )
    wanted = _classpath(watcher)
    rows = session.execute(
        select(AssetWatcherModel.asset_id, Trigger)
        .join(Trigger, Trigger.id == AssetWatcherModel.trigger_id)
        .join(AssetModel, AssetModel.id == AssetWatcherModel.asset_id)
        .where(AssetModel.active.has(), Trigger.classpath == wanted)
    ).all()
    targets: dict[int, list[str]] = {}
    for asset_id, trigger in rows:
        try:
            kwargs = dict(trigger.kwargs)
            watch: Any = watcher(**kwargs)
        except Exception as error:  # a watcher written by another version: not ours to feed
            log.warning("Skipped the watcher of asset %s (%s)", asset_id, type(error).__name__)
            continue
        if watch.realtimekit_conn_id != conn_id:
            continue
        if wanted == _LIVE:
            if watch.watches(delivery.meeting_id):
                keys = targets.setdefault(asset_id, [])
                if not watch.push_only:
                    keys.append(watch.state_key)
        elif watch.watches(delivery.meeting_id, _what(delivery)):
            targets.setdefault(asset_id, [])
    return targets


def _what(delivery: Delivery) -> str:
    """The recording status, or the document, a push-only watch is asked about."""
    if delivery.document is not None:
        return str(delivery.document["document"])
    return str((delivery.recording or {}).get("status"))


def _load(asset_id: int, key: str, session: Session) -> dict[str, Any]:
    from airflow.state import AssetScope, get_state_backend

    raw = get_state_backend().get(AssetScope(asset_id=asset_id), key, session=session)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


def _save(asset_id: int, marks: dict[str, Any], session: Session) -> None:
    """Write the marks the way Airflow's own API writes an asset state entry."""
    from airflow._shared.state import AssetStateStoreWriterKind
    from airflow.state import AssetScope, get_state_backend
    from airflow.state.metastore import MetastoreBackend

    backend = get_state_backend()
    scope = AssetScope(asset_id=asset_id)
    value = json.dumps(marks, sort_keys=True)
    if isinstance(backend, MetastoreBackend):
        backend.set_asset_state_store(
            scope, PUSHED_MARKS_KEY, value, kind=AssetStateStoreWriterKind.API, session=session
        )
    else:
        backend.set(scope, PUSHED_MARKS_KEY, value, session=session)


def _marks(marks: dict[str, Any], kind: str) -> dict[str, str]:
    value = marks.get(kind)
    if not isinstance(value, dict):
        value = marks[kind] = {}
    return value


def _watched_live(state: dict[str, Any]) -> set[str]:
    live = state.get("live")
    return {str(item) for item in live} if isinstance(live, list) else set()


def _pruned(marks: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Each kind's newest ``MAX_MARKS`` marks of the last ``MARK_DAYS`` days."""
    since = (now - timedelta(days=MARK_DAYS)).isoformat()
    kept: dict[str, Any] = {}
    for kind in _KINDS:
        items = [(at, key) for key, at in _marks(marks, kind).items() if isinstance(at, str) and at >= since]
        kept[kind] = {key: at for at, key in sorted(items)[-MAX_MARKS:]}
    return kept
