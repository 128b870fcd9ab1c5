"""Feed every decided message into the evidence ring buffers, bounded and as the agent saw it."""

from __future__ import annotations

import time
from typing import Any

from proxy.decision import Decision
from proxy.evidence.recorder import EvidenceRecorder
from proxy.exchange import Exchange
from proxy.types import Direction

MAX_INLINE_BYTES = 64 * 1024


def session_key(ex: Exchange) -> str:
    """The session id the responder sees, or a stable key for the stateless (modern / stdio) case."""
    return ex.session_id or f"stateless:{ex.principal}:{ex.agent or '-'}"


def evidence_entry(ex: Exchange, decision: Decision) -> dict[str, Any]:
    """What was sent, or what the agent was given (after any rewrite), and the decision about it.

    Messages over 64 KiB are recorded by size only, so the hot path never serialises a large result
    twice; a refused message is recorded as refused, never with the content that was withheld.
    """
    delivered: Any
    if decision.blocks and ex.direction is Direction.TO_CLIENT:
        delivered = {"withheld": True}
    elif ex.raw_size > MAX_INLINE_BYTES:
        delivered = {"truncated": True, "bytes": ex.raw_size}
    else:
        delivered = decision.message if decision.message is not None else ex.message
    return {"ts": time.time(), "direction": ex.direction, "method": ex.method, "id": ex.id, "tool": ex.tool_name,
            "verdict": decision.verdict, "rule_ids": decision.rule_ids, "check": decision.check or None,
            "findings": [f.as_dict() for f in decision.findings], "message": delivered}


def record(recorder: EvidenceRecorder, ex: Exchange, decision: Decision) -> None:
    recorder.record(session_key(ex), ex.principal, ex.agent, evidence_entry(ex, decision))
