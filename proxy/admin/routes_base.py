"""What every admin route shares: JSON bodies with limits, errors, views, and the action sequence."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import Response

from proxy.audit.event import system_event
from proxy.containment.durations import parse_duration
from proxy.evidence.snapshot import rfc3339

from .auth import ACTOR_KEY

if TYPE_CHECKING:
    from .app import AdminDeps

MAX_BODY_BYTES = 64 * 1024
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class ApiError(Exception):
    """An answer other than success: HTTP status, stable code, one-line message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Ticket = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Body(BaseModel):
    """Request bodies: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionBody(Body):
    reason: Reason
    ticket: Ticket | None = None


class TimedActionBody(ActionBody):
    ttl: str | int | None = None  # `72h`, `30m`, `7d` or seconds; none = until removed

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str | int | None) -> int | None:
        return None if value is None else parse_duration(value)

    @property
    def ttl_seconds(self) -> int | None:
        return None if self.ttl is None else int(self.ttl)

    def expires(self, now: float) -> float | None:
        seconds = self.ttl_seconds
        return None if seconds is None else now + seconds


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, default=str), status_code=status, media_type="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def actor_of(request: Request) -> str:
    return str(request.scope.get(ACTOR_KEY, "unknown"))


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: unknown field" if err["type"] == "extra_forbidden" else f"{where}: {err['msg']}")
    return "; ".join(parts)


async def read_model(request: Request, model: type[M]) -> M:
    """The body as `model`: JSON object only, at most 64 KiB, no unknown keys (413 / 415 / 400)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as JSON with content-type: application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"request body is larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        data = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", _validation_message(exc)) from None


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else rfc3339(epoch)


def view(record: Any, now: float) -> dict[str, Any]:
    """A containment record for the API: timestamps as RFC 3339, plus seconds left."""
    data: dict[str, Any] = dataclasses.asdict(record)
    expires = data.get("expires")
    data["created"], data["expires"] = iso(data.get("created")), iso(expires)
    data["expires_in"] = None if expires is None else max(0, int(expires - now))
    return data


class AdminPlane:
    """The deps plus the helpers every route shares; containment side effects live in `ContainmentService`."""

    def __init__(self, deps: AdminDeps) -> None:
        self.deps = deps

    def audit(self, event_type: str, **fields: Any) -> None:
        self.deps.audit(system_event(event_type, **fields))

    async def store_call(self, call: Awaitable[T], action: str, actor: str, **fields: Any) -> T:
        """Await one store write; on failure audit it and answer 503 (the action did not happen)."""
        try:
            return await call
        except Exception as exc:
            self.audit("containment_action_failed", action=action, actor=actor,
                       error=f"{type(exc).__name__}: {str(exc)[:200]}", **fields)
            raise ApiError(503, "store_unavailable", f"state store refused the change ({type(exc).__name__})") from None

    def announce(self, action: str, **fields: Any) -> None:
        """Audit a completed action (`containment_action`), then notify the webhook in the background."""
        self.deps.containment.announce(action, **fields)

    async def drain(self, grace_seconds: float = 10.0) -> None:
        """Wait for background side effects (at shutdown and in tests); cancel what is left."""
        await self.deps.containment.drain(grace_seconds)


Handler = Callable[[AdminPlane, Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row of the route table, which builds both the router and the OpenAPI document."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: tuple[tuple[str, str], ...] = ()
    status: int = 200
