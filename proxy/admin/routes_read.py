"""Read-only routes: status, live sessions, evidence, the policy in force, health, metrics."""

from __future__ import annotations

import hashlib
import time
from functools import partial
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from proxy.metrics import CONTENT_TYPE

from .routes_base import AdminPlane, ApiError, iso, json_response, view


def _active(records: Any, now: float) -> list[dict[str, Any]]:
    rows = [view(r, now) for r in records if r.expires is None or now < r.expires]
    return sorted(rows, key=lambda row: row["created"] or "")


async def status(plane: AdminPlane, request: Request) -> Response:
    """What is contained right now, by whom, until when."""
    now, store = time.time(), plane.deps.store
    state = store.state()
    containment = plane.deps.containment
    return json_response({
        "now": iso(now), "store_healthy": store.healthy, "state_version": state.version,
        "quarantines": _active(state.quarantines, now), "deny_tools": _active(state.deny_overlays, now),
        "rate_limits": _active(state.rate_limits, now), "egress_denies": _active(state.egress_denies, now),
        "revoked_credentials": len(_active(state.revoked, now)),
        "notifier": containment.notifier is not None, "revoker": containment.revocation.revoker is not None,
    })


async def list_sessions(plane: AdminPlane, request: Request) -> Response:
    """Every replica's conversations (from the store), newest first."""
    principal = request.query_params.get("principal") or None
    try:
        rows = await plane.deps.sessions.list()
    except Exception as exc:
        raise ApiError(503, "store_unavailable", f"state store unavailable ({type(exc).__name__})") from None
    out = []
    for info in sorted(rows, key=lambda s: s.created, reverse=True):
        if principal is None or info.principal == principal:
            row = info.view()
            row["started"], row["last_used"] = iso(info.created), iso(info.last_used)
            out.append(row)
    return json_response({"sessions": out})


async def list_evidence(plane: AdminPlane, request: Request) -> Response:
    records = await anyio.to_thread.run_sync(plane.deps.evidence.list)
    return json_response({"evidence": [r.as_dict() for r in records]})


async def show_evidence(plane: AdminPlane, request: Request) -> Response:
    """One snapshot, re-verified against its manifest (`verified`, `problems`)."""
    evidence_id = request.path_params["evidence_id"]
    recorder = plane.deps.evidence
    try:
        report = await anyio.to_thread.run_sync(partial(recorder.show, evidence_id))
        data = report.as_dict()
        if request.query_params.get("exchanges") in ("1", "true", "yes"):
            try:
                data["exchanges"] = await anyio.to_thread.run_sync(partial(recorder.exchanges, evidence_id))
            except (OSError, ValueError) as exc:  # a damaged file is reported, not a 500
                data["exchanges_error"] = type(exc).__name__
    except KeyError:
        raise ApiError(404, "not_found", f"no evidence {evidence_id}") from None
    return json_response(data)


async def policy_in_force(plane: AdminPlane, request: Request) -> Response:
    """The policy set in force: its version hash and each file's name and content as loaded (not as on disk)."""
    holder = plane.deps.policy
    if holder is None:
        raise ApiError(404, "not_found", "no data plane policy is attached to this admin API")
    loaded = holder.loaded
    files = [{"name": path.relative_to(holder.directory).as_posix(), "sha256": hashlib.sha256(data).hexdigest(),
              "content": data.decode("utf-8", "replace")}
             for path, data in zip(loaded.files, loaded.sources, strict=True)]
    return json_response({"version": loaded.policy.version, "directory": str(holder.directory),
                          "rules": len(loaded.policy.rules), "files": files})


async def healthz(plane: AdminPlane, request: Request) -> Response:
    healthy = plane.deps.store.healthy
    return json_response({"status": "ok" if healthy else "degraded", "store_healthy": healthy},
                         200 if healthy else 503)


async def metrics(plane: AdminPlane, request: Request) -> Response:
    scrape = plane.deps.scrape
    if scrape is None:
        raise ApiError(404, "not_found", "metrics are not enabled on this listener")
    return Response(await scrape.text(), media_type=CONTENT_TYPE)
