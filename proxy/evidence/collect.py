"""Evidence from every replica: each one holds the recent exchanges it served in its own memory.

At containment the replica acting freezes its own buffers (in memory, instant), contains, then asks
every live replica (a store broadcast) for its share. Each answers by writing a copy of its buffers for
the subject to the store; the acting replica waits a bounded time, seals all shares into one write-once
snapshot and records in its context which replicas contributed and which did not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson

from proxy.evidence.recorder import EvidenceRecorder, SnapshotKind
from proxy.evidence.shared import publish
from proxy.evidence.snapshot import EvidenceRecord, SessionCapture
from proxy.replicas import ReplicaRegistry
from proxy.state.codec import StoreUnavailable
from proxy.state.model import Store

log = logging.getLogger("drawbridge.evidence")
NAMESPACE = "evidence_parts"
CAPTURE_EVENT = "evidence_capture"
PART_TTL_SECONDS = 600
GATHER_SECONDS = 3.0

Context = Callable[[], Awaitable[dict[str, Any]]]


def encode_captures(captures: list[SessionCapture]) -> str:
    return orjson.dumps([{"session": c.session, "principal": c.principal, "agent": c.agent,
                          "entries": [[ts, raw.decode("utf-8", "replace")] for ts, raw in c.entries]}
                         for c in captures]).decode()


def decode_captures(text: str) -> list[SessionCapture]:
    return [SessionCapture(str(c["session"]), str(c["principal"]), c.get("agent"),
                           [(float(ts), str(raw).encode()) for ts, raw in c["entries"]])
            for c in orjson.loads(text)]


def merge(captures: list[SessionCapture]) -> list[SessionCapture]:
    """One capture per session (a session served by two replicas has entries in both), oldest first."""
    by_session: dict[str, SessionCapture] = {}
    for capture in captures:
        known = by_session.get(capture.session)
        if known is None:
            by_session[capture.session] = SessionCapture(capture.session, capture.principal, capture.agent,
                                                         list(capture.entries))
        else:
            known.entries.extend(capture.entries)
    for capture in by_session.values():
        capture.entries.sort(key=lambda entry: entry[0])
    return list(by_session.values())


class EvidenceCollector:
    """Freeze here, gather every replica's share, seal once."""

    def __init__(self, recorder: EvidenceRecorder, store: Store, replicas: ReplicaRegistry, context: Context,
                 gather_seconds: float = GATHER_SECONDS) -> None:
        self.recorder = recorder
        self._store = store
        self._replicas = replicas
        self._context = context
        self._gather_seconds = gather_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        store.on_event(self._on_event)

    def freeze(self, kind: SnapshotKind, subject: str) -> list[SessionCapture]:
        """Copy what this replica holds about the subject (no I/O; before anything is torn down)."""
        return self.recorder.captures(kind, subject)

    async def seal(self, kind: SnapshotKind, subject: str, *, actor: str, reason: str, ticket: str | None,
                   frozen: list[SessionCapture]) -> EvidenceRecord:
        """Gather the other replicas' shares and seal everything (blocking I/O runs in a thread)."""
        me = self._replicas.replica_id
        request = secrets.token_hex(8)
        others: list[str] = []
        try:
            others = [r for r in await self._replicas.live() if r != me]
            if others:
                await self._store.broadcast({"event": CAPTURE_EVENT, "request": request, "kind": kind,
                                             "subject": subject, "from": me})
        except StoreUnavailable as exc:
            log.warning("evidence from other replicas not requested: %s", exc)
        shares, missing = await self._gather(request, others)
        context = await self._context()
        context["replicas"] = {"sealed_by": me, "contributed": sorted([me, *shares]), "missing": missing}
        captures = merge([*frozen, *(c for part in shares.values() for c in part)])
        snapshot = partial(self.recorder.snapshot, kind, subject, actor=actor, reason=reason, ticket=ticket,
                           context=context, captures=captures)
        record = await asyncio.to_thread(snapshot)
        try:  # findable from every replica (incident bundles); the sealed original stays on this disk
            await publish(self._store, record, me)
        except StoreUnavailable as exc:
            log.error("evidence %s not shared with other replicas: %s", record.id, exc)
        return record

    async def _gather(self, request: str, others: list[str]) -> tuple[dict[str, list[SessionCapture]], list[str]]:
        shares: dict[str, list[SessionCapture]] = {}
        deadline = time.monotonic() + self._gather_seconds
        waiting = set(others)
        while waiting and time.monotonic() < deadline:
            for replica in sorted(waiting):
                try:
                    part = await self._store.rec_take(NAMESPACE, f"{request}:{replica}")
                except StoreUnavailable:
                    part = None
                if part is not None:
                    shares[replica] = decode_captures(str(part.get("captures", "[]")))
                    waiting.discard(replica)
            if waiting:
                await asyncio.sleep(0.05)
        return shares, sorted(waiting)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") != CAPTURE_EVENT or event.get("from") == self._replicas.replica_id:
            return
        kind, subject, request = event.get("kind"), event.get("subject"), event.get("request")
        if kind not in ("principal", "agent", "session") or not isinstance(subject, str) or not isinstance(
                request, str):
            return
        captures = self.recorder.captures(kind, subject)  # frozen now, written below
        task = asyncio.get_running_loop().create_task(self._answer(request, captures))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: str, captures: list[SessionCapture]) -> None:
        me = self._replicas.replica_id
        try:
            await self._store.rec_put(NAMESPACE, f"{request}:{me}", {"replica": me,
                                                                     "captures": encode_captures(captures)},
                                      PART_TTL_SECONDS)
        except StoreUnavailable as exc:
            log.error("could not send this replica's evidence: %s", exc)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
