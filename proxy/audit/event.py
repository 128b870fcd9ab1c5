"""The audit event schema (documented in README.md, "Audit event schema"). Hashes, never secrets."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import rfc8785

from proxy.decision import Decision
from proxy.exchange import Exchange
from proxy.types import Direction, JsonObject

SCHEMA_VERSION = "1.0"


def canonical_sha256(value: Any) -> str:
    """SHA-256 over the RFC 8785 (JCS) canonical JSON of a value."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _base(event_type: str) -> JsonObject:
    return {"schema_version": SCHEMA_VERSION, "event_id": str(uuid.uuid4()), "timestamp": _now(),
            "event_type": event_type}


def decision_event(ex: Exchange, decision: Decision, policy_version: str) -> JsonObject:
    """Build the event for one decision about one exchange."""
    event = _base("decision")
    to_server = ex.direction is Direction.TO_SERVER
    arguments = ex.arguments
    event.update({
        "direction": ex.direction.value,
        "era": ex.era.value,
        "transport": ex.transport.value,
        "upstream": ex.upstream,
        "session_id": ex.session_id,
        "principal": ex.principal,
        "agent": ex.agent,
        "client_address": ex.client_address,
        "credential_sha256": ex.credential_hash,
        "jsonrpc": {"kind": ex.kind.value, "method": ex.method, "id": ex.id},
        "tool": ex.tool_name,
        "target": ex.target_name,
        "arguments_sha256": canonical_sha256(arguments) if to_server and "arguments" in ex.params else None,
        "request_bytes": ex.raw_size if to_server else None,
        "result_bytes": None if to_server else ex.raw_size,
        "destinations": ex.notes.get("destinations", []),
        "verdict": decision.verdict.value,
        "check": decision.check or None,
        "reason": decision.reason or None,
        "error_code": int(decision.code) if decision.blocks else None,
        "rule_ids": list(decision.rule_ids),
        "findings": [f.as_dict() for f in decision.findings],
        "severity": decision.severity.label,
        "policy_version": policy_version,
        "latency_ms": round((time.perf_counter() - ex.started) * 1000, 3),
    })
    return event


def system_event(event_type: str, **fields: Any) -> JsonObject:
    """Events that are not about one message: policy reloads, start-up, shutdown."""
    event = _base(event_type)
    event.update(fields)
    return event
