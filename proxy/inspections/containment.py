"""Containment gate: quarantines and tool deny overlays from the shared store.

Runs first, so a quarantined subject is refused before anything else looks at its messages. If the
store is unhealthy the gate refuses (fail closed): containment that cannot be checked is assumed.
A responder's deny-tools overlay holds in every quarantine mode, `monitor` included (the listing filter
hides the tools it denies). Egress denies are enforced by the egress check, which finds destinations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

from proxy.catalog import ToolCatalog
from proxy.decision import Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.inspections.approval import APPROVAL_MODE_NOTE
from proxy.pipeline import Inspection
from proxy.state.model import DenyOverlay, Quarantine, Store
from proxy.types import Direction, MessageKind, Severity, Verdict

QUARANTINE_RULE = "containment-quarantine"
OVERLAY_RULE = "containment-deny-tools"
STORE_DOWN = "containment state unavailable; refused (fail closed)"
# What may still pass a `block` quarantine: ending a session only takes capability away.
ALWAYS_ALLOWED_HTTP = frozenset({"DELETE"})


def quarantine_message(q: Quarantine) -> str:
    """What the agent is told: that it is quarantined and the ticket, never the internal reason."""
    ticket = f" (ticket {q.ticket})" if q.ticket else ""
    return f"{q.kind} quarantined by incident response{ticket}; mode {q.mode}"


def denied_by_overlay(overlays: Iterable[DenyOverlay], ex: Exchange, tool: str) -> DenyOverlay | None:
    """The first active overlay that denies `tool` to this exchange's principal or agent."""
    for overlay in overlays:
        subject = ex.principal if overlay.kind == "principal" else ex.agent
        if subject == overlay.subject and overlay.active_now() and cached_globs(overlay.tools).fullmatch(tool):
            return overlay
    return None


class ContainmentGate(Inspection):
    """Refuse what a quarantine, a deny overlay or an unhealthy store says must not pass."""

    name = "containment"

    def __init__(self, store: Store, catalog: ToolCatalog) -> None:
        self._store = store
        self._catalog = catalog

    def inspect(self, ex: Exchange) -> Decision | Awaitable[Decision | None] | None:
        if not self._store.healthy:
            return deny(STORE_DOWN, code=ErrorCode.INSPECTION_FAILED, check=self.name)
        state = self._store.state()
        tool = ex.tool_name if ex.direction is Direction.TO_SERVER and ex.kind is MessageKind.REQUEST else None
        overlay = denied_by_overlay(state.deny_overlays, ex, tool) if tool is not None else None
        if overlay is not None:
            ticket = f" (ticket {overlay.ticket})" if overlay.ticket else ""
            return deny(f"tool {tool} denied by incident response{ticket}", code=ErrorCode.QUARANTINED,
                        rule_ids=(OVERLAY_RULE,), check=self.name)
        q = state.quarantine_for(ex.principal, ex.agent, ex.client_key)
        if q is None:
            return None
        finding = Finding(detector="containment.quarantine", severity=Severity.SEV2,
                          message=f"{q.kind} {q.subject} is quarantined ({q.mode})", surface="session")
        if q.mode == "monitor":
            return Decision(Verdict.ALLOW, findings=(finding,), rule_ids=(QUARANTINE_RULE,), check=self.name)
        if q.mode == "block":
            if ex.kind is MessageKind.HTTP and ex.http_method in ALWAYS_ALLOWED_HTTP:
                return None
            return self._refuse(q, finding)
        if (ex.direction is Direction.TO_CLIENT and ex.kind is MessageKind.REQUEST) or (
                ex.direction is Direction.TO_SERVER and ex.kind in (MessageKind.RESPONSE, MessageKind.ERROR)):
            return self._refuse(q, finding)  # no sampling / elicitation / roots either way while contained
        if tool is None:
            return None  # read-only, no-egress and approval restrict tool calls only
        if q.mode == "approval":  # every tool call waits for a human (the approval check holds it)
            ex.notes[APPROVAL_MODE_NOTE] = True
            return Decision(Verdict.ALLOW, findings=(finding,), rule_ids=(QUARANTINE_RULE,), check=self.name)
        return self._restricted(ex, q, finding, tool)

    async def _restricted(self, ex: Exchange, q: Quarantine, finding: Finding, tool: str) -> Decision | None:
        """read-only / no-egress: decided on the annotations any replica learned from a listing."""
        info = await self._catalog.lookup(ex.upstream, tool)
        if q.mode == "read-only" and (info is None or not info.read_only):
            return self._refuse(q, finding)
        if q.mode == "no-egress" and (info is None or info.open_world):
            return self._refuse(q, finding)
        return None

    def _refuse(self, q: Quarantine, finding: Finding) -> Decision:
        return deny(quarantine_message(q), code=ErrorCode.QUARANTINED, rule_ids=(QUARANTINE_RULE,),
                    findings=(finding,), check=self.name)
