"""The ordered registry: this list is the run order. No discovery by scanning packages."""

from __future__ import annotations

from proxy.approvals import ApprovalBook
from proxy.approvals.state_token import StateSealer
from proxy.catalog import ToolCatalog
from proxy.inspections.approval import ApprovalCheck
from proxy.inspections.canary import CanaryCheck
from proxy.inspections.containment import ContainmentGate
from proxy.inspections.content import ContentAgentAnswerCheck, ContentAnswerCheck, ContentRequestCheck
from proxy.inspections.egress import EgressCheck
from proxy.inspections.list_filter import ListingFilter
from proxy.inspections.method_gate import UnknownMethodGate
from proxy.inspections.modern_headers import ModernHeaderCheck
from proxy.inspections.pairing import AnswerPairing
from proxy.inspections.params_shape import ParamsShapeGate
from proxy.inspections.pins import PinCheck
from proxy.inspections.policy_check import PolicyCheck
from proxy.inspections.rate_limit import RateLimitCheck
from proxy.pairing import ServerRequests
from proxy.pins.enforcer import PinEnforcer
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.state.model import Store


def build_registry(holder: PolicyHolder, store: Store, catalog: ToolCatalog,
                   pins: PinEnforcer | None = None, approvals: ApprovalBook | None = None,
                   pairing: ServerRequests | None = None, sealer: StateSealer | None = None) -> list[Inspection]:
    """Inspections in run order: containment first (a quarantined subject gets nothing further), answers
    paired with their requests, cheap structural gates, egress and content of requests, pins (on the
    upstream's full listing), policy, rate limits (only calls that would pass draw a token), human approval
    (last of the checks that refuse: nobody is asked about a call that would be refused anyway), then the
    rewriting of answers (listing filter, content of answers, content of the agent's answers to the server)."""
    return [
        ContainmentGate(store, catalog),
        AnswerPairing(),
        CanaryCheck(holder),
        ModernHeaderCheck(),
        UnknownMethodGate(holder),
        ParamsShapeGate(),
        EgressCheck(holder, store),
        ContentRequestCheck(holder),
        *([PinCheck(pins)] if pins is not None else []),
        PolicyCheck(holder),
        RateLimitCheck(store, holder),
        *([ApprovalCheck(holder, approvals, pairing, sealer)] if approvals is not None and pairing is not None
          else []),
        ListingFilter(holder, store),
        ContentAnswerCheck(holder),
        ContentAgentAnswerCheck(holder),
    ]
