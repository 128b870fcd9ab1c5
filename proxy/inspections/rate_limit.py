"""Rate limits set by responders or operators: tool calls per principal, agent or upstream route.

Each active `RateLimit` record in the shared store is a token bucket kept in the store itself, so every
replica and worker draws from the same bucket. A call over the limit is refused with `RATE_LIMITED` and
`retry_after_seconds` (HTTP answers also carry `Retry-After`). A bucket the store cannot reach refuses
(fail closed), like every other check that depends on shared state.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable

from proxy.decision import Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.pipeline import Inspection
from proxy.state.codec import StoreUnavailable
from proxy.state.model import RateLimit, Store
from proxy.types import Direction, MessageKind, Severity, Verdict

RULE = "containment-rate-limit"
STORE_DOWN = "rate limit state unavailable; refused (fail closed)"


def applies(limit: RateLimit, ex: Exchange, tool: str) -> bool:
    """Does this active limit cover this call (its subject, then its tools)?"""
    subject = {"principal": ex.principal, "agent": ex.agent, "upstream": ex.upstream}[limit.kind]
    return subject == limit.subject and limit.active_now() and cached_globs(limit.tools).fullmatch(tool) is not None


class RateLimitCheck(Inspection):
    """Draw one token per tool call from every bucket that covers it; refuse when one is empty."""

    name = "rate_limit"

    def __init__(self, store: Store) -> None:
        self._store = store

    def inspect(self, ex: Exchange) -> Decision | Awaitable[Decision | None] | None:
        if ex.direction is not Direction.TO_SERVER or ex.kind is not MessageKind.REQUEST or ex.tool_name is None:
            return None
        limits = [limit for limit in self._store.state().rate_limits if applies(limit, ex, ex.tool_name)]
        return self._draw(limits) if limits else None

    async def _draw(self, limits: list[RateLimit]) -> Decision | None:
        for limit in limits:
            try:
                wait = await self._store.take_token(limit.id, limit.per_seconds / limit.calls, limit.calls)
            except StoreUnavailable:
                return deny(STORE_DOWN, code=ErrorCode.INSPECTION_FAILED, check=self.name)
            if wait > 0:
                return self._refuse(limit, wait)
        return None

    def _refuse(self, limit: RateLimit, wait: float) -> Decision:
        seconds = max(1, math.ceil(wait))
        ticket = f" (ticket {limit.ticket})" if limit.ticket else ""
        finding = Finding(detector="containment.rate_limit", severity=Severity.SEV4, surface="session",
                          message=f"{limit.kind} {limit.subject} over {limit.calls} calls per {limit.per_seconds:g} s")
        return Decision(Verdict.DENY, code=ErrorCode.RATE_LIMITED, rule_ids=(RULE,), findings=(finding,),
                        check=self.name, error_data={"retry_after_seconds": seconds, "rate_limit": limit.id},
                        reason=f"rate limited{ticket}: at most {limit.calls} calls per {limit.per_seconds:g} s; "
                               f"retry in {seconds} s")
