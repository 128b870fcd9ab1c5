"""The ordered registry: this list is the run order. No discovery by scanning packages."""

from __future__ import annotations

from proxy.inspections.list_filter import ListingFilter
from proxy.inspections.method_gate import UnknownMethodGate
from proxy.inspections.modern_headers import ModernHeaderCheck
from proxy.inspections.policy_check import PolicyCheck
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder


def build_registry(holder: PolicyHolder) -> list[Inspection]:
    """Inspections in run order: cheap structural gates first, policy, then answer rewriting."""
    return [
        ModernHeaderCheck(),
        UnknownMethodGate(holder),
        PolicyCheck(holder),
        ListingFilter(holder),
    ]
