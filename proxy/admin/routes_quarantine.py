"""Quarantine, staged release and session kill: the containment actions that tear things down."""

from __future__ import annotations

import time
from typing import Any, Literal

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


def _affected(plane: AdminPlane, kind: str, subject: str) -> list[dict[str, Any]]:
    sessions = plane.deps.sessions.list(subject if kind == "principal" else None)
    key = {"principal": "principal", "agent": "agent", "session": "session_id"}[kind]
    return [s for s in sessions if s.get(key) == subject]


async def _kill(plane: AdminPlane, kind: str, subject: str, reason: str, actor: str) -> int | None:
    """End live sessions here and ask the other replicas (store broadcast) to do the same.
    None (and a `containment_kill_failed` audit) if the data plane failed to end them."""
    sessions = plane.deps.sessions
    try:
        if kind == "principal":
            killed = await sessions.kill(None, subject, reason)
        else:
            ids = [subject] if kind == "session" else [str(s["session_id"]) for s in _affected(plane, kind, subject)]
            killed = sum([await sessions.kill(sid, None, reason) for sid in ids])
    except Exception as exc:
        plane.audit("containment_kill_failed", kind=kind, subject=subject, actor=actor, error=type(exc).__name__)
        return None
    try:
        await plane.deps.store.broadcast({"event": "sessions_kill", kind: subject})
    except Exception as exc:
        plane.audit("containment_broadcast_failed", kind=kind, subject=subject, actor=actor, error=type(exc).__name__)
    return killed


def _to_revoke(plane: AdminPlane, body: QuarantineBody) -> set[str] | None:
    """Principals whose OAuth tokens to revoke (default: a principal put in block mode), None for none."""
    if not (body.revoke_tokens if body.revoke_tokens is not None else
            body.kind == "principal" and body.mode == "block"):
        return None
    if body.kind == "principal":
        return {body.subject}
    return {str(s["principal"]) for s in _affected(plane, body.kind, body.subject)}


async def create_quarantine(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, QuarantineBody)
    actor, now = actor_of(request), time.time()
    current = _current(plane, body.kind, body.subject, now)
    if current is not None and MODE_ORDER[body.mode] > MODE_ORDER[current.mode]:
        raise ApiError(409, "would_loosen", f"{body.kind} {body.subject} is already quarantined in the stricter "
                       f"mode {current.mode}; step down with release --to-mode {body.mode}")
    principals = _to_revoke(plane, body)  # looked up before any session ends
    quarantine = Quarantine(body.kind, body.subject, body.mode, body.reason, actor, body.ticket, created=now,
                            expires=body.expires(now))
    fields: dict[str, Any] = {"actor": actor, "kind": body.kind, "subject": body.subject, "mode": body.mode,
                              "reason": body.reason, "ticket": body.ticket, "ttl_seconds": body.ttl_seconds,
                              "expires": iso(quarantine.expires)}
    # Freeze what is held in memory first (instant), contain (every replica obeys at once), then seal the
    # frozen copy to disk: containment never waits on evidence I/O, and evidence predates any teardown.
    frozen = plane.freeze(body.kind, body.subject)
    await plane.store_call(plane.deps.store.put_quarantine(quarantine), "quarantine", **fields)
    evidence = await plane.evidence(body.kind, body.subject, actor=actor, reason=body.reason, ticket=body.ticket,
                                    frozen=frozen)
    fields["evidence_id"] = evidence.id if evidence else None
    fields["evidence_sha256"] = evidence.manifest_sha256 if evidence else None
    killed = await _kill(plane, body.kind, body.subject, body.reason, actor) if body.kill_sessions else 0
    plane.announce("quarantine", **fields, previous_mode=current.mode if current else None, killed_sessions=killed)
    revocation = "skipped" if principals is None else plane.revoke(principals, actor)
    return json_response({"quarantine": view(quarantine, now), "evidence_id": fields["evidence_id"],
                          "killed_sessions": killed, "token_revocation": revocation}, 201)


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
                       "(block > read-only > no-egress > monitor)")
    expires = body.expires(now) if body.ttl is not None else current.expires
    staged = Quarantine(body.kind, body.subject, body.to_mode, body.reason, actor, body.ticket, created=now,
                        expires=expires)
    await plane.store_call(store.put_quarantine(staged), "release", **fields)  # replaces: no gap
    plane.announce("release", **fields, ttl_seconds=body.ttl_seconds, expires=iso(expires))
    return json_response({"released": view(current, now), "quarantine": view(staged, now)})


async def kill_sessions(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, KillBody)
    actor = actor_of(request)
    kind: Literal["session", "principal"] = "session" if body.session_id is not None else "principal"
    subject = body.session_id or body.principal or ""
    evidence = await plane.evidence(kind, subject, actor=actor, reason=body.reason, ticket=body.ticket)
    killed = await _kill(plane, kind, subject, body.reason, actor)
    if killed is None:
        raise ApiError(502, "kill_failed", f"the data plane failed to end the sessions of {kind} {subject}")
    plane.announce("sessions_kill", actor=actor, kind=kind, subject=subject, reason=body.reason,
                   ticket=body.ticket, killed_sessions=killed, evidence_id=evidence.id if evidence else None,
                   evidence_sha256=evidence.manifest_sha256 if evidence else None)
    return json_response({"killed": killed, "evidence_id": evidence.id if evidence else None})
