"""Control endpoints (no auth) under ``/_emulator`` and ``/client/v4/_emulator``: steer the emulator.

| method, path | what |
|---|---|
| POST ``/meetings`` ``{"title", "id"}`` | create a meeting (201) |
| POST ``/meetings/{meeting_id}/session`` ``{"participants": [...]}`` | someone joined: a live session |
| DELETE ``/meetings/{meeting_id}/session`` | everyone left: the session ends, recordings stop |
| GET / POST / DELETE ``/faults`` | list, add, clear injected faults (see :mod:`.faults`) |
| GET / POST / DELETE ``/rate-limit`` ``{"requests", "window_seconds"}`` | show, set, turn off |
| GET ``/recordings`` | every recording with its request body (secrets masked) and status history |
| GET ``/recordings/{recording_id}`` | one recording: an HTML page for browsers, else JSON |
| POST ``/recordings/{recording_id}/expire-links`` | its download links expire now (403 from then on) |
| POST ``/expire-links`` | every uploaded recording's links expire now |
| GET ``/requests?since=<epoch s>`` | the request log, oldest first, with each answer's status and time |
| GET ``/state`` | everything, as JSON (secrets masked) |
| POST ``/reset`` | back to the state at start |
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

if TYPE_CHECKING:
    from airflow_provider_rtk.emulator.ratelimit import RateLimiter
    from airflow_provider_rtk.emulator.state import EmulatorState


@dataclass(frozen=True)
class Controls:
    """What the control endpoints steer."""

    state: EmulatorState
    faults: FaultPlan
    limiter: RateLimiter
    operations: Sequence[str]
    reset: Callable[[], None]
    requests: Callable[[float | None], list[dict[str, Any]]]


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
    meeting = controls.state.create_meeting(
        _optional_text(body, "title"), meeting_id=_optional_text(body, "id")
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
        Route("GET", "/requests", list_requests),
        Route("GET", "/state", show_state),
        Route("POST", "/reset", reset),
    ]
)
