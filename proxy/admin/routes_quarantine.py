"""Quarantine, staged release and session kill: the containment actions that tear things down."""

from __future__ import annotations

import time
from typing import Any

from pydantic import model_validator
from starlette.requests import Request
from starlette.responses import Response

from proxy.state.model import MODE_ORDER, Quarantine, QuarantineMode, SubjectKind

from .routes_base import (
    ActionBody,
    AdminPlane,
    ApiError,
    Subject,
    TimedActionBody,
    actor_of,
    iso,
    json_response,
    read_model,
    view,
)


class QuarantineBody(TimedActionBody):
    kind: SubjectKind
    subject: Subject
    mode: QuarantineMode = "block"
    kill_sessions: bool = False  # also end the subject's live sessions (after the quarantine is stored)
    revoke_tokens: bool | None = None  # default: only for a principal in block mode


class ReleaseBody(TimedActionBody):
    kind: SubjectKind
    subject: Subject
    to_mode: QuarantineMode | None = None  # staged recovery: step down to a less strict mode


class KillBody(ActionBody):
    session_id: Subject | None = None
    principal: Subject | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> KillBody:
        if (self.session_id is None) == (self.principal is None):
            raise ValueError("give exactly one of session_id, principal")
        return self


def _current(plane: AdminPlane, kind: str, subject: str, now: float) -> Quarantine | None:
    return next((q for q in plane.deps.store.state().quarantines
                 if q.kind == kind and q.subject == subject and q.active(now)), None)


async def create_quarantine(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, QuarantineBody)
    actor, now = actor_of(request), time.time()
    current = _current(plane, body.kind, body.subject, now)
    if current is not None and MODE_ORDER[body.mode] > MODE_ORDER[current.mode]:
        raise ApiError(409, "would_loosen", f"{body.kind} {body.subject} is already quarantined in the stricter "
                       f"mode {current.mode}; step down with release --to-mode {body.mode}")
    quarantine = Quarantine(body.kind, body.subject, body.mode, body.reason, actor, body.ticket, created=now,
                            expires=body.expires(now))
    fields: dict[str, Any] = {"actor": actor, "kind": body.kind, "subject": body.subject, "mode": body.mode,
                              "reason": body.reason, "ticket": body.ticket, "ttl_seconds": body.ttl_seconds,
                              "expires": iso(quarantine.expires)}
    # One sequence for responders and automation: freeze evidence in memory, contain (every replica obeys
    # at once), seal every replica's evidence, end sessions, audit and notify, revoke tokens.
    done = await plane.store_call(plane.deps.containment.quarantine(
        quarantine, kill_sessions=body.kill_sessions, revoke_tokens=body.revoke_tokens,
        previous_mode=current.mode if current else None), "quarantine", **fields)
    evidence_id = done.evidence.id if done.evidence else None
    return json_response({"quarantine": view(quarantine, now), "evidence_id": evidence_id,
                          "killed_sessions": done.killed_sessions, "token_revocation": done.token_revocation}, 201)


async def list_quarantines(plane: AdminPlane, request: Request) -> Response:
    now = time.time()
    kind, subject = request.query_params.get("kind"), request.query_params.get("subject")
    rows = [view(q, now) for q in plane.deps.store.state().quarantines if q.active(now)
            and (kind is None or q.kind == kind) and (subject is None or q.subject == subject)]
    return json_response({"quarantines": rows})


async def release_quarantine(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, ReleaseBody)
    actor, now, store = actor_of(request), time.time(), plane.deps.store
    current = _current(plane, body.kind, body.subject, now)
    if current is None:
        raise ApiError(404, "not_quarantined", f"{body.kind} {body.subject} is not quarantined")
    fields: dict[str, Any] = {"actor": actor, "kind": body.kind, "subject": body.subject, "reason": body.reason,
                              "ticket": body.ticket, "previous_mode": current.mode, "mode": body.to_mode}
    if body.to_mode is None:
        await plane.store_call(store.release(body.kind, body.subject), "release", **fields)
        plane.announce("release", **fields, ttl_seconds=None, expires=None)
        return json_response({"released": view(current, now), "quarantine": None})
    if MODE_ORDER[body.to_mode] <= MODE_ORDER[current.mode]:
        raise ApiError(409, "not_a_step_down", f"--to-mode must be less strict than the current mode {current.mode} "
                       "(block > read-only > no-egress > approval > monitor)")
    expires = body.expires(now) if body.ttl is not None else current.expires
    staged = Quarantine(body.kind, body.subject, body.to_mode, body.reason, actor, body.ticket, created=now,
                        expires=expires)
    await plane.store_call(store.put_quarantine(staged), "release", **fields)  # replaces: no gap
    plane.announce("release", **fields, ttl_seconds=body.ttl_seconds, expires=iso(expires))
    return json_response({"released": view(current, now), "quarantine": view(staged, now)})


async def kill_sessions(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, KillBody)
    actor = actor_of(request)
    kind: SubjectKind = "session" if body.session_id is not None else "principal"
    subject = body.session_id or body.principal or ""
    service = plane.deps.containment
    evidence = await service.seal(kind, subject, actor=actor, reason=body.reason, ticket=body.ticket,
                                  frozen=service.freeze(kind, subject))
    killed = await service.kill(kind, subject, actor=actor)
    if killed is None:
        raise ApiError(502, "kill_failed", f"the data plane failed to end the sessions of {kind} {subject}")
    plane.announce("sessions_kill", actor=actor, kind=kind, subject=subject, reason=body.reason,
                   ticket=body.ticket, killed_sessions=killed, evidence_id=evidence.id if evidence else None,
                   evidence_sha256=evidence.manifest_sha256 if evidence else None)
    return json_response({"killed": killed, "evidence_id": evidence.id if evidence else None})
