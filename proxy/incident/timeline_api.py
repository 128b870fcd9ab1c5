"""Admin-API route `GET /v1/incident/timeline`: the `drawbridge incident timeline --json` document, built
from the audit files this replica writes (`AdminDeps.audit_paths`). Append `TIMELINE_ENDPOINTS` to the
admin route table."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from proxy.admin.routes_base import AdminPlane, ApiError, Endpoint, json_response
from proxy.incident.auditlog import subject_and_window
from proxy.incident.commands import load_timeline, timeline_document


async def incident_timeline(plane: AdminPlane, request: Request) -> Response:
    """One subject's timeline with its milestones, MTTD and MTTC (400 on a bad query)."""
    query = request.query_params
    try:
        scope, since, until = subject_and_window(query.get("principal"), query.get("agent"), query.get("session"),
                                                 query.get("since"), query.get("from"), query.get("to"))
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    paths = plane.deps.audit_paths()
    if not paths:
        raise ApiError(404, "no_audit_file", "this replica has written no audit file (configure a file sink)")
    try:
        timeline, stats = await anyio.to_thread.run_sync(partial(load_timeline, paths, scope, since, until))
    except OSError as exc:
        raise ApiError(503, "audit_unreadable", f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    return json_response(timeline_document(timeline, stats))


TIMELINE_ENDPOINTS = (
    Endpoint("GET", "/v1/incident/timeline", incident_timeline, "A subject's events in order by NIST SP 800-61 "
             "phase, with time to detect and to contain (from this replica's audit files)", "observe",
             query=(("principal", "a principal (and its sessions and credential sharers)"),
                    ("agent", "an agent (and its sessions)"), ("session", "a session id or client key"),
                    ("since", "only the last 30m, 4h, 7d…"), ("from", "RFC 3339 start"), ("to", "RFC 3339 end"))),
)
