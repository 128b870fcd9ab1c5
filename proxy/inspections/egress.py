"""Egress allowlist: refuse a tool call whose destinations the caller may not reach, before the
server sees it. Every destination seen is listed in the audit event (`ex.notes["destinations"]`).
"""

from __future__ import annotations

from proxy.content.egress import Destination, EgressPolicy, destinations, internal_kind
from proxy.content.model import ATLAS_EXFIL_TOOL
from proxy.content.settings import EgressSettings
from proxy.decision import Decision, Finding, deny
from proxy.exchange import Exchange
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.types import Direction, MessageKind, Severity, Verdict

RULE = "egress-allowlist"
DESTINATIONS_NOTE = "destinations"


class EgressCheck(Inspection):
    """Collect destinations from tool arguments and check them against `settings.egress`."""

    name = "egress"
    methods = frozenset({"tools/call"})
    directions = frozenset({Direction.TO_SERVER})
    kinds = frozenset({MessageKind.REQUEST})

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder
        self._settings: EgressSettings | None = None
        self._policy: EgressPolicy | None = None

    def _compiled(self, settings: EgressSettings) -> EgressPolicy:
        if self._policy is None or self._settings is not settings:
            self._settings, self._policy = settings, EgressPolicy(settings)
        return self._policy

    def inspect(self, ex: Exchange) -> Decision | None:
        settings = self._holder.policy.settings.egress
        tool = ex.tool_name
        if not settings.enabled or tool is None:
            return None
        policy = self._compiled(settings)
        found = destinations(ex.arguments, settings, policy.declared_paths(tool))
        if not found:
            return None
        seen = list(dict.fromkeys(d.value for d in found))
        ex.notes[DESTINATIONS_NOTE] = [*ex.notes.get(DESTINATIONS_NOTE, []), *seen]
        findings = []
        for dest in found:
            why = policy.refusal(dest, ex.principal, ex.agent, tool, ex.upstream)
            if why is not None:
                findings.append(_finding(dest, why))
        if not findings:
            return None
        if settings.action == "detect":
            return Decision(Verdict.ALLOW, findings=tuple(findings), check=self.name)
        first = findings[0]
        return deny(f"egress to {first.excerpt} refused: {first.message}", rule_ids=(RULE,),
                    findings=tuple(findings), check=self.name)


def _finding(dest: Destination, why: str) -> Finding:
    kind = internal_kind(dest)
    if kind == "metadata service":
        detector, severity = "egress.metadata_service", Severity.SEV2
    elif kind is not None:
        detector, severity = "egress.internal_address", Severity.SEV3
    else:
        detector, severity = "egress.not_allowlisted", Severity.SEV3
    return Finding(detector, severity, why, path=f"$.params.arguments.{dest.path}", excerpt=dest.value,
                   atlas=ATLAS_EXFIL_TOOL, surface="tool_arguments")
