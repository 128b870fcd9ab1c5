"""Decisions and findings: what inspections return, as values."""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.errors import ErrorCode
from proxy.jsonrpc import error_response
from proxy.types import JsonObject, RequestId, Severity, Verdict


@dataclass(frozen=True, slots=True)
class Finding:
    """Something an inspection noticed. `excerpt` must already be masked."""

    detector: str
    severity: Severity
    message: str
    path: str | None = None
    excerpt: str | None = None
    atlas: str | None = None
    surface: str | None = None  # tool_description, tool_arguments, tool_result, resource, prompt, sampling, …

    def as_dict(self) -> JsonObject:
        out: JsonObject = {"detector": self.detector, "severity": self.severity.label, "message": self.message}
        if self.path is not None:
            out["path"] = self.path
        if self.excerpt is not None:
            out["excerpt"] = self.excerpt
        if self.atlas is not None:
            out["atlas"] = self.atlas
        if self.surface is not None:
            out["surface"] = self.surface
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """One inspection's verdict, or the pipeline's final one.

    `reason` is shown to the agent on deny: it names the rule or check and never holds a secret.
    `message` carries the rewritten JSON-RPC message when `verdict` is REWRITE.
    """

    verdict: Verdict
    reason: str = ""
    rule_ids: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    code: ErrorCode = ErrorCode.POLICY_DENIED
    message: JsonObject | None = None
    check: str = ""  # name of the inspection that decided
    error_data: JsonObject | None = field(default=None, compare=False)
    note: JsonObject | None = field(default=None, compare=False)  # a REWRITE's account of what it changed
    rewrites: tuple[JsonObject, ...] = ()  # the pipeline's list: every check that changed the message, and how
    reply: JsonObject | None = field(default=None, compare=False)  # a blocked request answered with this result
    would_deny: JsonObject | None = field(default=None, compare=False)  # shadow: the refusal waived

    @property
    def blocks(self) -> bool:
        return self.verdict is Verdict.DENY or self.verdict is Verdict.QUARANTINE

    @property
    def severity(self) -> Severity:
        if not self.findings:
            return Severity.SEV4 if self.blocks else Severity.NONE
        worst = min(f.severity for f in self.findings)
        return Severity.SEV4 if worst is Severity.NONE and self.blocks else worst


ALLOW = Decision(Verdict.ALLOW)


def deny(reason: str, *, code: ErrorCode = ErrorCode.POLICY_DENIED, rule_ids: tuple[str, ...] = (),
         findings: tuple[Finding, ...] = (), check: str = "", error_data: JsonObject | None = None) -> Decision:
    """Shorthand for a deny decision."""
    return Decision(Verdict.DENY, reason=reason, rule_ids=rule_ids, findings=findings, code=code, check=check,
                    error_data=error_data)


def refusal_response(request_id: RequestId | None, decision: Decision) -> JsonObject:
    """The JSON-RPC error an agent receives for a refused request: stable code, reason, rule ids (or, for a
    request the proxy answers itself, such as an approval asked in the agent's UI, that result)."""
    if decision.reply is not None:
        return {"jsonrpc": "2.0", "id": request_id, "result": decision.reply}
    data: JsonObject = {"check": decision.check or None, "rule_ids": list(decision.rule_ids)}
    if decision.error_data:
        data.update(decision.error_data)
    return error_response(request_id, decision.code, decision.reason, data)
