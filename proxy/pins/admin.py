"""Admin-API routes for pins: list pending changes (with diffs), approve or reject them.

Append `PIN_ENDPOINTS` to the admin route table. The routes use the admin plane's state store
(`deps.store`), so pins must live there (the default when `pins.store` is not set). The approver
is the authenticated admin actor; every approval / rejection is audited with its diff.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints
from starlette.requests import Request
from starlette.responses import Response

from proxy.admin.routes_base import ActionBody, AdminPlane, ApiError, Endpoint, actor_of, json_response, read_model
from proxy.pins import approvals as ap

ToolRef = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class ApproveBody(ActionBody):
    tools: list[ToolRef] = Field(default_factory=list, max_length=500)  # empty: every pending change
    allow_findings: bool = False


class RejectBody(ActionBody):
    tools: list[ToolRef] = Field(default_factory=list, max_length=500)


async def list_pending(plane: AdminPlane, request: Request) -> Response:
    upstream = request.path_params["upstream"]
    waiting = await plane.store_call(ap.pending(plane.deps.store, upstream), "pins_pending", actor_of(request))
    return json_response({"upstream": upstream, "pending": waiting})


async def approve_pending(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, ApproveBody)
    upstream, actor = request.path_params["upstream"], actor_of(request)
    try:
        done = await ap.approve(plane.deps.store, upstream, body.tools, approver=actor, reason=body.reason,
                                allow_findings=body.allow_findings, audit=plane.deps.audit)
    except ap.ApprovalError as exc:
        raise ApiError(409, "not_approvable", str(exc)) from None
    except Exception as exc:
        plane.audit("pins_action_failed", action="approve", actor=actor, upstream=upstream,
                    error=f"{type(exc).__name__}: {str(exc)[:200]}")
        raise ApiError(503, "store_unavailable", f"state store refused the change ({type(exc).__name__})") from None
    return json_response({"upstream": upstream, "approved": [
        {"tool": a.tool, "sha256": a.sha256, "approver": actor} for a in done]})


async def reject_pending(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, RejectBody)
    upstream, actor = request.path_params["upstream"], actor_of(request)
    done = await plane.store_call(ap.reject(plane.deps.store, upstream, body.tools, approver=actor,
                                            reason=body.reason, audit=plane.deps.audit), "pins_reject", actor)
    return json_response({"upstream": upstream, "rejected": done})


PIN_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v1/pins/{upstream}/pending", list_pending, "Tool-definition changes awaiting review, "
             "with diffs and findings", "pins"),
    Endpoint("POST", "/v1/pins/{upstream}/approve", approve_pending, "Approve pending tool definitions "
             "(NAME@SHA256PREFIX approves only the reviewed one)", "pins", ApproveBody),
    Endpoint("POST", "/v1/pins/{upstream}/reject", reject_pending, "Discard pending changes (the tools stay "
             "hidden)", "pins", RejectBody),
)
