"""Deny overlays (tools refused on top of policy), egress denies (destination hosts refused) and rate limits."""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import Response

from proxy.containment.durations import parse_duration
from proxy.state.model import DenyOverlay, EgressDeny, RateLimit

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

ToolGlob = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.:/*-]{1,128}$")]
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalize_host(value: str) -> str:
    """A bare host (lowercase, punycode) or IP literal; `*.example.com` allowed; no scheme, port or path."""
    host = value.strip().lower().rstrip(".")
    if not host or (any(ch in host for ch in "/:@?#[] \t") and not _is_ip(host)):
        raise ValueError("give a bare host name such as attacker.example (no scheme, port or path)")
    if _is_ip(host):
        return str(ipaddress.ip_address(host))
    wildcard = host.startswith("*.")
    try:
        ascii_host = (host[2:] if wildcard else host).encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} is not a valid host name") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid host name (only a leading `*.` wildcard is allowed)")
    return ("*." if wildcard else "") + ascii_host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class DenyToolsBody(TimedActionBody):
    agent: Subject | None = None
    principal: Subject | None = None
    tools: list[ToolGlob] = Field(min_length=1, max_length=64)  # `*` is the only wildcard

    @model_validator(mode="after")
    def _exactly_one(self) -> DenyToolsBody:
        if (self.agent is None) == (self.principal is None):
            raise ValueError("give exactly one of agent, principal")
        return self


class EgressDenyBody(TimedActionBody):
    host: str = Field(min_length=1, max_length=300)
    agent: Subject | None = None
    principal: Subject | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return normalize_host(value)


class RateLimitBody(TimedActionBody):
    principal: Subject | None = None
    agent: Subject | None = None
    upstream: Subject | None = None
    tools: list[ToolGlob] = Field(default_factory=lambda: ["*"], min_length=1, max_length=64)
    calls: int = Field(ge=1, le=1_000_000)
    per: str | int = "60"  # a duration: `1m`, `1h`, or seconds

    @field_validator("per")
    @classmethod
    def _per(cls, value: str | int) -> int:
        return parse_duration(value, max_seconds=86_400)

    @model_validator(mode="after")
    def _exactly_one(self) -> RateLimitBody:
        if sum(x is not None for x in (self.principal, self.agent, self.upstream)) != 1:
            raise ValueError("give exactly one of principal, agent, upstream")
        return self


class RemoveBody(ActionBody):
    pass


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def _timed_fields(body: TimedActionBody, actor: str, expires: float | None) -> dict[str, Any]:
    return {"actor": actor, "reason": body.reason, "ticket": body.ticket, "ttl_seconds": body.ttl_seconds,
            "expires": iso(expires)}


async def create_deny_tools(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, DenyToolsBody)
    actor, now = actor_of(request), time.time()
    kind: Literal["agent", "principal"] = "agent" if body.agent is not None else "principal"
    overlay = DenyOverlay(_new_id("dt"), kind, body.agent or body.principal or "", tuple(dict.fromkeys(body.tools)),
                          body.reason, actor, body.ticket, created=now, expires=body.expires(now))
    fields = {**_timed_fields(body, actor, overlay.expires), "id": overlay.id, "kind": kind,
              "subject": overlay.subject, "tools": list(overlay.tools)}
    await plane.store_call(plane.deps.store.put_deny_overlay(overlay), "deny_tools", **fields)
    plane.announce("deny_tools", **fields)
    return json_response({"deny_tools": view(overlay, now)}, 201)


async def list_deny_tools(plane: AdminPlane, request: Request) -> Response:
    now = time.time()
    rows = [view(o, now) for o in plane.deps.store.state().deny_overlays if o.expires is None or now < o.expires]
    return json_response({"deny_tools": rows})


async def _remove(plane: AdminPlane, request: Request, entry_id: str,
                  remover: Callable[[str], Awaitable[bool]], action: str, what: str) -> Response:
    """Lift one overlay entry: audited, 404 when there is no such live entry."""
    body = await read_model(request, RemoveBody)
    actor = actor_of(request)
    fields = {"id": entry_id, "reason": body.reason, "ticket": body.ticket}
    if not await plane.store_call(remover(entry_id), action, actor, **fields):
        raise ApiError(404, "not_found", f"no {what} {entry_id}")
    plane.announce(action, actor=actor, **fields)
    return json_response({"removed": entry_id})


async def remove_deny_tools(plane: AdminPlane, request: Request) -> Response:
    return await _remove(plane, request, request.path_params["overlay_id"], plane.deps.store.remove_deny_overlay,
                         "deny_tools_removed", "deny-tools entry")


async def create_egress_deny(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, EgressDenyBody)
    actor, now = actor_of(request), time.time()
    deny = EgressDeny(_new_id("eg"), body.host, body.reason, actor, agent=body.agent, principal=body.principal,
                      ticket=body.ticket, created=now, expires=body.expires(now))
    fields = {**_timed_fields(body, actor, deny.expires), "id": deny.id, "host": deny.host, "agent": deny.agent,
              "principal": deny.principal}
    await plane.store_call(plane.deps.store.put_egress_deny(deny), "egress_deny", **fields)
    plane.announce("egress_deny", **fields)
    return json_response({"egress_deny": view(deny, now)}, 201)


async def list_egress_denies(plane: AdminPlane, request: Request) -> Response:
    now = time.time()
    rows = [view(d, now) for d in plane.deps.store.state().egress_denies if d.expires is None or now < d.expires]
    return json_response({"egress_denies": rows})


async def remove_egress_deny(plane: AdminPlane, request: Request) -> Response:
    return await _remove(plane, request, request.path_params["deny_id"], plane.deps.store.remove_egress_deny,
                         "egress_deny_removed", "egress deny")


async def create_rate_limit(plane: AdminPlane, request: Request) -> Response:
    body = await read_model(request, RateLimitBody)
    actor, now = actor_of(request), time.time()
    kind: Literal["principal", "agent", "upstream"] = (
        "principal" if body.principal is not None else "agent" if body.agent is not None else "upstream")
    limit = RateLimit(_new_id("rl"), kind, body.principal or body.agent or body.upstream or "", body.calls,
                      float(body.per), body.reason, actor, tuple(dict.fromkeys(body.tools)), body.ticket,
                      created=now, expires=body.expires(now))
    fields = {**_timed_fields(body, actor, limit.expires), "id": limit.id, "kind": kind, "subject": limit.subject,
              "tools": list(limit.tools), "calls": limit.calls, "per_seconds": limit.per_seconds}
    await plane.store_call(plane.deps.store.put_rate_limit(limit), "rate_limit", **fields)
    plane.announce("rate_limit", **fields)
    return json_response({"rate_limit": view(limit, now)}, 201)


async def list_rate_limits(plane: AdminPlane, request: Request) -> Response:
    now = time.time()
    rows = [view(r, now) for r in plane.deps.store.state().rate_limits if r.expires is None or now < r.expires]
    return json_response({"rate_limits": rows})


async def remove_rate_limit(plane: AdminPlane, request: Request) -> Response:
    return await _remove(plane, request, request.path_params["limit_id"], plane.deps.store.remove_rate_limit,
                         "rate_limit_removed", "rate limit")
