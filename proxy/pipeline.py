"""The one path every message takes: ordered inspections → one Decision → one audit event."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, cast

from proxy.decision import Decision, Finding
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.types import Direction, JsonObject, MessageKind, Severity, Verdict

if TYPE_CHECKING:
    from proxy.shadow import Shadow

log = logging.getLogger("drawbridge.pipeline")

InspectResult = Decision | None


class Inspection:
    """One check with one hook. Subclasses set the class attributes and implement `inspect`.

    `inspect` returns None (no objection), a Decision (ALLOW with findings/rule ids to record,
    REWRITE with a new message, DENY or QUARANTINE), or an awaitable of one.
    """

    name: ClassVar[str] = "inspection"
    methods: ClassVar[frozenset[str] | None] = None  # None: every method
    directions: ClassVar[frozenset[Direction]] = frozenset(Direction)
    kinds: ClassVar[frozenset[MessageKind] | None] = None  # None: every kind
    failure_mode: Literal["closed", "open"] = "closed"
    timeout_seconds: float = 2.0

    def applies(self, ex: Exchange) -> bool:
        return (ex.direction in self.directions
                and (self.kinds is None or ex.kind in self.kinds)
                and (self.methods is None or ex.method in self.methods))

    def inspect(self, ex: Exchange) -> InspectResult | Awaitable[InspectResult]:
        raise NotImplementedError


class Settlement(Protocol):
    """What happens around the registry (the runtime implements it, for every transport)."""

    def needs_preparing(self, ex: Exchange) -> bool:
        """Cheap test: does `prepare` have work to do for this exchange?"""

    async def prepare(self, ex: Exchange) -> None:
        """Before deciding: find what an answer answers (it may live in the shared store)."""

    async def conclude(self, ex: Exchange, decision: Decision) -> Decision:
        """After deciding, before the audit event: what can still change the outcome."""

    def record(self, ex: Exchange, decision: Decision) -> Decision:
        """Evidence, automated containment and the audit event for a decision; the final decision."""


AuditHook = Callable[[Exchange, Decision], None]


class AuditOnly:
    """The smallest settlement: nothing to pair or remember, one audit call per decision (tests, tools)."""

    def __init__(self, audit: AuditHook) -> None:
        self._audit = audit

    def needs_preparing(self, ex: Exchange) -> bool:
        return False

    async def prepare(self, ex: Exchange) -> None:
        return None

    async def conclude(self, ex: Exchange, decision: Decision) -> Decision:
        return decision

    def record(self, ex: Exchange, decision: Decision) -> Decision:
        self._audit(ex, decision)
        return decision


class Pipeline:
    """Runs the registry in order and turns failures into denies (fail closed)."""

    def __init__(self, inspections: Sequence[Inspection], settlement: Settlement | AuditHook,
                 shadow: Shadow | None = None) -> None:
        self.inspections = tuple(inspections)
        self.shadow = shadow  # asked about refusals only (`proxy.shadow`)
        self._settlement = (cast(Settlement, settlement) if hasattr(settlement, "conclude")
                            else AuditOnly(settlement))
        self._plans: dict[tuple[Direction, MessageKind, str | None], tuple[Inspection, ...]] = {}

    def _plan(self, ex: Exchange) -> tuple[Inspection, ...]:
        """The inspections that may apply to this (direction, kind, method), in registry order.

        Class-level filters are resolved once per key; an inspection that overrides `applies` (it
        looks at the exchange itself) stays in the plan and is asked every time.
        """
        key = (ex.direction, ex.kind, ex.method)
        plan = self._plans.get(key)
        if plan is None:
            plan = tuple(c for c in self.inspections if type(c).applies is not Inspection.applies or c.applies(ex))
            if len(self._plans) < 4096:  # methods are agent-chosen strings: bound the cache
                self._plans[key] = plan
        return plan

    async def run(self, ex: Exchange) -> Decision:
        """Decide one exchange and emit its audit event. A REWRITE decision carries the new message."""
        return await self.settle(ex, await self.decide(ex))

    async def settle(self, ex: Exchange, decision: Decision) -> Decision:
        """Finish a decision: side effects that can still change it, then its audit event (fail closed)."""
        try:
            decision = await self._settlement.conclude(ex, decision)
        except Exception as exc:  # a bug in settling must not let the message pass
            log.exception("refusing %s: settling the decision failed", ex.method)
            decision = Decision(Verdict.DENY, reason="internal error; refused (fail closed)",
                                findings=decision.findings, code=ErrorCode.INTERNAL_ERROR,
                                check=f"settle:{type(exc).__name__}")
        return self.record(ex, decision)

    def record(self, ex: Exchange, decision: Decision) -> Decision:
        """Audit a decision (also one made outside the registry: limits, parse errors, auth, the proxy's own
        messages). If the event cannot be written the message is refused: nothing passes unaudited."""
        try:
            return self._settlement.record(ex, decision)
        except Exception as exc:  # an event that cannot be built or written must not let the message pass
            log.error("refusing %s: audit failed (%s)", ex.method, exc.__class__.__name__)
            return Decision(Verdict.DENY, reason="audit unavailable; refused (fail closed)",
                            code=ErrorCode.INTERNAL_ERROR, check="audit")

    async def decide(self, ex: Exchange) -> Decision:
        """Run the inspections; an exchange whose preparation fails is refused (fail closed)."""
        if self._settlement.needs_preparing(ex):
            try:
                await self._settlement.prepare(ex)
            except Exception as exc:
                log.warning("refusing %s: could not prepare it (%s)", ex.method, exc.__class__.__name__)
                return Decision(Verdict.DENY, reason="shared state unavailable; refused (fail closed)",
                                code=ErrorCode.INSPECTION_FAILED, check="prepare")
        return await self._decide(ex)

    async def _decide(self, ex: Exchange) -> Decision:
        findings: list[Finding] = []
        rule_ids: list[str] = []
        rewrites: list[JsonObject] = []
        waived: JsonObject | None = None  # shadow: the first refusal let through
        for check in self._plan(ex):
            if type(check).applies is not Inspection.applies and not check.applies(ex):
                continue
            result = self._run_sync(check, ex)
            if result is not None and type(result) is not Decision:
                result = await self._await(check, ex, result)
            if result is None:
                continue
            findings.extend(result.findings)
            if result.blocks:
                would_deny = None if self.shadow is None else self.shadow.waive(ex, result, result.check or check.name)
                if would_deny is None:
                    rule_ids.extend(result.rule_ids)  # a rule may be named twice (policy, then the check it asked for)
                    return Decision(result.verdict, reason=result.reason, rule_ids=tuple(dict.fromkeys(rule_ids)),
                                    findings=tuple(findings), code=result.code, check=result.check or check.name,
                                    error_data=result.error_data, rewrites=tuple(rewrites), reply=result.reply)
                waived = waived or would_deny
                continue
            rule_ids.extend(result.rule_ids)
            if result.verdict is Verdict.REWRITE and result.message is not None:
                ex.replace_message(result.message)
                rewrites.append({"check": result.check or check.name, **(result.note or {})})
        if rewrites:
            return Decision(Verdict.REWRITE, rule_ids=tuple(rule_ids), findings=tuple(findings), message=ex.message,
                            check=str(rewrites[-1]["check"]), rewrites=tuple(rewrites), would_deny=waived)
        return Decision(Verdict.ALLOW, rule_ids=tuple(rule_ids), findings=tuple(findings), would_deny=waived)

    def _run_sync(self, check: Inspection, ex: Exchange) -> InspectResult | Awaitable[InspectResult]:
        """Call the hook; a synchronous result is checked against its time budget here (no coroutine)."""
        started = time.perf_counter()
        try:
            result = check.inspect(ex)
        except Exception as exc:
            log.exception("inspection %s raised on %s", check.name, ex.method)
            return self._failed(check, ex, f"failed ({exc.__class__.__name__})")
        if (result is None or type(result) is Decision) and time.perf_counter() - started > check.timeout_seconds:
            return self._failed(check, ex, "exceeded its time budget")
        return result

    async def _await(self, check: Inspection, ex: Exchange, pending: object) -> InspectResult:
        try:
            return await asyncio.wait_for(cast(Awaitable[InspectResult], pending), check.timeout_seconds)
        except TimeoutError:
            return self._failed(check, ex, "timed out")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("inspection %s raised on %s", check.name, ex.method)
            return self._failed(check, ex, f"failed ({exc.__class__.__name__})")

    def _failed(self, check: Inspection, ex: Exchange, what: str) -> InspectResult:
        finding = Finding(detector=f"{check.name}.error", severity=Severity.SEV3,
                          message=f"inspection {check.name} {what}")
        if check.failure_mode == "open":
            return Decision(Verdict.ALLOW, findings=(finding,), check=check.name)
        return Decision(Verdict.DENY, reason=f"inspection {check.name} {what}; refused (fail closed)",
                        findings=(finding,), code=ErrorCode.INSPECTION_FAILED, check=check.name)
