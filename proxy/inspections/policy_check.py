"""Decide every request and notification, both ways, against the policy in force."""

from __future__ import annotations

from proxy.decision import Decision, Finding, deny
from proxy.exchange import Exchange
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder, Query
from proxy.types import MessageKind, Severity, Verdict


class PolicyCheck(Inspection):
    """Forbid overrides permit; no permit means deny. The decision names the rules."""

    name = "policy"
    kinds = frozenset({MessageKind.REQUEST, MessageKind.NOTIFICATION})

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder
        self._allowed: dict[tuple[str, ...], Decision] = {}

    def inspect(self, ex: Exchange) -> Decision | None:
        result = self._holder.policy.evaluate(Query(
            direction=ex.direction.value, principal=ex.principal, agent=ex.agent, upstream=ex.upstream,
            method=ex.method or "", name=ex.target_name, arguments=ex.arguments,
        ))
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
