"""Tool-definition pins on the wire: listings, calls, list_changed notifications, server instructions.

- tools/list answers (every page): unapproved definitions are hidden (REWRITE) and recorded as
  pending with their diff; the findings (`pins.drift`, `pins.new`, `pins.poisoned`,
  `pins.shadowed`) carry the diff summary into the audit event.
- tools/call requests: a tool whose current definition was never approved is refused
  (rule `pin-unapproved`), also when the agent calls it without listing first.
- notifications/tools/list_changed: passes (the next listing is checked), noted in the audit.
- initialize / server/discover answers: unapproved server instructions are withheld.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar

from proxy.decision import Decision, Finding
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.pins.enforcer import PinEnforcer
from proxy.pins.view import CallOutcome
from proxy.pipeline import Inspection, InspectResult
from proxy.types import Direction, MessageKind, Verdict

RULE_ID = "pin-unapproved"
LIST_CHANGED = "notifications/tools/list_changed"
HANDSHAKES = frozenset({"initialize", "server/discover"})


class PinCheck(Inspection):
    """Only pinned (approved) tool definitions reach the agent; see `proxy.pins.enforcer`."""

    name = "pins"
    methods: ClassVar[frozenset[str] | None] = frozenset({"tools/list", "tools/call", LIST_CHANGED, *HANDSHAKES})
    timeout_seconds = 5.0

    def __init__(self, enforcer: PinEnforcer) -> None:
        self.enforcer = enforcer

    def applies(self, ex: Exchange) -> bool:
        if not self.enforcer.covers(ex.upstream):
            return False
        if ex.direction is Direction.TO_SERVER:
            return ex.kind is MessageKind.REQUEST and ex.method == "tools/call"
        if ex.kind is MessageKind.NOTIFICATION:
            return ex.method == LIST_CHANGED
        return ex.kind is MessageKind.RESPONSE and (ex.method == "tools/list" or ex.method in HANDSHAKES)

    def inspect(self, ex: Exchange) -> InspectResult | Awaitable[InspectResult]:
        if ex.direction is Direction.TO_SERVER:
            name = ex.tool_name
            if name is None:
                return None  # a malformed call is the server's (or the method gate's) to refuse
            cached = self.enforcer.cached_call(ex.upstream, name)  # the hot path: no I/O, no task
            return self._call_decision(ex, name, cached) if cached is not None else self._call(ex, name)
        if ex.kind is MessageKind.NOTIFICATION:
            return Decision(Verdict.ALLOW, findings=(self.enforcer.note_list_changed(ex.upstream),), check=self.name)
        if ex.method == "tools/list":
            return self._listing(ex)
        return self._handshake(ex)

    async def _call(self, ex: Exchange, name: str) -> Decision | None:
        return self._call_decision(ex, name, await self.enforcer.check_call(ex.upstream, name))

    def _call_decision(self, ex: Exchange, name: str, outcome: CallOutcome) -> Decision | None:
        if outcome.allowed:
            return Decision(Verdict.ALLOW, findings=outcome.findings, check=self.name) if outcome.findings else None
        return Decision(Verdict.DENY, reason=outcome.reason, rule_ids=(RULE_ID,), findings=outcome.findings,
                        code=ErrorCode.POLICY_DENIED, check=self.name,
                        error_data={"pin_state": outcome.state, "tool": name, "upstream": ex.upstream})

    async def _listing(self, ex: Exchange) -> Decision | None:
        result = ex.result
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            return None
        first_page = not ex.params.get("cursor")
        last_page = not result.get("nextCursor")
        outcome = await self.enforcer.review_listing(ex.upstream, result["tools"], first_page=first_page,
                                                     last_page=last_page)
        if outcome.hidden:
            ex.notes["pins_hidden"] = list(outcome.hidden)
            message = {**ex.message, "result": {**result, "tools": outcome.kept}}
            return Decision(Verdict.REWRITE, message=message, findings=outcome.findings, check=self.name,
                            note={"hidden_tools": sorted(outcome.hidden)})
        return _noted(outcome.findings, self.name)

    async def _handshake(self, ex: Exchange) -> Decision | None:
        result = ex.result
        if not isinstance(result, dict):
            return None
        instructions = result.get("instructions")
        keep, findings = await self.enforcer.review_instructions(
            ex.upstream, instructions if isinstance(instructions, str) else None)
        if keep:
            return _noted(tuple(findings), self.name)
        stripped = {k: v for k, v in result.items() if k != "instructions"}
        return Decision(Verdict.REWRITE, message={**ex.message, "result": stripped}, findings=tuple(findings),
                        check=self.name, note={"removed": ["instructions"]})


def _noted(findings: tuple[Finding, ...], check: str) -> Decision | None:
    return Decision(Verdict.ALLOW, findings=findings, check=check) if findings else None
