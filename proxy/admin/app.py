"""The admin API: a separate Starlette app (own listener, loopback by default), JSON in and out.

Every request needs an admin bearer token; every state-changing call runs
validate → store (quarantine: contain first) → evidence snapshot → `containment_action` audit → webhook /
revocation, through the same `ContainmentService` automated containment uses. Containment never clears the
evidence ring buffers, so sealing after the store write loses nothing. Sessions and evidence cover every
replica: the sessions list reads the shared store, and evidence gathers each replica's share.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.approvals import ApprovalBook
from proxy.config import Config
from proxy.console.gate import ConsoleGate
from proxy.console.pages import console_mount
from proxy.console.sessions import ConsoleSessions
from proxy.containment.service import ContainmentService
from proxy.evidence.recorder import EvidenceRecorder
from proxy.incident.bundle_api import BUNDLE_ENDPOINTS
from proxy.incident.timeline_api import TIMELINE_ENDPOINTS
from proxy.metrics import Scrape
from proxy.pins.admin import PIN_ENDPOINTS
from proxy.policy.holder import PolicyHolder
from proxy.sessions import SessionInfo
from proxy.state.model import Store

from . import routes_approvals as ap
from . import routes_overlays as ov
from . import routes_quarantine as qr
from . import routes_read as rd
from .auth import BearerAuth
from .openapi import build_openapi
from .routes_alerts import ALERT_ENDPOINTS
from .routes_base import AdminPlane, ApiError, Endpoint, Handler, error_response, json_response


class SessionList(Protocol):
    """Every replica's conversations, as the admin plane sees them (`proxy.sessions.SessionDirectory`)."""

    async def list(self) -> list[SessionInfo]: ...


@dataclass(frozen=True)
class AdminDeps:
    store: Store
    audit: Callable[[dict[str, Any]], None]  # takes a finished event from system_event(...)
    sessions: SessionList
    evidence: EvidenceRecorder  # where sealed snapshots are read from
    containment: ContainmentService
    tokens: frozenset[str] = frozenset()  # sha256 hex of the admin tokens
    token_labels: Mapping[str, str] = field(default_factory=dict)  # sha256 → actor label
    audit_paths: Callable[[], list[Path]] = list  # this replica's audit files now, oldest first
    policy: PolicyHolder | None = None  # the data plane's policy in force (GET /v1/policy)
    config: Config | None = None  # the replica's configuration (incident bundles: policy, pins, audit files)
    replica_id: str = ""
    scrape: Scrape | None = None  # GET /metrics (Prometheus text)
    approvals: ApprovalBook | None = None  # the queue of calls held for a human (shared by every replica)


async def _openapi(plane: AdminPlane, request: Request) -> Response:
    raise NotImplementedError  # replaced in build_admin_app (needs the finished table)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v1/healthz", rd.healthz, "Liveness and state-store health", "meta"),
    Endpoint("GET", "/v1/openapi.json", _openapi, "This document", "meta"),
    Endpoint("GET", "/metrics", rd.metrics, "Prometheus metrics (text exposition format)", "meta"),
    Endpoint("GET", "/v1/status", rd.status, "What is quarantined or denied, by whom, until when", "observe"),
    Endpoint("POST", "/v1/quarantines", qr.create_quarantine, "Quarantine a principal, agent or session "
             "(evidence is sealed first)", "contain", qr.QuarantineBody, status=201),
    Endpoint("GET", "/v1/quarantines", qr.list_quarantines, "Active quarantines", "observe",
             query=(("kind", "principal|agent|session"), ("subject", "exact subject id"))),
    Endpoint("POST", "/v1/quarantines/release", qr.release_quarantine, "Release, or step down to a lesser mode "
             "(staged recovery)", "recover", qr.ReleaseBody),
    Endpoint("GET", "/v1/sessions", rd.list_sessions, "Live conversations on every replica (handshake sessions "
             "and stateless clients, by client key)", "observe",
             query=(("principal", "only this principal's sessions"),)),
    Endpoint("POST", "/v1/sessions/kill", qr.kill_sessions, "End a session (or a stateless client's calls, by "
             "client key) or all sessions of a principal, on every replica", "contain", qr.KillBody),
    Endpoint("POST", "/v1/deny-tools", ov.create_deny_tools, "Deny tools for an agent or principal on top of "
             "policy", "contain", ov.DenyToolsBody, status=201),
    Endpoint("GET", "/v1/deny-tools", ov.list_deny_tools, "Active tool denies", "observe"),
    Endpoint("DELETE", "/v1/deny-tools/{overlay_id}", ov.remove_deny_tools, "Lift a tool deny", "recover",
             ov.RemoveBody),
    Endpoint("POST", "/v1/egress-denies", ov.create_egress_deny, "Refuse a destination host", "contain",
             ov.EgressDenyBody, status=201),
    Endpoint("GET", "/v1/egress-denies", ov.list_egress_denies, "Active egress denies", "observe"),
    Endpoint("DELETE", "/v1/egress-denies/{deny_id}", ov.remove_egress_deny, "Lift an egress deny", "recover",
             ov.RemoveBody),
    Endpoint("POST", "/v1/rate-limits", ov.create_rate_limit, "Limit a principal's, agent's or route's tool calls "
             "(a token bucket shared by every replica)", "contain", ov.RateLimitBody, status=201),
    Endpoint("GET", "/v1/rate-limits", ov.list_rate_limits, "Active rate limits", "observe"),
    Endpoint("DELETE", "/v1/rate-limits/{limit_id}", ov.remove_rate_limit, "Lift a rate limit", "recover",
             ov.RemoveBody),
    Endpoint("GET", "/v1/approvals", ap.list_approvals, "Tool calls held for a human's approval, oldest first "
             "(every replica's)", "approve"),
    Endpoint("POST", "/v1/approvals/{approval_id}/approve", ap.approve, "Approve one held call (once; give the "
             "arguments_sha256 you reviewed)", "approve", ap.DecisionBody),
    Endpoint("POST", "/v1/approvals/{approval_id}/deny", ap.deny, "Deny one held call", "approve", ap.DecisionBody),
    Endpoint("GET", "/v1/policy", rd.policy_in_force, "The policy set in force: version and each file as loaded",
             "observe"),
    Endpoint("GET", "/v1/evidence", rd.list_evidence, "Evidence snapshots, newest first", "evidence"),
    Endpoint("GET", "/v1/evidence/{evidence_id}", rd.show_evidence, "One snapshot, re-verified against its "
             "manifest", "evidence", query=(("exchanges", "true to include the captured exchanges"),)),
    *PIN_ENDPOINTS,
    *TIMELINE_ENDPOINTS,
    *BUNDLE_ENDPOINTS,
    *ALERT_ENDPOINTS,
)


def _route(plane: AdminPlane, ep: Endpoint, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        return await handler(plane, request)

    return Route(ep.path, endpoint, methods=[ep.method], name=f"{ep.method} {ep.path}")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal_error", f"internal error ({type(exc).__name__})")


def build_admin_app(deps: AdminDeps) -> Starlette:
    """The admin Starlette app; `app.state.plane.drain()` awaits background webhook/revocation tasks."""
    plane = AdminPlane(deps)
    document = build_openapi(ENDPOINTS)

    async def openapi(_: AdminPlane, request: Request) -> Response:
        return json_response(document)

    routes = [_route(plane, ep, openapi if ep.handler is _openapi else ep.handler) for ep in ENDPOINTS]
    # The responder console: its pages, and its cookie path (session + CSRF) in the auth middleware.
    console = ConsoleSessions(deps.store, deps.tokens, deps.token_labels)
    upstreams = [u.name for u in deps.config.upstreams] if deps.config is not None else []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await plane.drain(grace_seconds=5.0)

    app = Starlette(
        routes=[*routes, console_mount(console, deps.audit, upstreams)], lifespan=lifespan,
        middleware=[Middleware(BearerAuth, tokens=deps.tokens, labels=deps.token_labels,
                               console=ConsoleGate(console, deps.audit))],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.state.plane = plane
    return app
