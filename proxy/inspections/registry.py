"""The ordered registry: this list is the run order. No discovery by scanning packages."""

from __future__ import annotations

from proxy.catalog import ToolCatalog
from proxy.inspections.canary import CanaryCheck
from proxy.inspections.containment import ContainmentGate
from proxy.inspections.content import ContentAnswerCheck, ContentRequestCheck
from proxy.inspections.egress import EgressCheck
from proxy.inspections.list_filter import ListingFilter
from proxy.inspections.method_gate import UnknownMethodGate
from proxy.inspections.modern_headers import ModernHeaderCheck
from proxy.inspections.pins import PinCheck
from proxy.inspections.policy_check import PolicyCheck
from proxy.pins.enforcer import PinEnforcer
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.state.model import Store


def build_registry(holder: PolicyHolder, store: Store, catalog: ToolCatalog,
                   pins: PinEnforcer | None = None) -> list[Inspection]:
    """Inspections in run order: containment first (a quarantined subject gets nothing further), cheap
    structural gates, content of requests, pins (on the upstream's full listing), policy, then the
    rewriting of answers (listing filter, content of answers)."""
    return [
        ContainmentGate(store, catalog),
        CanaryCheck(holder),
        ModernHeaderCheck(),
        UnknownMethodGate(holder),
        EgressCheck(holder),
        ContentRequestCheck(holder),
        *([PinCheck(pins)] if pins is not None else []),
        PolicyCheck(holder),
        ListingFilter(holder),
        ContentAnswerCheck(holder),
    ]
