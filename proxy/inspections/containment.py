"""Containment gate: quarantines, tool deny overlays and egress denies from the shared store.

Runs first, so a quarantined subject is refused before anything else looks at its messages. If the
store is unhealthy the gate refuses (fail closed): containment that cannot be checked is assumed.
"""

from __future__ import annotations

from proxy.catalog import ToolCatalog
from proxy.decision import Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.pipeline import Inspection
from proxy.state.model import ContainmentState, Quarantine, Store
from proxy.types import Direction, MessageKind, Severity, Verdict

QUARANTINE_RULE = "containment-quarantine"
OVERLAY_RULE = "containment-deny-tools"
STORE_DOWN = "containment state unavailable; refused (fail closed)"


def quarantine_message(q: Quarantine) -> str:
    """What the agent is told: that it is quarantined and the ticket, never the internal reason."""
    ticket = f" (ticket {q.ticket})" if q.ticket else ""
    return f"{q.kind} quarantined by incident response{ticket}; mode {q.mode}"


class ContainmentGate(Inspection):
    """Refuse what a quarantine, a deny overlay or an unhealthy store says must not pass."""

    name = "containment"
    kinds = frozenset({MessageKind.REQUEST, MessageKind.NOTIFICATION})

    def __init__(self, store: Store, catalog: ToolCatalog) -> None:
        self._store = store
        self._catalog = catalog

    def inspect(self, ex: Exchange) -> Decision | None:
        if not self._store.healthy:
            return deny(STORE_DOWN, code=ErrorCode.INSPECTION_FAILED, check=self.name)
        state = self._store.state()
        q = state.quarantine_for(ex.principal, ex.agent, ex.session_id)
        if q is not None:
            decision = self._quarantined(ex, q)
            if decision is not None:
                return decision
        if ex.direction is Direction.TO_SERVER and ex.method == "tools/call":
            return self._overlay(ex, state)
        return None

    def _quarantined(self, ex: Exchange, q: Quarantine) -> Decision | None:
        finding = Finding(detector="containment.quarantine", severity=Severity.SEV2,
                          message=f"{q.kind} {q.subject} is quarantined ({q.mode})", surface="session")
        if q.mode == "monitor":
            return Decision(Verdict.ALLOW, findings=(finding,), rule_ids=(QUARANTINE_RULE,), check=self.name)
        if q.mode == "block" or (ex.direction is Direction.TO_CLIENT and ex.kind is MessageKind.REQUEST):
            return self._refuse(q, finding)
        if ex.method != "tools/call" or ex.direction is not Direction.TO_SERVER:
            return None  # read-only and no-egress modes restrict tool calls only
        tool = self._catalog.get(ex.upstream, ex.tool_name)
        if q.mode == "read-only" and (tool is None or not tool.read_only):
            return self._refuse(q, finding)
        if q.mode == "no-egress" and (tool is None or tool.open_world):
            return self._refuse(q, finding)
        return None

    def _refuse(self, q: Quarantine, finding: Finding) -> Decision:
        return deny(quarantine_message(q), code=ErrorCode.QUARANTINED, rule_ids=(QUARANTINE_RULE,),
                    findings=(finding,), check=self.name)

    def _overlay(self, ex: Exchange, state: ContainmentState) -> Decision | None:
        name = ex.tool_name or ""
        for overlay in state.deny_overlays:
            subject = ex.principal if overlay.kind == "principal" else ex.agent
            if subject != overlay.subject or not overlay.active_now():
                continue
            if cached_globs(overlay.tools).fullmatch(name):
                ticket = f" (ticket {overlay.ticket})" if overlay.ticket else ""
                return deny(f"tool {name} denied by incident response{ticket}", code=ErrorCode.QUARANTINED,
                            rule_ids=(OVERLAY_RULE,), check=self.name)
        return None
