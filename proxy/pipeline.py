"""The one path every message takes: ordered inspections → one Decision → one audit event."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar, Literal, cast

from proxy.decision import Decision, Finding
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.types import Direction, MessageKind, Severity, Verdict

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


AuditHook = Callable[[Exchange, Decision], None]


class Pipeline:
    """Runs the registry in order and turns failures into denies (fail closed)."""

    def __init__(self, inspections: Sequence[Inspection], audit: AuditHook) -> None:
        self.inspections = tuple(inspections)
        self._audit = audit
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
        return self.record(ex, await self.decide(ex))

    def record(self, ex: Exchange, decision: Decision) -> Decision:
        """Audit a decision (also one made outside the registry: limits, parse errors, auth).

        If the event cannot be written the message is refused: nothing passes unaudited.
        """
        try:
            self._audit(ex, decision)
        except Exception as exc:  # an event that cannot be built or written must not let the message pass
            log.error("refusing %s: audit failed (%s)", ex.method, exc.__class__.__name__)
            return Decision(Verdict.DENY, reason="audit unavailable; refused (fail closed)",
                            code=ErrorCode.INTERNAL_ERROR, check="audit")
        return decision

    async def decide(self, ex: Exchange) -> Decision:
        findings: list[Finding] = []
        rule_ids: list[str] = []
        rewritten = False
        for check in self._plan(ex):
            if type(check).applies is not Inspection.applies and not check.applies(ex):
                continue
            result = self._run_sync(check, ex)
            if result is not None and type(result) is not Decision:
                result = await self._await(check, ex, result)
            if result is None:
                continue
            findings.extend(result.findings)
            rule_ids.extend(result.rule_ids)
            if result.blocks:
                return Decision(result.verdict, reason=result.reason, rule_ids=tuple(rule_ids),
                                findings=tuple(findings), code=result.code, check=result.check or check.name,
                                error_data=result.error_data)
            if result.verdict is Verdict.REWRITE and result.message is not None:
                ex.replace_message(result.message)
                rewritten = True
        verdict = Verdict.REWRITE if rewritten else Verdict.ALLOW
        return Decision(verdict, rule_ids=tuple(rule_ids), findings=tuple(findings),
                        message=ex.message if rewritten else None)

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
