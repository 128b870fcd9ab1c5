"""Refuse methods Drawbridge does not know, unless policy settings hand them to the rules."""

from __future__ import annotations

from proxy.decision import Decision, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.mcp_methods import KNOWN_METHODS
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.types import MessageKind

UNKNOWN_METHOD_RULE = "unknown-method"


class UnknownMethodGate(Inspection):
    """`settings.unknown_methods: deny` (the default) refuses any method not in the MCP spec."""

    name = "unknown_method"
    kinds = frozenset({MessageKind.REQUEST, MessageKind.NOTIFICATION})

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder

    def inspect(self, ex: Exchange) -> Decision | None:
        method = ex.method or ""
        if method in KNOWN_METHODS or self._holder.policy.settings.unknown_methods == "policy":
            return None
        return deny(f"unknown method {method[:80]!r} refused (settings.unknown_methods: deny)",
                    rule_ids=(UNKNOWN_METHOD_RULE,), code=ErrorCode.METHOD_NOT_FOUND, check=self.name)
