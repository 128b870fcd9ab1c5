"""Feed every decided message into the evidence ring buffers, bounded, as the agent saw it, secrets masked."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from proxy.content.model import SECRETS
from proxy.content.scanner import detect
from proxy.decision import Decision
from proxy.evidence.recorder import EvidenceRecorder
from proxy.exchange import Exchange
from proxy.types import Direction

MAX_INLINE_BYTES = 64 * 1024
_SECRETS = frozenset({SECRETS})
_MAX_NODES = 20_000


def session_key(ex: Exchange) -> str:
    """The client key the responder sees (handshake session id, or a stateless client's key); stdio and
    exchanges without one fall back to a stable principal/agent key."""
    return ex.client_key or ex.session_id or f"stateless:{ex.principal}:{ex.agent or '-'}"


def mask_secret(secret: str) -> str:
    """A secret as evidence holds it: enough to recognise and match it, never enough to use it."""
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"[MASKED {secret[:4]}…{len(secret)} chars sha256:{digest}]"


def mask_secrets(value: Any) -> Any:
    """A copy of a JSON value with every credential the secret detectors find replaced by `mask_secret`."""
    budget = [_MAX_NODES]

    def walk(node: Any) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            return "[MASKED: message too large to check]" if isinstance(node, str) else node
        if isinstance(node, str):
            spans = sorted(span for hit in detect(node, _SECRETS) for span in hit.spans)
            if not spans:
                return node
            out, pos = [], 0
            for start, end in spans:
                if start < pos:
                    continue
                out += [node[pos:start], mask_secret(node[start:end])]
                pos = end
            return "".join([*out, node[pos:]])
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)


def evidence_entry(ex: Exchange, decision: Decision) -> dict[str, Any]:
    """What was sent, or what the agent was given (after any rewrite), and the decision about it.

    Messages over 64 KiB are recorded by size only, so the hot path never serialises a large result
    twice; a refused answer is recorded as refused, never with the content that was withheld; a refused
    request, or any message with a credential finding, is recorded with its credentials masked.
    """
    delivered: Any
    if decision.blocks and ex.direction is Direction.TO_CLIENT:
        delivered = {"withheld": True}
    elif ex.raw_size > MAX_INLINE_BYTES:
        delivered = {"truncated": True, "bytes": ex.raw_size}
    else:
        delivered = decision.message if decision.message is not None else ex.message
        if decision.blocks or any(f.detector.startswith("secrets.") for f in decision.findings):
            delivered = mask_secrets(delivered)
    return {"ts": time.time(), "direction": ex.direction, "method": ex.method, "id": ex.id, "tool": ex.tool_name,
            "call_id": ex.call_id, "verdict": decision.verdict, "rule_ids": decision.rule_ids,
            "check": decision.check or None, "findings": [f.as_dict() for f in decision.findings],
            "message": delivered}


def record(recorder: EvidenceRecorder, ex: Exchange, decision: Decision) -> None:
    recorder.record(session_key(ex), ex.principal, ex.agent, evidence_entry(ex, decision))
