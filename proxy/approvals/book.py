"""The approval queue in the shared store: open, decide (once, by an allowed approver), wait, use once.

Pending requests live under `approvals` and decided ones under `approval_decisions`; every transition
takes the record atomically (`rec_take`), so two responders on two replicas cannot both decide, and a
decision can be used by exactly one call. A decision is broadcast to wake the replica holding the call;
holders also look every half second, so a lost broadcast only delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from proxy.approvals.requests import ApprovalRequest, Status
from proxy.audit.event import system_event
from proxy.globs import cached_globs
from proxy.state.model import Store

log = logging.getLogger("drawbridge.approvals")

PENDING = "approvals"
DECIDED = "approval_decisions"
DECIDED_EVENT = "approval_decided"
KEEP_DECIDED_SECONDS = 600.0  # a decision the holder never collected (it went away) is dropped after this
LOOK_EVERY_SECONDS = 0.5
Emit = Callable[[dict[str, Any]], None]


class ApprovalRefused(Exception):
    """A decision that may not be made: HTTP-like status, stable code, one line."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ApprovalBook:
    """Open, list, decide, await and use approval requests; every step is an `approval` audit event."""

    def __init__(self, store: Store, emit: Emit) -> None:
        self._store = store
        self._emit = emit
        self._waiters: dict[str, asyncio.Event] = {}
        store.on_event(self._on_event)

    def _audit(self, action: str, request: ApprovalRequest, **fields: Any) -> None:
        self._emit(system_event("approval", action=action, **request.audit_fields(), **fields))

    async def open(self, request: ApprovalRequest) -> None:
        """Queue a held call for a human (audited before any responder can see it)."""
        self._audit("requested", request)
        ttl = max(1.0, request.expires - time.time()) + KEEP_DECIDED_SECONDS
        await self._store.rec_put(PENDING, request.id, request.fields(), ttl)

    async def pending(self) -> list[ApprovalRequest]:
        """Requests still awaiting a decision, oldest first."""
        now = time.time()
        found = [ApprovalRequest.from_fields(f) for f in (await self._store.rec_list(PENDING)).values()]
        return sorted((r for r in found if not r.expired(now)), key=lambda r: r.created)

    async def find(self, approval_id: str) -> ApprovalRequest | None:
        for namespace in (PENDING, DECIDED):
            fields = await self._store.rec_get(namespace, approval_id)
            if fields is not None:
                return ApprovalRequest.from_fields(fields)
        return None

    async def decide(self, approval_id: str, status: Status, *, actor: str, reason: str,
                     approvers: tuple[str, ...], arguments_sha256: str | None = None) -> ApprovalRequest:
        """Approve or deny a pending request; refusals (who, what, when) are audited and raised."""
        fields = await self._store.rec_get(PENDING, approval_id)
        if fields is None:
            decided = await self._store.rec_get(DECIDED, approval_id)
            if decided is None:
                raise ApprovalRefused(404, "not_found", f"no pending approval {approval_id} (unknown, used or expired)")
            self._refused(ApprovalRequest.from_fields(decided), actor, "already_decided")
            raise ApprovalRefused(409, "already_decided", f"approval {approval_id} was already "
                                  f"{decided.get('status')} by {decided.get('decided_by')}")
        request = ApprovalRequest.from_fields(fields)
        if not cached_globs(approvers).fullmatch(actor):
            self._refused(request, actor, "not_an_approver")
            raise ApprovalRefused(403, "not_an_approver", f"{actor} may not decide approvals "
                                  "(policy settings.approval.approvers)")
        if request.expired():
            self._refused(request, actor, "expired")
            raise ApprovalRefused(409, "expired", f"approval {approval_id} expired")
        if arguments_sha256 is not None and arguments_sha256 != request.arguments_sha256:
            self._refused(request, actor, "arguments_mismatch", offered_sha256=arguments_sha256)
            raise ApprovalRefused(409, "arguments_mismatch", f"approval {approval_id} is for arguments "
                                  f"{request.arguments_sha256[:12]}…, not {arguments_sha256[:12]}…")
        taken = await self._store.rec_take(PENDING, approval_id)
        if taken is None:  # another responder, or the holder's expiry, got there first
            raise ApprovalRefused(409, "already_decided", f"approval {approval_id} was decided or expired meanwhile")
        done = request.decided_as(status, actor, reason)
        await self._store.rec_put(DECIDED, approval_id, done.fields(), KEEP_DECIDED_SECONDS)
        self._audit(status, done, actor=actor, reason=reason)
        try:
            await self._store.broadcast({"event": DECIDED_EVENT, "id": approval_id})
        except Exception as exc:  # the holder still finds it by looking
            log.warning("approval %s decided; broadcast failed (%s)", approval_id, type(exc).__name__)
        return done

    async def answer_in_band(self, approval_id: str, status: Status, *, actor: str) -> ApprovalRequest | None:
        """The agent's user decided in the agent's own UI (elicitation): take the pending request and use it
        at once. None when it is no longer pending (answered before, expired, or decided out of band)."""
        taken = await self._store.rec_take(PENDING, approval_id)
        if taken is None:
            return None
        done = ApprovalRequest.from_fields(taken).decided_as(status, actor, "answered in the agent's UI")
        self._audit(status, done, actor=actor, reason=done.decision_reason, channel="elicitation")
        return done

    def refused(self, request: ApprovalRequest, actor: str, why: str, **fields: Any) -> None:
        """Audit a refused approval attempt (tampered, replayed, other arguments, not allowed, too late)."""
        self._refused(request, actor, why, **fields)

    def _refused(self, request: ApprovalRequest, actor: str, why: str, **fields: Any) -> None:
        self._audit("refused", request, actor=actor, refusal=why, **fields)

    async def wait(self, request: ApprovalRequest) -> ApprovalRequest | None:
        """The decision on `request`, collected once (single use), or None when it expired undecided."""
        event = self._waiters.setdefault(request.id, asyncio.Event())
        try:
            while True:
                decided = await self._store.rec_take(DECIDED, request.id)
                if decided is not None:
                    return ApprovalRequest.from_fields(decided)
                left = request.expires - time.time()
                if left <= 0:
                    if await self.expire(request):
                        return None
                    continue  # decided at the last moment: collect it
                event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(LOOK_EVERY_SECONDS, left))
        finally:
            self._waiters.pop(request.id, None)

    async def expire(self, request: ApprovalRequest, *, actor: str = "drawbridge") -> bool:
        """Withdraw an undecided request (True if it was still pending); audited."""
        if await self._store.rec_take(PENDING, request.id) is None:
            return False
        self._audit("expired", request, actor=actor)
        return True

    async def use(self, approval_id: str) -> ApprovalRequest | None:
        """Take a decided request for the one call it was made for (None: unknown, expired or used)."""
        decided = await self._store.rec_take(DECIDED, approval_id)
        return ApprovalRequest.from_fields(decided) if decided is not None else None

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == DECIDED_EVENT:
            waiter = self._waiters.get(str(event.get("id")))
            if waiter is not None:
                waiter.set()
