"""Rate limits on tool calls per principal, agent or upstream route: the policy's (`settings.rate_limits`:
one bucket per principal, agent or route) and the responders' (`RateLimit` records in the shared store:
one bucket per record, set with a TTL like the other containment overlays).

Every bucket is kept in the store itself, so every replica and worker draws from the same one. A call
over a limit is refused with `RATE_LIMITED` and `retry_after_seconds` (HTTP answers also carry
`Retry-After`). A bucket the store cannot reach refuses (fail closed), like every check that depends on
shared state.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from dataclasses import dataclass

from proxy.decision import Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder
from proxy.policy.model import RateLimitRule
from proxy.state.codec import StoreUnavailable
from proxy.state.model import RateLimit, Store
from proxy.types import Direction, MessageKind, Severity, Verdict

RULE = "containment-rate-limit"
STORE_DOWN = "rate limit state unavailable; refused (fail closed)"


def applies(limit: RateLimit, ex: Exchange, tool: str) -> bool:
    """Does this active limit cover this call (its subject, then its tools)?"""
    subject = {"principal": ex.principal, "agent": ex.agent, "upstream": ex.upstream}[limit.kind]
    return subject == limit.subject and limit.active_now() and cached_globs(limit.tools).fullmatch(tool) is not None


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket a call draws from, and what its refusal says."""

    key: str
    calls: int
    period: float
    rule_id: str
    limit_id: str
    subject: str
    ticket: str | None = None


def policy_bucket(rule: RateLimitRule, ex: Exchange) -> Bucket:
    value = {"principal": ex.principal, "agent": ex.agent, "upstream": ex.upstream}[rule.per] or "-"
    return Bucket(f"policy:{rule.id}:{rule.per}:{value}", rule.calls, rule.period_seconds, rule.id, rule.id,
                  f"{rule.per} {value}")


def overlay_bucket(limit: RateLimit) -> Bucket:
    return Bucket(limit.id, limit.calls, limit.per_seconds, RULE, limit.id, f"{limit.kind} {limit.subject}",
                  limit.ticket)


class RateLimitCheck(Inspection):
    """Draw one token per tool call from every bucket that covers it; refuse when one is empty."""

    name = "rate_limit"

    def __init__(self, store: Store, holder: PolicyHolder) -> None:
        self._store = store
        self._holder = holder

    def inspect(self, ex: Exchange) -> Decision | Awaitable[Decision | None] | None:
        tool = ex.tool_name
        if ex.direction is not Direction.TO_SERVER or ex.kind is not MessageKind.REQUEST or tool is None:
            return None
        buckets = [policy_bucket(rule, ex) for rule in self._holder.policy.settings.rate_limits
                   if cached_globs(rule.tools).fullmatch(tool)]
        buckets += [overlay_bucket(limit) for limit in self._store.state().rate_limits if applies(limit, ex, tool)]
        return self._draw(buckets) if buckets else None

    async def _draw(self, buckets: list[Bucket]) -> Decision | None:
        for bucket in buckets:
            try:
                wait = await self._store.take_token(bucket.key, bucket.period / bucket.calls, bucket.calls)
            except StoreUnavailable:
                return deny(STORE_DOWN, code=ErrorCode.INSPECTION_FAILED, check=self.name)
            if wait > 0:
                return self._refuse(bucket, wait)
        return None

    def _refuse(self, bucket: Bucket, wait: float) -> Decision:
        seconds = max(1, math.ceil(wait))
        ticket = f" (ticket {bucket.ticket})" if bucket.ticket else ""
        rate = f"{bucket.calls} calls per {bucket.period:g} s"
        finding = Finding(detector="containment.rate_limit", severity=Severity.SEV4, surface="session",
                          message=f"{bucket.subject} over {rate}")
        return Decision(Verdict.DENY, code=ErrorCode.RATE_LIMITED, rule_ids=(bucket.rule_id,), findings=(finding,),
                        check=self.name, error_data={"retry_after_seconds": seconds, "rate_limit": bucket.limit_id},
                        reason=f"rate limited{ticket}: at most {rate}; retry in {seconds} s")
