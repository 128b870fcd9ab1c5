"""Pins, pending changes and approvals in the shared state store (so every replica agrees).

Namespaces (keys are tool names unless noted):

- `pins:<upstream>`         approved definitions beyond the lock file: {sha256, definition, approver,
                            approved_at, reason, source: approval|tofu, allow_findings, diff}
- `pins-pending:<upstream>` changes awaiting review: {sha256, definition, kind: new|changed|poisoned,
                            approved_sha256, diff, findings, first_seen, last_seen, count}
- `pins-meta:<upstream>`    key `tofu`: {opened_at, closed} — the first-sight window of tofu mode
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.audit.event import system_event
from proxy.state.model import Store

AuditFn = Callable[[dict[str, Any]], None]


def pins_ns(upstream: str) -> str:
    return f"pins:{upstream}"


def pending_ns(upstream: str) -> str:
    return f"pins-pending:{upstream}"


def meta_ns(upstream: str) -> str:
    return f"pins-meta:{upstream}"


class ApprovalError(ValueError):
    """An approval that cannot be made (nothing pending, or findings without an override)."""


@dataclass(frozen=True, slots=True)
class Approved:
    """One approval that was stored (and audited)."""

    upstream: str
    tool: str
    sha256: str
    record: dict[str, Any]


async def approved(store: Store, upstream: str) -> dict[str, dict[str, Any]]:
    return await store.kv_list(pins_ns(upstream))


async def pending(store: Store, upstream: str) -> dict[str, dict[str, Any]]:
    return await store.kv_list(pending_ns(upstream))


async def approve(store: Store, upstream: str, tools: Sequence[str], *, approver: str, reason: str | None = None,
                  allow_findings: bool = False, audit: AuditFn | None = None,
                  now: float | None = None) -> list[Approved]:
    """Approve the pending definitions of `tools` (all pending when empty) and clear them from pending.

    A tool may be given as `NAME@SHA256PREFIX` to approve only the definition that was reviewed.
    Raises `ApprovalError` (before changing anything) if a named tool has nothing pending (or another
    definition than the one named), or a pending definition carries findings and `allow_findings` is
    not set. Emits `pin_approved` per tool.
    """
    waiting = await pending(store, upstream)
    expected = dict(_split_expected(t) for t in tools)
    names = list(expected) or sorted(waiting)
    missing = [t for t in names if t not in waiting]
    if missing:
        raise ApprovalError(f"nothing pending for {', '.join(map(repr, missing))} on upstream {upstream!r}")
    moved = [t for t in names if not str(waiting[t].get("sha256", "")).startswith(expected.get(t) or "")]
    if moved:
        raise ApprovalError(f"pending definition of {', '.join(map(repr, moved))} is not the one named by @SHA "
                            "(it changed again): list pending changes and review the new diff")
    flagged = [t for t in names if waiting[t].get("findings") and not allow_findings]
    if flagged:
        raise ApprovalError(f"pending definition of {', '.join(map(repr, flagged))} has findings "
                            "(poisoning or shadowing): review them and approve with --allow-findings")
    when = time.time() if now is None else now
    done: list[Approved] = []
    for name in names:
        change = waiting[name]
        record = {"sha256": change["sha256"], "definition": change.get("definition"), "approver": approver,
                  "approved_at": when, "reason": reason, "source": "approval", "allow_findings": allow_findings,
                  "previous_sha256": change.get("approved_sha256"), "diff": change.get("diff"),
                  "findings": change.get("findings", [])}
        await store.kv_put(pins_ns(upstream), name, record)
        await store.kv_delete(pending_ns(upstream), name)
        if audit is not None:
            audit(system_event("pin_approved", upstream=upstream, tool=name, sha256=change["sha256"],
                               previous_sha256=change.get("approved_sha256"), approver=approver, reason=reason,
                               change=change.get("kind"), diff=change.get("diff"),
                               findings=change.get("findings", []), allow_findings=allow_findings))
        done.append(Approved(upstream, name, change["sha256"], record))
    return done


async def reject(store: Store, upstream: str, tools: Sequence[str], *, approver: str, reason: str | None = None,
                 audit: AuditFn | None = None) -> list[str]:
    """Discard pending changes (the tool stays hidden while the server keeps serving them)."""
    waiting = await pending(store, upstream)
    names = list(tools) or sorted(waiting)
    done = []
    for name in names:
        if name in waiting and await store.kv_delete(pending_ns(upstream), name):
            done.append(name)
            if audit is not None:
                audit(system_event("pin_rejected", upstream=upstream, tool=name, sha256=waiting[name].get("sha256"),
                                   approver=approver, reason=reason, diff=waiting[name].get("diff")))
    return done


def _split_expected(tool: str) -> tuple[str, str | None]:
    name, sep, sha = tool.rpartition("@")
    return (name, sha.lower()) if sep and name and sha and all(c in "0123456789abcdefABCDEF" for c in sha) \
        else (tool, None)


def render_pending(upstream: str, waiting: dict[str, dict[str, Any]]) -> str:
    """Pending changes as text for the CLI: kind, hashes, the diff and any findings."""
    if not waiting:
        return f"no pending changes for upstream {upstream!r}"
    lines = []
    for name in sorted(waiting):
        change = waiting[name]
        lines.append(f"{name}: {change.get('kind', 'changed')}  sha256 {str(change.get('sha256'))[:12]}"
                     f"  (seen {change.get('count', 1)}x, last {_iso(change.get('last_seen'))})")
        text = change.get("diff_text")
        if text:
            lines += [f"  {line}" for line in str(text).splitlines()]
        lines += [f"  finding {f.get('detector')} {f.get('severity')}: {f.get('message')}"
                  + (f" [{f.get('excerpt')!r}]" if f.get("excerpt") else "") for f in change.get("findings", [])]
    return "\n".join(lines)


def _iso(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
