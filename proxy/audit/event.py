"""The audit event schema (documented in README.md, "Audit event schema"). Hashes, never secrets."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from proxy.canonical import canonical_sha256
from proxy.decision import Decision
from proxy.detections.model import Alert
from proxy.exchange import Exchange
from proxy.tracecontext import meta_trace_id
from proxy.types import Direction, JsonObject

SCHEMA_VERSION = "1.1"
_ids = random.Random()  # noqa: S311 - event ids need uniqueness, not secrecy; seeded from os.urandom
os.register_at_fork(after_in_child=_ids.seed)  # a forked worker must not repeat its parent's ids


_second_cache: list[Any] = [-1, ""]


def _now() -> str:
    """RFC 3339 UTC timestamp with milliseconds (the per-second prefix is formatted once)."""
    now = time.time()
    second = int(now)
    if second != _second_cache[0]:
        _second_cache[0], _second_cache[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second_cache[1]}.{int((now - second) * 1000):03d}Z"


_UUID4_BITS = (0x4 << 76) | (0x2 << 62)
_UUID4_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)


def _event_id() -> str:
    """A random version-4 UUID. Event ids need uniqueness, not secrecy: no syscall per event."""
    x = f"{(_ids.getrandbits(128) & _UUID4_MASK) | _UUID4_BITS:032x}"
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _base(event_type: str) -> JsonObject:
    return {"schema_version": SCHEMA_VERSION, "event_id": _event_id(), "timestamp": _now(),
            "event_type": event_type}


def new_call_id() -> str:
    """An id joining a request's event to its answer's (same generator as event ids)."""
    return _event_id()


def decision_event(ex: Exchange, decision: Decision, policy_version: str) -> JsonObject:
    """Build the event for one decision about one exchange (enums serialise as their values).

    Every message that crosses the proxy, and every one the proxy emits itself (`origin: proxy`), gets
    exactly one such event, stating the final outcome and every check that changed the message.
    """
    to_server = ex.direction is Direction.TO_SERVER
    blocks = decision.blocks
    if ex.call_id is None:
        ex.call_id = _event_id()
    event: JsonObject = {
        "schema_version": SCHEMA_VERSION,
        "event_id": _event_id(),
        "timestamp": _now(),
        "event_type": "decision",
        "direction": ex.direction,
        "origin": ex.origin,
        "era": ex.era,
        "transport": ex.transport,
        "upstream": ex.upstream,
        "session_id": ex.session_id,
        "client_key": ex.client_key,
        "call_id": ex.call_id,
        "trace_id": ex.trace_id or meta_trace_id(ex.params),
        "principal": ex.principal,
        "agent": ex.agent,
        "client_address": ex.client_address,
        "credential_sha256": ex.credential_hash,
        "jsonrpc": {"kind": ex.kind, "method": ex.method, "id": ex.id},
        "http": None if ex.http_method is None else {"method": ex.http_method, "status": ex.http_status},
        "tool": ex.tool_name,
        "target": ex.target_name,
        "arguments_sha256": canonical_sha256(ex.arguments) if to_server and "arguments" in ex.params else None,
        "request_bytes": ex.raw_size if to_server else None,
        "result_bytes": None if to_server else ex.raw_size,
        "destinations": ex.notes.get("destinations", []),
        "approval": ex.notes.get("approval"),
        "verdict": decision.verdict,
        "check": decision.check or None,
        "reason": decision.reason or None,
        "error_code": int(decision.code) if blocks else None,
        "rule_ids": decision.rule_ids,
        "rewrites": list(decision.rewrites),
        "findings": [f.as_dict() for f in decision.findings],
        "severity": decision.severity.label,
        "policy_version": policy_version,
        "latency_ms": round((time.perf_counter() - ex.started) * 1000, 3),
    }
    if decision.would_deny is not None:  # shadow mode let a refusal through
        event["would_deny"] = decision.would_deny
    if "shadow_policy" in ex.notes:  # the candidate policy decided otherwise
        event["shadow_policy"] = ex.notes["shadow_policy"]
    return event


def system_event(event_type: str, **fields: Any) -> JsonObject:
    """Events that are not about one message: policy reloads, start-up, shutdown."""
    event = _base(event_type)
    event.update(fields)
    return event


def alert_event(alert: Alert) -> JsonObject:
    """The event for one behavioural detection that fired (README, "Alert events")."""
    obs = alert.observation
    event = _base("alert")
    event.update({
        "detection": alert.detection, "severity": alert.severity.label, "atlas": alert.technique,
        "summary": alert.summary, "principal": obs.principal, "agent": obs.agent, "session_id": obs.session_id,
        "client_key": obs.client_key, "upstream": obs.upstream, "tool": obs.tool, "scope": alert.scope,
        "window": alert.window, "event_ids": list(alert.event_ids), "call_id": obs.call_id,
    })
    return event
