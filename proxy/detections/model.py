"""What the detections read (observations of decided messages) and what they write (alerts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.types import Severity

DETECTIONS: dict[str, str] = {  # detection id → MITRE ATLAS technique
    "sensitive_first_use": "AML.T0053",  # AI Agent Tool Invocation
    "sequence_deviation": "AML.T0053",
    "velocity": "AML.T0034",  # Cost Harvesting (call bursts); bulk reads are reported with AML.T0025
    "new_egress_destination": "AML.T0086",  # Exfiltration via AI Agent Tool Invocation
    "result_exfiltration": "AML.T0086",
    "result_injection": "AML.T0051.001",  # LLM Prompt Injection: Indirect
    "credential_misuse": "AML.T0012",  # Valid Accounts
}
ATLAS_BULK_READ = "AML.T0025"  # Exfiltration via Cyber Means


@dataclass(slots=True)
class Observation:
    """A decided message, as much of it as the detections need (taken after its audit event is written).

    Not frozen: one is built per call on the hot path, and a frozen init pays a setattr per field."""

    at: float
    event_id: str
    call_id: str | None
    request: bool  # an agent's request (True) or the upstream's answer to a tools/call (False)
    method: str | None
    verdict: str
    principal: str
    agent: str | None
    session_id: str | None
    client_key: str | None
    upstream: str
    tool: str | None
    credential_hash: str | None = None
    client_address: str | None = None
    user_agent: str | None = None
    hosts: tuple[tuple[str, bool], ...] = ()  # (host, allowed) destinations of a tool call
    arguments: Any = None  # a tool call's arguments, kept only when the call can send data out
    result: Any = None  # a tool result, for its fingerprint
    result_bytes: int = 0
    findings: tuple[tuple[str, Severity], ...] = ()  # (detector, severity) of a result's content findings

    @property
    def session(self) -> str:
        """The conversation: the handshake session, or the client key of a stateless client."""
        return self.client_key or self.session_id or f"principal:{self.principal}"

    @property
    def actor(self) -> str:
        """Who a baseline belongs to: the agent, or the principal when the agent is not named."""
        return self.agent or f"principal:{self.principal}"


@dataclass(frozen=True, slots=True)
class Alert:
    """One detection that fired. `window` holds the figures that tripped it."""

    detection: str
    severity: Severity
    summary: str
    scope: str  # session | principal | agent | credential
    observation: Observation
    window: dict[str, Any] = field(default_factory=dict)
    event_ids: tuple[str, ...] = ()
    atlas: str | None = None

    @property
    def technique(self) -> str:
        return self.atlas or DETECTIONS[self.detection]
