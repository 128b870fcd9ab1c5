"""The pin decision logic: which tool definitions may reach the agent, and which calls may pass.

Approved set of a tool = its lock-file pin plus its approval in the store (`pins:<upstream>`). A
definition outside that set (new, changed, or with poisoning findings at or above the configured
severity) is recorded in `pins-pending:<upstream>` with its diff, hidden from listings and its
calls refused (strict; tofu after the first sight; alert only reports). A tool with a pending
change stays hidden and refused until someone approves or rejects it, even if the server goes
back to an approved definition: it has shown it serves something else. Server instructions are
pinned the same way under the reserved key `@server`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from proxy.audit.event import system_event
from proxy.decision import Finding
from proxy.pins import approvals as ap
from proxy.pins.diff import diff_definitions
from proxy.pins.findings import change_finding, clip, finding, label, render_new
from proxy.pins.hashing import instructions_sha256, tool_sha256
from proxy.pins.lockfile import SERVER_KEY, Lockfile
from proxy.pins.poison import DefinitionScanner, at_or_above, scan_definition
from proxy.pins.shadowing import collisions_for, winner
from proxy.pins.view import MODES, CallOutcome, ListingOutcome, Mode, UpstreamView
from proxy.state.model import Store
from proxy.types import Severity

__all__ = ["MODES", "SERVER_KEY", "CallOutcome", "ListingOutcome", "Mode", "PinEnforcer"]

_SCAN_CACHE_MAX = 4096
_SEEN_REFRESH_SECONDS = 60.0
MAX_PENDING = 1024  # per upstream: a server listing thousands of new tools cannot flood the store
EVENT_DIFF_CHARS = 16_384
MAX_FINDINGS = 64  # per listing decision (the rest are summarised in one finding)


class PinEnforcer:
    """Decides per upstream; all durable state goes through `store` (shared by every replica)."""

    def __init__(self, store: Store, mode_by_upstream: Mapping[str, Mode],
                 lock_by_upstream: Mapping[str, Lockfile | None], scanner: DefinitionScanner = scan_definition,
                 audit: ap.AuditFn | None = None, *, block_severity: Severity = Severity.SEV3,
                 shadow_priority: Sequence[str] = (), owns_store: bool = False, refresh_seconds: float = 1.0,
                 tofu_window_seconds: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        bad = {u: m for u, m in mode_by_upstream.items() if m not in MODES}
        if bad:
            raise ValueError(f"unknown pin mode(s) {bad}: use one of {', '.join(MODES)}")
        self.store, self.modes = store, dict(mode_by_upstream)
        self.locks = {u: lock_by_upstream.get(u) for u in self.modes}
        self.scanner, self.block_severity = scanner, block_severity
        self.shadow_priority = tuple(shadow_priority)
        self._audit, self._owns_store, self._started = audit, owns_store, not owns_store
        self.refresh_seconds, self.tofu_window_seconds, self._clock = refresh_seconds, tofu_window_seconds, clock
        self._known: dict[str, UpstreamView] = {}
        self._scans: dict[str, list[Finding]] = {}
        self._names: dict[str, set[str]] = {u: set(lock.tools) if lock else set() for u, lock in self.locks.items()}

    def covers(self, upstream: str) -> bool:
        return upstream in self.modes

    async def start(self) -> None:
        if not self._started:
            await self.store.start()
            self._started = True

    async def close(self) -> None:
        if self._owns_store and self._started:
            await self.store.close()
            self._started = False

    # -- listings ------------------------------------------------------------------------------
    async def review_listing(self, upstream: str, tools: list[Any], *, first_page: bool = True,
                             last_page: bool = True) -> ListingOutcome:
        """Decide which tools of one tools/list page the agent sees; record pending changes."""
        mode = self.modes[upstream]
        known = await self._load(upstream, fresh=True)
        tofu_open = mode == "tofu" and await self._tofu_window(upstream, known, first_page, last_page)
        names = [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
        self._names[upstream] = (set() if first_page else self._names.get(upstream, set())) | set(names)
        shadows = collisions_for(upstream, names, self._names)
        kept: list[Any] = []
        hidden: list[str] = []
        findings: list[Finding] = []
        for tool in tools:
            name = tool.get("name") if isinstance(tool, dict) else None
            if not isinstance(name, str) or name == SERVER_KEY:
                findings.append(finding("pins.malformed", Severity.SEV3, f"malformed tool entry {str(name)[:60]!r}"))
                if mode == "alert":
                    kept.append(tool)
                continue
            ok, found = await self._review_one(upstream, mode, known, name, tool, tofu_open)
            findings += found
            collision = shadows.get(name)
            if collision is not None:
                first = winner(collision, self.shadow_priority)
                loses = first is not None and first != upstream
                findings.append(finding("pins.shadowed", Severity.SEV3, collision.describe()
                                         + (f"; {upstream} hidden in favour of {first}" if loses else ""),
                                         path=f"tools/{name}"))
                ok = ok and not loses
            if ok or mode == "alert":
                kept.append(tool)
            else:
                hidden.append(name)
        if len(findings) > MAX_FINDINGS:
            extra = len(findings) - MAX_FINDINGS + 1
            findings = [*findings[:MAX_FINDINGS - 1], finding("pins.truncated", Severity.SEV3,
                                                                f"{extra} more pin findings on this listing")]
        return ListingOutcome(kept, tuple(hidden), tuple(findings))

    async def _review_one(self, upstream: str, mode: Mode, known: UpstreamView, name: str, tool: dict[str, Any],
                          tofu_open: bool, sha: str | None = None) -> tuple[bool, list[Finding]]:
        sha = sha or tool_sha256(tool)
        blocking = at_or_above(self._scan(sha, tool), self.block_severity)
        accepted = known.accepts(self.locks.get(upstream), name, sha, blocking=bool(blocking))
        waiting = known.pending.get(name)
        if accepted and (waiting is None or waiting.get("sha256") == sha):
            if waiting is not None:  # approved by other means (a new lock file): the change is settled
                await self.store.kv_delete(ap.pending_ns(upstream), name)
                known.pending.pop(name, None)
                self._emit("pin_pending_resolved", upstream=upstream, tool=name, sha256=sha)
            return True, []
        if not accepted and waiting is None and tofu_open and not blocking:
            await self._store_tofu(upstream, known, name, sha, tool)
            return True, []
        if accepted and waiting is not None:  # approved, but the server has shown another definition too
            return False, [finding("pins.drift", Severity.SEV3, f"{label(name)} has a pending change "
                                    f"({waiting.get('kind')}) awaiting review; withheld until approved or rejected",
                                    path=f"tools/{name}", excerpt=clip(waiting.get("diff_text")))]
        change = await self._record_pending(upstream, known, name, sha, tool, blocking)
        return False, [*blocking, change_finding(name, change, enforced=mode != "alert")]

    async def _record_pending(self, upstream: str, known: UpstreamView, name: str, sha: str, tool: dict[str, Any],
                              blocking: list[Finding]) -> dict[str, Any]:
        now = self._clock()
        current = known.pending.get(name)
        if current is not None and current.get("sha256") == sha:
            if now - float(current.get("last_seen", 0)) > _SEEN_REFRESH_SECONDS:
                current = {**current, "last_seen": now, "count": int(current.get("count", 1)) + 1}
                await self.store.kv_put(ap.pending_ns(upstream), name, current)
                known.pending[name] = current
            return current
        if current is None and len(known.pending) >= MAX_PENDING:
            return {"sha256": sha, "kind": "new", "diff_text": "not recorded: too many pending changes"}
        base = known.approved_definition(self.locks.get(upstream), name)
        if base is None:
            diff: dict[str, Any] = {"added": [name]}
            text = render_new(name, tool)
        else:
            change = replace(diff_definitions(base[1], tool), old_sha256=base[0], new_sha256=sha)
            diff, text = change.as_dict(), change.render()
        kind = "poisoned" if blocking else ("new" if base is None else "changed")
        record = {"sha256": sha, "definition": tool, "kind": kind, "approved_sha256": base[0] if base else None,
                  "diff": diff, "diff_text": text, "findings": [f.as_dict() for f in blocking],
                  "first_seen": now, "last_seen": now, "count": 1}
        await self.store.kv_put(ap.pending_ns(upstream), name, record)
        known.pending[name] = record
        self._emit("pin_change_pending", upstream=upstream, tool=name, change=kind, sha256=sha,
                   approved_sha256=record["approved_sha256"], diff=diff, diff_text=text[:EVENT_DIFF_CHARS],
                   findings=record["findings"])
        return record

    async def _store_tofu(self, upstream: str, known: UpstreamView, name: str, sha: str, tool: dict[str, Any]) -> None:
        record = {"sha256": sha, "definition": tool, "approver": "tofu", "approved_at": self._clock(),
                  "reason": "trust on first use", "source": "tofu", "allow_findings": False}
        await self.store.kv_put(ap.pins_ns(upstream), name, record)
        known.approvals[name] = record

    async def _tofu_window(self, upstream: str, known: UpstreamView, first_page: bool, last_page: bool) -> bool:
        """Open on the first listing of an upstream with nothing pinned; closed after its last page."""
        meta, now = known.tofu, self._clock()
        if meta is None:
            lock = self.locks.get(upstream)
            if not first_page or (lock is not None and lock.tools) or any(k != SERVER_KEY for k in known.approvals):
                return False
            meta = {"opened_at": now, "closed": False}
        elif meta.get("closed") or now - float(meta.get("opened_at", 0)) > self.tofu_window_seconds:
            return False
        if last_page:
            meta = {**meta, "closed": True, "closed_at": now}
        await self.store.kv_put(ap.meta_ns(upstream), "tofu", meta)
        known.tofu = meta
        return True

    # -- calls ---------------------------------------------------------------------------------
    async def check_call(self, upstream: str, name: str) -> CallOutcome:
        """May `name` be called? Only with an approved definition and no pending change."""
        if upstream not in self.modes:
            return CallOutcome(True, "unmanaged", "")
        known = await self._load(upstream, fresh=False)
        return known.call_outcome(upstream, self.modes[upstream], self.locks.get(upstream), name)

    def cached_call(self, upstream: str, name: str) -> CallOutcome | None:
        """`check_call` without I/O while this replica's view is fresh; None when it must be re-read."""
        known = self._known.get(upstream)
        if upstream not in self.modes or known is None or self._clock() - known.loaded >= self.refresh_seconds:
            return None
        return known.call_outcome(upstream, self.modes[upstream], self.locks.get(upstream), name)

    # -- server instructions -------------------------------------------------------------------
    async def review_instructions(self, upstream: str, instructions: str | None) -> tuple[bool, list[Finding]]:
        """(keep the instructions?, findings) for an initialize / server/discover answer: pinned like a tool."""
        if instructions is None:
            return True, []
        mode = self.modes[upstream]
        known = await self._load(upstream, fresh=True)
        first_sight = mode == "tofu" and self.locks.get(upstream) is None and SERVER_KEY not in known.approvals
        ok, found = await self._review_one(upstream, mode, known, SERVER_KEY, {"instructions": instructions},
                                           first_sight, sha=instructions_sha256(instructions))
        return ok or mode == "alert", found

    def note_list_changed(self, upstream: str) -> Finding:
        """A tools/list_changed notification: passes; the next listing is reviewed (and re-read fresh)."""
        self._known.pop(upstream, None)
        return finding("pins.list_changed", Severity.SEV4,
                        f"upstream {upstream!r} announced a tool list change; the next listing is checked against pins")

    # -- state -----------------------------------------------------------------------------------
    async def _load(self, upstream: str, *, fresh: bool) -> UpstreamView:
        now = self._clock()
        known = self._known.get(upstream)
        if known is not None and not fresh and now - known.loaded < self.refresh_seconds:
            return known
        await self.start()
        known = UpstreamView(await ap.approved(self.store, upstream), await ap.pending(self.store, upstream),
                       await self.store.kv_get(ap.meta_ns(upstream), "tofu"), now)
        self._known[upstream] = known
        self._names.setdefault(upstream, set()).update(k for k in known.approvals if k != SERVER_KEY)
        return known

    def _scan(self, sha: str, tool: dict[str, Any]) -> list[Finding]:
        found = self._scans.get(sha)
        if found is None:
            if len(self._scans) >= _SCAN_CACHE_MAX:
                self._scans.clear()
            found = self._scans[sha] = list(self.scanner(tool))
        return found

    def _emit(self, event_type: str, **fields: Any) -> None:
        if self._audit is not None:
            self._audit(system_event(event_type, **fields))

