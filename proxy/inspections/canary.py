"""Canary tools: honeytokens a policy declares. Listed like any tool, never legitimately called.

A call is a SEV-1 finding (an agent acting on injected instructions, or an intruder exploring). The
agent is told only that the call is not permitted, so the trap is not revealed; the audit event and
automated containment (`settings.auto_containment`) see the real reason.
"""

from __future__ import annotations

from proxy.decision import Decision, Finding
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.policy.engine import DEFAULT_DENY
from proxy.types import Direction, MessageKind, Severity, Verdict

CANARY_RULE = "canary-tool"
CANARY_DETECTOR = "canary.call"


def is_canary(holder: PolicyHolder, name: str | None) -> bool:
    globs = holder.policy.settings.canary_tools
    return bool(globs) and name is not None and cached_globs(globs).fullmatch(name) is not None


class CanaryCheck(Inspection):
    name = "canary"
    methods = frozenset({"tools/call"})
    directions = frozenset({Direction.TO_SERVER})
    kinds = frozenset({MessageKind.REQUEST})

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder

    def inspect(self, ex: Exchange) -> Decision | None:
        if not is_canary(self._holder, ex.tool_name):
            return None
        what = f"tools/call {ex.tool_name}"
        finding = Finding(detector=CANARY_DETECTOR, severity=Severity.SEV1, surface="tool_arguments",
                          message=f"canary tool {ex.tool_name} called", atlas="AML.T0053")
        return Decision(Verdict.QUARANTINE, reason=f"{what} is not permitted by policy (no permit rule matches: "
                        f"{DEFAULT_DENY})", rule_ids=(CANARY_RULE,), findings=(finding,), code=ErrorCode.POLICY_DENIED,
                        check=self.name, error_data={"check": "policy", "rule_ids": [DEFAULT_DENY]})
