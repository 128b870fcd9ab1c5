"""`GET /v1/alerts`: the latest alerts and findings of this replica, for the console's live feed.

Read from the tail of this replica's audit files (`AdminDeps.audit_paths`): at most `TAIL_BYTES` from the
newest files backwards, newest item first, at most `limit` items. Each `alert` event is one item; each
distinct finding of a `decision` event is one item (its detector is the item's `detection`). Filters: `severity`
(that tier or worse), `detection` (exact, or a prefix ending in `.`/`*`), `principal` (exact).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from .routes_base import AdminPlane, ApiError, Endpoint, json_response

TAIL_BYTES = 8 << 20  # newest bytes read across the audit files, per request
MAX_LIMIT = 1000
TIERS = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")


def tail_lines(paths: list[Path], budget: int = TAIL_BYTES) -> Iterator[bytes]:
    """Whole lines of `paths`, newest first (last file's last line first), within `budget` bytes."""
    for path in reversed(paths):
        if budget <= 0:
            return
        with path.open("rb") as stream:
            size = stream.seek(0, os.SEEK_END)
            start = max(0, size - budget)
            stream.seek(start)
            data = stream.read(size - start)
        budget -= len(data)
        lines = data.split(b"\n")
        if start > 0:
            lines = lines[1:]  # cut mid-line
        yield from (line for line in reversed(lines) if line.strip())


def items_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The feed items of one audit event: an alert, or each finding of a decision."""
    base = {"event_id": event.get("event_id"), "time": event.get("timestamp"),
            "principal": event.get("principal"), "agent": event.get("agent"), "session_id": event.get("session_id"),
            "client_key": event.get("client_key"), "upstream": event.get("upstream"), "tool": event.get("tool")}
    if event.get("event_type") == "alert":
        return [{**base, "kind": "alert", "detection": event.get("detection"), "severity": event.get("severity"),
                 "atlas": event.get("atlas"), "summary": event.get("summary"), "verdict": None}]
    if event.get("event_type") != "decision":
        return []
    found = event.get("findings")
    findings: list[Any] = found if isinstance(found, list) else []
    unique = {(f.get("detector"), f.get("severity"), f.get("message")): f for f in findings if isinstance(f, dict)}
    return [{**base, "kind": "finding", "detection": f.get("detector"), "severity": f.get("severity"),
             "atlas": f.get("atlas"), "summary": f.get("message"), "path": f.get("path"),
             "verdict": event.get("verdict")}
            for f in reversed(unique.values())]  # one item per distinct finding (the same text at two paths: one)


def _wanted(item: dict[str, Any], worst: int, detection: str | None, principal: str | None) -> bool:
    tier = TIERS.index(item["severity"]) if item.get("severity") in TIERS else len(TIERS)
    name = str(item.get("detection") or "")
    if detection is not None:
        prefix = detection.rstrip("*")
        matches = name.startswith(prefix) if detection.endswith(("*", ".")) else name == detection
        if not matches:
            return False
    return tier <= worst and (principal is None or item.get("principal") == principal)


def recent(paths: list[Path], limit: int, worst: int, detection: str | None,
           principal: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in tail_lines(paths):
        if b'"findings":[]' in line and b'"event_type":"decision"' in line:
            continue  # the common case: a decision with nothing to report
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            out += [item for item in items_of(event) if _wanted(item, worst, detection, principal)]
        if len(out) >= limit:
            break
    return out[:limit]


def _query(request: Request) -> tuple[int, int, str | None, str | None]:
    query = request.query_params
    raw_limit, severity = query.get("limit", "200"), query.get("severity") or None
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise ApiError(400, "invalid_request", f"limit: a whole number from 1 to {MAX_LIMIT}")
    if severity is not None and severity not in TIERS:
        raise ApiError(400, "invalid_request", f"severity: one of {', '.join(TIERS)}")
    detection, principal = query.get("detection") or None, query.get("principal") or None
    for name, value in (("detection", detection), ("principal", principal)):
        if value is not None and len(value) > 256:
            raise ApiError(400, "invalid_request", f"{name}: at most 256 characters")
    worst = TIERS.index(severity) if severity is not None else len(TIERS)
    return int(raw_limit), worst, detection, principal


async def list_alerts(plane: AdminPlane, request: Request) -> Response:
    """This replica's latest alerts and findings, newest first."""
    limit, worst, detection, principal = _query(request)
    paths = plane.deps.audit_paths()
    try:
        items = await anyio.to_thread.run_sync(partial(recent, paths, limit, worst, detection, principal))
    except OSError as exc:
        raise ApiError(503, "audit_unreadable", f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    return json_response({"items": items, "audit_files": len(paths), "replica_id": plane.deps.replica_id})


ALERT_ENDPOINTS = (
    Endpoint("GET", "/v1/alerts", list_alerts, "This replica's latest alerts and findings, newest first (from "
             "the tail of its audit files)", "observe",
             query=(("severity", "SEV-1…SEV-4: that tier or worse"), ("detection", "a detection or detector; "
                    "`injection.*` for a family"), ("principal", "one principal"), ("limit", "at most 1000"))),
)
