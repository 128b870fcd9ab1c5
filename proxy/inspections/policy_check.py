"""Decide every request and notification, both ways, against the policy in force (and a candidate beside it)."""

from __future__ import annotations

from proxy.decision import Decision, Finding, deny
from proxy.exchange import Exchange
from proxy.pipeline import Inspection
from proxy.policy import Policy, PolicyDecision, PolicyHolder, Query
from proxy.types import JsonObject, MessageKind, Severity, Verdict

SHADOW_POLICY_NOTE = "shadow_policy"  # the candidate's differing outcome, for the audit event


def candidate_difference(enforced: PolicyDecision, candidate: Policy, query: Query) -> JsonObject | None:
    """The candidate's outcome where it differs from the enforced one (allow/deny or the deciding rules)."""
    other = candidate.evaluate(query)
    if other.allowed is enforced.allowed and other.rule_ids == enforced.rule_ids:
        return None
    return {"version": candidate.version, "verdict": "allow" if other.allowed else "deny",
            "rule_ids": list(other.rule_ids), "reason": other.reason or None}


class PolicyCheck(Inspection):
    """Forbid overrides permit; no permit means deny. The decision names the rules."""

    name = "policy"
    kinds = frozenset({MessageKind.REQUEST, MessageKind.NOTIFICATION})

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder
        self._allowed: dict[tuple[str, ...], Decision] = {}

    def inspect(self, ex: Exchange) -> Decision | None:
        query = Query(direction=ex.direction.value, principal=ex.principal, agent=ex.agent, upstream=ex.upstream,
                      method=ex.method or "", name=ex.target_name, arguments=ex.arguments)
        result = self._holder.policy.evaluate(query)
        if self._holder.candidate is not None:
            difference = candidate_difference(result, self._holder.candidate.policy, query)
            if difference is not None:
                ex.notes[SHADOW_POLICY_NOTE] = difference
        if result.allowed:
            allowed = self._allowed.get(result.rule_ids)
            if allowed is None:  # one immutable decision per permitting rule set (bounded by the policy's rules)
                allowed = self._allowed[result.rule_ids] = Decision(Verdict.ALLOW, rule_ids=result.rule_ids,
                                                                    check=self.name)
            return allowed
        declared = self._holder.policy.rule_severity(result.rule_ids)
        findings = () if declared is None else (Finding(
            detector="policy.forbid", severity=Severity(int(declared[-1])), message=result.reason),)
        return deny(result.reason, rule_ids=result.rule_ids, findings=findings, check=self.name)
