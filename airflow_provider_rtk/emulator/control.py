"""Control endpoints (no auth) under ``/_emulator`` and ``/client/v4/_emulator``: steer the emulator.

| method, path | what |
|---|---|
| POST ``/meetings`` ``{"title", "id", "transcribe_on_end", "summarize_on_end"}`` | create a meeting (201) |
| POST ``/meetings/{meeting_id}/session`` ``{"participants": [...]}`` | someone joined: a live session |
| DELETE ``/meetings/{meeting_id}/session`` | everyone left: the session ends, recordings stop |
| GET / POST / DELETE ``/faults`` | list, add, clear injected faults (see :mod:`.faults`) |
| GET / POST / DELETE ``/rate-limit`` ``{"requests", "window_seconds"}`` | show, set, turn off |
| GET ``/recordings`` | every recording with its request body (secrets masked) and status history |
| GET ``/recordings/{recording_id}`` | one recording: an HTML page for browsers, else JSON |
| POST ``/recordings/{recording_id}/expire-links`` | its download links expire now (403 from then on) |
| POST ``/expire-links`` | every uploaded recording's links expire now |
| POST ``/recordings/{recording_id}/fail`` | the recording fails now: ``ERRORED`` (and its webhook) |
| POST ``/sessions/{session_id}/expire-links`` | its transcript and summary links expire now |
| POST ``/webhooks/deliveries`` (see below) | deliver a chosen event now (202; the deliveries made) |
| GET ``/webhooks/deliveries?event=<name>`` | the delivery log, oldest first |
| POST ``/webhooks/deliveries/{rtk_uuid}/repeat`` ``{"url"}`` | send a logged delivery again (a replay) |
| GET ``/requests?since=<epoch s>`` | the request log, oldest first, with each answer's status and time |
| GET ``/state`` | everything, as JSON (secrets masked) |
| POST ``/reset`` | back to the state at start |

``POST /webhooks/deliveries`` takes ``{"event": "<webhook event>"}`` and what the payload is about:
``session_id`` or ``meeting_id`` (its latest session), ``recording_id`` for ``recording.statusUpdate``
(``meeting.transcript``/``meeting.summary`` need the session's transcript/summary ready), or a whole
``payload`` object sent as given. Where to: ``url`` (with ``webhook_id`` as its ``rtk-webhook-id``),
else webhook ``webhook_id``, else every enabled webhook subscribed to the event. ``forge``: one of
``bad_signature``, ``no_signature``, ``wrong_key``, ``body_changed``, ``body_reformatted``;
``rtk_uuid`` sets the delivery's ``rtk-uuid``. Each logged delivery: ``number``, ``rtk_uuid``,
``webhook_id``, ``url``, ``event``, ``headers``, ``body`` (the exact text sent), ``forged``,
``repeat_of``, ``outcome`` (``pending``, ``retrying``, ``delivered``, ``failed``) and ``attempts``
(``at``, ``status`` or ``error``, ``answer``: the first 500 bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_rtk.emulator.faults import FaultPlan, parse_fault
from airflow_provider_rtk.emulator.messages import ApiError, Reply, Request, success
from airflow_provider_rtk.emulator.routes import files_url
from airflow_provider_rtk.emulator.routing import Route, RouteTable
from airflow_provider_rtk.emulator.view import recording_page
from airflow_provider_rtk.emulator.webhooks import WEBHOOK_EVENTS

#: Meeting options the control endpoint's create accepts (what makes a transcript and a summary).
MEETING_AI_FLAGS = ("transcribe_on_end", "summarize_on_end")

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.delivery import WebhookDispatcher
    from airflow_provider_rtk.emulator.ratelimit import RateLimiter
    from airflow_provider_rtk.emulator.state import EmulatorState
    from airflow_provider_rtk.emulator.webhooks import WebhookRegistry


@dataclass(frozen=True)
class Controls:
    """What the control endpoints steer."""

    state: EmulatorState
    faults: FaultPlan
    limiter: RateLimiter
    operations: Sequence[str]
    reset: Callable[[], None]
    requests: Callable[[float | None], list[dict[str, Any]]]
    webhooks: WebhookRegistry
    dispatcher: WebhookDispatcher


def _object(request: Request) -> dict[str, Any]:
    body = request.json(empty={})
    if not isinstance(body, dict):
        raise ApiError(400, "(body): must be a JSON object")
    return body


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ApiError(400, f"{name}: must be a non-empty string")
    return value


def create_meeting(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    body = _object(request)
    options = {}
    for flag in MEETING_AI_FLAGS:
        if flag in body:
            if not isinstance(body[flag], bool):
                raise ApiError(400, f"{flag}: must be true or false")
            options[flag] = body[flag]
    meeting = controls.state.create_meeting(
        _optional_text(body, "title"), meeting_id=_optional_text(body, "id"), options=options
    )
    return success(meeting.to_api(), status=201)


def start_session(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    participants = _object(request).get("participants")
    if participants is not None and (
        not isinstance(participants, list)
        or not all(isinstance(user, str) and user.strip() for user in participants)
    ):
        raise ApiError(400, "participants: must be a list of non-empty user id strings")
    return success(controls.state.start_session(params["meeting_id"], participants).to_api())


def end_session(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    return success(controls.state.end_session(params["meeting_id"]).to_api())


def list_faults(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    return success(controls.faults.snapshot())


def add_fault(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    try:
        fault = parse_fault(request.json(), controls.operations)
    except ValueError as error:
        raise ApiError(400, f"Invalid fault: {error}") from None
    return success(controls.faults.add(fault).to_json(), status=201)


def clear_faults(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    controls.faults.clear()
    return success([])


def show_rate_limit(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    return success(controls.limiter.to_json())


def set_rate_limit(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    body = _object(request)
    requests, window = body.get("requests"), body.get("window_seconds", 60)
    if requests is not None and (isinstance(requests, bool) or not isinstance(requests, int)):
        raise ApiError(400, "Invalid rate limit: requests: must be an integer >= 1 (or null for no limit)")
    if isinstance(window, bool) or not isinstance(window, int | float):
        raise ApiError(400, "Invalid rate limit: window_seconds: must be a number > 0")
    try:
        controls.limiter.configure(requests, float(window))
    except ValueError as error:
        raise ApiError(400, f"Invalid rate limit: {error}") from None
    return success(controls.limiter.to_json())


def remove_rate_limit(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    controls.limiter.configure(None, controls.limiter.window_seconds)
    return success(controls.limiter.to_json())


def list_recordings(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    return success(controls.state.recording_snapshots(reveal_secrets=False))


def show_recording(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    recording = controls.state.get_recording(params["recording_id"])
    snapshot = recording.snapshot(reveal_secrets=False)
    answer = recording.to_api(files_url(request))
    if "text/html" in (request.header("Accept") or ""):
        return Reply(200, recording_page(snapshot, answer).encode(), "text/html; charset=utf-8")
    return success({**snapshot, "recording": answer})


def expire_links(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    return success({"expired": controls.state.expire_links(params.get("recording_id"))})


def fail_recording(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    recording = controls.state.fail_recording(params["recording_id"])
    return success(recording.to_api(files_url(request)))


def expire_session_links(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    return success({"expired": controls.state.expire_artifact_links(params["session_id"])})


def deliver_webhook(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    body = _object(request)
    event = body.get("event")
    if event not in WEBHOOK_EVENTS:
        raise ApiError(400, f"event: must be one of {', '.join(WEBHOOK_EVENTS)}")
    ids = {name: _optional_text(body, name) for name in ("meeting_id", "session_id", "recording_id")}
    given = body.get("payload")
    if given is not None:
        if not isinstance(given, dict):
            raise ApiError(400, "payload: must be a JSON object")
        content = {"event": event, **given}
    else:
        content = controls.dispatcher.payload_of(controls.state.event_for(event, **ids))
    made = controls.dispatcher.deliver(
        event,
        content,
        url=_optional_text(body, "url"),
        webhook_id=_optional_text(body, "webhook_id"),
        forge=_optional_text(body, "forge"),
        rtk_uuid=_optional_text(body, "rtk_uuid"),
    )
    return success([delivery.to_json() for delivery in made], status=202)


def list_deliveries(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    events = request.query.get("event")
    return success(controls.dispatcher.deliveries(events[-1] if events else None))


def repeat_delivery(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    url = _optional_text(_object(request), "url")
    return success(controls.dispatcher.repeat(params["rtk_uuid"], url=url).to_json(), status=202)


def list_requests(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    values = request.query.get("since")
    try:
        since = float(values[0]) if values else None
    except ValueError:
        raise ApiError(400, "since: must be a number (epoch seconds)") from None
    return success(controls.requests(since))


def show_state(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    return success(
        {
            **controls.state.snapshot(reveal_secrets=False),
            "faults": controls.faults.snapshot(),
            "webhooks": [webhook.to_api() for webhook in controls.webhooks.all()],
            "rate_limit": controls.limiter.to_json(),
        }
    )


def reset(controls: Controls, request: Request, params: dict[str, str]) -> Reply:
    controls.reset()
    return success({"reset": True})


CONTROL_ROUTES: RouteTable[Controls] = RouteTable(
    [
        Route("POST", "/meetings", create_meeting),
        Route("POST", "/meetings/{meeting_id}/session", start_session),
        Route("DELETE", "/meetings/{meeting_id}/session", end_session),
        Route("GET", "/faults", list_faults),
        Route("POST", "/faults", add_fault),
        Route("DELETE", "/faults", clear_faults),
        Route("GET", "/rate-limit", show_rate_limit),
        Route("POST", "/rate-limit", set_rate_limit),
        Route("DELETE", "/rate-limit", remove_rate_limit),
        Route("GET", "/recordings", list_recordings),
        Route("GET", "/recordings/{recording_id}", show_recording),
        Route("POST", "/recordings/{recording_id}/expire-links", expire_links),
        Route("POST", "/expire-links", expire_links),
        Route("POST", "/recordings/{recording_id}/fail", fail_recording),
        Route("POST", "/sessions/{session_id}/expire-links", expire_session_links),
        Route("POST", "/webhooks/deliveries", deliver_webhook),
        Route("GET", "/webhooks/deliveries", list_deliveries),
        Route("POST", "/webhooks/deliveries/{rtk_uuid}/repeat", repeat_delivery),
        Route("GET", "/requests", list_requests),
        Route("GET", "/state", show_state),
        Route("POST", "/reset", reset),
    ]
)
