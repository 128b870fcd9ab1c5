"""The approval queue: held calls awaiting a human, and the decisions on them (from any replica)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints
from starlette.requests import Request
from starlette.responses import Response

from proxy.approvals import ApprovalBook, ApprovalRefused
from proxy.approvals.requests import Status

from .routes_base import AdminPlane, ApiError, Body, Reason, actor_of, json_response, read_model

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ApprovalId = Annotated[str, StringConstraints(pattern=r"^ap-[0-9a-f]{16}$")]


class DecisionBody(Body):
    reason: Reason
    arguments_sha256: Sha256 | None = None  # what the approver saw: a decision on other arguments is refused


def _book(plane: AdminPlane) -> ApprovalBook:
    if plane.deps.approvals is None:
        raise ApiError(404, "approvals_off", "this admin API has no data plane holding calls for approval")
    return plane.deps.approvals


def _approval_id(request: Request) -> str:
    value = request.path_params["approval_id"]
    if not isinstance(value, str) or not value.startswith("ap-") or len(value) != 19:
        raise ApiError(404, "not_found", "no such approval")
    return value


async def list_approvals(plane: AdminPlane, request: Request) -> Response:
    """Held calls awaiting a decision, oldest first (arguments with secrets masked)."""
    pending = await plane.store_call(_book(plane).pending(), "approvals_list", actor_of(request))
    return json_response({"approvals": [r.view() for r in pending]})


async def _decide(plane: AdminPlane, request: Request, status: Status) -> Response:
    book, approval_id = _book(plane), _approval_id(request)
    body = await read_model(request, DecisionBody)
    approvers = plane.deps.policy.policy.settings.approval.approvers if plane.deps.policy else ("*",)
    try:
        done = await book.decide(approval_id, status, actor=actor_of(request), reason=body.reason,
                                 approvers=approvers, arguments_sha256=body.arguments_sha256)
    except ApprovalRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return json_response({"approval": done.view()})


async def approve(plane: AdminPlane, request: Request) -> Response:
    return await _decide(plane, request, "approved")


async def deny(plane: AdminPlane, request: Request) -> Response:
    return await _decide(plane, request, "denied")
