"""Shadow mode (dry run): the one place that decides whether a refusal is waived.

For an exchange that `settings.shadow` covers (the whole policy set, an upstream route, a principal or an
agent), a guardrail's refusal is audited as `would_deny` and the message goes through; the pipeline then
runs the remaining checks, so the event states everything the message would have met. What is never
waived: containment (a responder's quarantine, deny-tools, egress deny or rate limit), structural errors
(parse, limits, authentication, headers, unpaired answers) and failing closed (an inspection that raised
or timed out, shared state that is down, settling or audit failures).

Rewrites are not refusals: content strip/redact, listing filters and pins' hiding still change the
message in shadow (they cut out secrets and injections without stopping the work).
"""

from __future__ import annotations

from proxy.decision import Decision
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.policy import PolicyHolder
from proxy.types import JsonObject

# The guardrails whose refusals shadow may waive (inspection names; "approval" holds a call for a human).
GUARDRAILS = frozenset({"policy", "unknown_method", "content", "egress", "pins", "canary", "rate_limit",
                        "approval"})
# Refusals that fail closed or carry out containment: enforced whatever the check.
ENFORCED_CODES = frozenset({ErrorCode.INSPECTION_FAILED, ErrorCode.INTERNAL_ERROR, ErrorCode.QUARANTINED})
CONTAINMENT_RULE_PREFIX = "containment-"


def waivable(decision: Decision, check: str) -> bool:
    """Is this refusal a guardrail's judgement (not containment, not a failure, not a malformed message)?"""
    return (check in GUARDRAILS and decision.code not in ENFORCED_CODES
            and not any(r.startswith(CONTAINMENT_RULE_PREFIX) for r in decision.rule_ids))


def would_deny(decision: Decision, check: str) -> JsonObject:
    """The audit event's account of a waived refusal."""
    return {"check": check, "reason": decision.reason, "rule_ids": list(decision.rule_ids),
            "error_code": int(decision.code)}


class Shadow:
    """Asked by the pipeline about refusals only: an allowed message never reaches it."""

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder

    def covers(self, ex: Exchange) -> bool:
        """Does `settings.shadow` put this exchange in shadow? (The approval check asks before holding a call.)"""
        settings = self._holder.policy.settings.shadow
        return settings.active and settings.covers(ex.upstream, ex.principal, ex.agent)

    def waive(self, ex: Exchange, decision: Decision, check: str) -> JsonObject | None:
        """`would_deny` for a refusal shadow lets through; None: the refusal stands."""
        if not waivable(decision, check) or not self.covers(ex):
            return None
        return would_deny(decision, check)
