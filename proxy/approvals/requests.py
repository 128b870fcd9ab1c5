"""One approval request: bound to exactly one call (its subject, route, tool and argument hash), single use."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import orjson

from proxy.evidence.snapshot import rfc3339
from proxy.evidence_hook import mask_secrets
from proxy.state.model import RecordFields

Status = Literal["pending", "approved", "denied"]
MAX_ARGUMENTS_SHOWN = 16 * 1024  # bytes of masked arguments kept for the person who decides


def new_approval_id() -> str:
    return f"ap-{secrets.token_hex(8)}"


def shown_arguments(arguments: dict[str, Any]) -> str:
    """The arguments as an approver sees them: secrets masked, bounded in size."""
    text = orjson.dumps(mask_secrets(arguments)).decode()
    if len(text) > MAX_ARGUMENTS_SHOWN:
        return orjson.dumps({"[truncated]": text[:MAX_ARGUMENTS_SHOWN]}).decode()
    return text


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What a human approves: this principal's call of this tool with these arguments (by SHA-256)."""

    id: str
    principal: str
    agent: str | None
    session_id: str | None
    client_key: str | None
    upstream: str
    tool: str
    arguments_sha256: str
    arguments: str  # masked JSON, for display only
    policy_version: str
    rule_id: str
    created: float
    expires: float
    status: Status = "pending"
    decided_by: str | None = None
    decision_reason: str | None = None
    decided: float | None = None

    def fields(self) -> RecordFields:
        return asdict(self)

    @classmethod
    def from_fields(cls, fields: RecordFields) -> ApprovalRequest:
        known: dict[str, Any] = {k: fields.get(k) for k in cls.__dataclass_fields__}
        return cls(**known)

    def decided_as(self, status: Status, actor: str, reason: str) -> ApprovalRequest:
        return replace(self, status=status, decided_by=actor, decision_reason=reason, decided=time.time())

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires

    def audit_fields(self) -> dict[str, Any]:
        """What every approval event carries (the masked arguments stay in the store, not in the stream)."""
        return {"approval_id": self.id, "principal": self.principal, "agent": self.agent,
                "session_id": self.session_id, "upstream": self.upstream, "tool": self.tool,
                "arguments_sha256": self.arguments_sha256, "rule_id": self.rule_id,
                "policy_version": self.policy_version, "expires": rfc3339(self.expires)}

    def view(self) -> dict[str, Any]:
        """The admin API's and console's view."""
        out: dict[str, Any] = {k: v for k, v in self.fields().items() if k not in ("arguments", "client_key")}
        out.update(created=rfc3339(self.created), expires=rfc3339(self.expires),
                   decided=rfc3339(self.decided) if self.decided is not None else None,
                   arguments=orjson.loads(self.arguments), client_key=self.client_key,
                   expires_in=max(0, round(self.expires - time.time())))
        return out
