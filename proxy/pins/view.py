"""One replica's view of an upstream's pins (approvals, pending changes) and the pure decisions on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from proxy.decision import Finding
from proxy.pins.findings import clip, finding
from proxy.pins.lockfile import SERVER_KEY, Lockfile
from proxy.types import Severity

Mode = Literal["strict", "tofu", "alert"]
MODES: tuple[Mode, ...] = ("strict", "tofu", "alert")


@dataclass(frozen=True, slots=True)
class ListingOutcome:
    kept: list[Any]
    hidden: tuple[str, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    allowed: bool
    state: str  # approved | pending | unpinned | unmanaged
    reason: str
    findings: tuple[Finding, ...] = ()


@dataclass(slots=True)
class UpstreamView:
    """What the store held when last read (`loaded`), kept current by this replica's own writes."""

    approvals: dict[str, dict[str, Any]]
    pending: dict[str, dict[str, Any]]
    tofu: dict[str, Any] | None
    loaded: float

    def accepts(self, lock: Lockfile | None, name: str, sha: str, *, blocking: bool) -> bool:
        """Is this exact definition approved (and, with poisoning findings, approved despite them)?"""
        if name == SERVER_KEY and lock is not None and lock.server.instructions_sha256 == sha:
            return not blocking or bool(lock.server_findings)
        pin = lock.tools.get(name) if lock else None
        if pin is not None and pin.sha256 == sha:
            return not blocking or bool(pin.findings)
        approval = self.approvals.get(name)
        if approval is not None and approval.get("sha256") == sha:
            return not blocking or approval.get("allow_findings") is True
        return False

    def approved_definition(self, lock: Lockfile | None, name: str) -> tuple[str, Any] | None:
        """(sha256, definition) to diff a change against: the latest approval, else the lock file."""
        approval = self.approvals.get(name)
        if approval is not None and isinstance(approval.get("definition"), dict):
            return str(approval["sha256"]), approval["definition"]
        if name == SERVER_KEY:
            return (str(lock.server.instructions_sha256), {"instructions": lock.instructions}) if lock else None
        pin = lock.tools.get(name) if lock else None
        return (pin.sha256, pin.definition) if pin is not None else None

    def call_outcome(self, upstream: str, mode: Mode, lock: Lockfile | None, name: str) -> CallOutcome:
        """A call passes with an approved definition and no unsettled pending change (alert: always)."""
        waiting = self.pending.get(name)
        approved = {str(self.approvals[name].get("sha256"))} if name in self.approvals else set()
        if lock is not None and name in lock.tools:
            approved.add(lock.tools[name].sha256)
        settled = waiting is not None and waiting.get("sha256") in approved and waiting.get("kind") != "poisoned"
        if approved and (waiting is None or settled):
            return CallOutcome(True, "approved", "")
        state = "pending" if waiting is not None else "unpinned"
        what = (f"its current definition ({waiting.get('kind')}) awaits approval" if waiting is not None
                else "it has no approved definition")
        reason = f"tool {name!r} on upstream {upstream!r} is not approved: {what} (pin-unapproved)"
        found = finding("pins.unapproved_call", Severity.SEV3 if mode != "alert" else Severity.SEV4,
                        reason, path=f"tools/{name}", excerpt=clip(waiting.get("diff_text") if waiting else None))
        return CallOutcome(mode == "alert", state, reason, (found,))
