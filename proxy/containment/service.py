"""One containment sequence for responders and automated containment alike.

freeze evidence in memory → contain in the store (every replica obeys at once) → gather every replica's
evidence and seal it → end sessions if asked → `containment_action` audit event and webhook → token
revocation. A failure to contain is raised (nothing happened); a failure of a later step is audited and
never undoes the containment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.audit import system_event
from proxy.containment.revocation import RevocationAgent
from proxy.containment.webhook import ContainmentNotifier
from proxy.evidence.collect import EvidenceCollector
from proxy.evidence.snapshot import EvidenceRecord, SessionCapture, rfc3339
from proxy.state.model import Quarantine, Store, SubjectKind

log = logging.getLogger("drawbridge.containment")
KILL_EVENT = "sessions_kill"

Audit = Callable[[dict[str, Any]], None]


class SessionEnder(Protocol):
    """Ends conversations where they live (the HTTP plane: drop the binding, DELETE at the upstream)."""

    async def end_matching(self, kind: str, subject: str) -> int:
        """End every conversation of the subject; returns how many ended."""

    async def principals_of(self, kind: str, subject: str) -> set[str]:
        """The principals whose conversations the subject covers."""


@dataclass(frozen=True, slots=True)
class QuarantineResult:
    quarantine: Quarantine
    evidence: EvidenceRecord | None
    killed_sessions: int | None  # None: ending them failed (audited)
    token_revocation: str  # skipped | not_configured | none | scheduled


class ContainmentService:
    """Quarantine and session kill, with their evidence, audit, webhook and revocation side effects."""

    def __init__(self, store: Store, evidence: EvidenceCollector, audit: Audit, revocation: RevocationAgent) -> None:
        self.store = store
        self.evidence = evidence
        self._audit = audit
        self.revocation = revocation
        self.notifier: ContainmentNotifier | None = None
        self.sessions: SessionEnder | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def audit(self, event_type: str, **fields: Any) -> None:
        self._audit(system_event(event_type, **fields))

    async def quarantine(self, q: Quarantine, *, kill_sessions: bool = False, revoke_tokens: bool | None = None,
                         previous_mode: str | None = None, **extra: Any) -> QuarantineResult:
        """Contain `q.subject` (raises if the store refuses: then nothing happened) and run the side effects."""
        revoke = revoke_tokens if revoke_tokens is not None else q.kind == "principal" and q.mode == "block"
        principals = await self._principals(q.kind, q.subject) if revoke else set()  # before anything ends
        frozen = self.freeze(q.kind, q.subject)
        await self.store.put_quarantine(q)
        evidence = await self.seal(q.kind, q.subject, actor=q.actor, reason=q.reason, ticket=q.ticket, frozen=frozen)
        killed = await self.kill(q.kind, q.subject, actor=q.actor) if kill_sessions else 0
        ttl = None if q.expires is None else max(0, round(q.expires - q.created))
        self.announce("quarantine", actor=q.actor, kind=q.kind, subject=q.subject, mode=q.mode, reason=q.reason,
                      ticket=q.ticket, ttl_seconds=ttl, expires=None if q.expires is None else rfc3339(q.expires),
                      evidence_id=evidence.id if evidence else None,
                      evidence_sha256=evidence.manifest_sha256 if evidence else None, previous_mode=previous_mode,
                      killed_sessions=killed, **extra)
        revocation = "skipped"
        if revoke:
            try:
                revocation = await self.revocation.revoke(principals, q.actor, q.ticket)
            except Exception as exc:
                self.audit("containment_revocation_failed", kind=q.kind, subject=q.subject, actor=q.actor,
                           error=type(exc).__name__)
                revocation = "failed"
        return QuarantineResult(q, evidence, killed, revocation)

    def freeze(self, kind: SubjectKind, subject: str) -> list[SessionCapture] | None:
        """Copy what this replica holds about the subject, in memory, before anything changes (a failure is
        audited; the action goes on)."""
        try:
            return self.evidence.freeze(kind, subject)
        except Exception as exc:
            self.audit("evidence_snapshot_failed", kind=kind, subject=subject, error=type(exc).__name__)
            return None

    async def seal(self, kind: SubjectKind, subject: str, *, actor: str, reason: str, ticket: str | None,
                   frozen: list[SessionCapture] | None) -> EvidenceRecord | None:
        """Seal evidence (every replica's share); a failure is audited, never blocking."""
        try:
            return await self.evidence.seal(kind, subject, actor=actor, reason=reason, ticket=ticket,
                                            frozen=frozen if frozen is not None else [])
        except Exception as exc:
            self.audit("evidence_snapshot_failed", kind=kind, subject=subject, actor=actor,
                       error=f"{type(exc).__name__}: {str(exc)[:200]}")
            return None

    async def kill(self, kind: SubjectKind, subject: str, *, actor: str) -> int | None:
        """End the subject's conversations (bindings and upstream sessions) and cancel its in-flight calls
        on every replica. None (and a `containment_kill_failed` event) if ending them failed."""
        ended: int | None = 0
        if self.sessions is not None:
            try:
                ended = await self.sessions.end_matching(kind, subject)
            except Exception as exc:
                self.audit("containment_kill_failed", kind=kind, subject=subject, actor=actor,
                           error=type(exc).__name__)
                ended = None
        try:
            await self.store.broadcast({"event": KILL_EVENT, kind: subject})
        except Exception as exc:
            self.audit("containment_broadcast_failed", kind=kind, subject=subject, actor=actor,
                       error=type(exc).__name__)
        return ended

    async def _principals(self, kind: SubjectKind, subject: str) -> set[str]:
        if kind == "principal":
            return {subject}
        if self.sessions is None:
            return set()
        try:
            return await self.sessions.principals_of(kind, subject)
        except Exception:
            return set()

    def announce(self, action: str, **fields: Any) -> None:
        """Audit a completed action (`containment_action`), then notify the webhook in the background."""
        self.audit("containment_action", action=action, **fields)
        if self.notifier is not None:
            self.spawn(self.notifier.notify({"event": "containment", "action": action, **fields}), "webhook")

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        """Fire and forget, but keep a reference and audit an unexpected crash."""
        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:
                self.audit("containment_side_effect_failed", side_effect=what, error=type(exc).__name__)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_seconds: float = 10.0) -> None:
        """Wait for background side effects (at shutdown and in tests); cancel what is left."""
        pending: set[asyncio.Task[Any]] = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace_seconds)
            for task in late:
                task.cancel()
        await self.revocation.drain(grace_seconds)
