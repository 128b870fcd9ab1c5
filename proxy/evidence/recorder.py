"""Bounded ring buffers of recent exchanges per session, frozen into evidence at containment.

Contract with the data plane: call `record()` once per decided message with what the agent sent
(request) or was given (result, *as returned to the agent*, i.e. after redaction) and the decision.
The recorder never sees more than that, so secrets the pipeline redacted never enter evidence.
Use the session id the responder sees in `drawbridge sessions list` as `session_key` (for the
stateless era, a stable key such as `stateless:<principal>:<agent>`).
"""

from __future__ import annotations

import builtins
import hashlib
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from .snapshot import (
    EVIDENCE_ID,
    EvidenceRecord,
    EvidenceReport,
    SessionCapture,
    list_evidence,
    read_exchanges,
    verify_evidence,
    write_evidence,
)

SnapshotKind = Literal["principal", "agent", "session"]


@dataclass(slots=True)
class _Buffer:
    principal: str
    agent: str | None
    entries: deque[tuple[float, bytes]] = field(default_factory=deque)
    size: int = 0


def _encode(entry: dict[str, Any], limit: int) -> bytes:
    """Compact JSON of the entry; an oversized one becomes a stub with its size, hash and head.

    What is kept is an exact-size copy: a bytes object from orjson holds on to about 4 KiB of memory
    however short it is, which would multiply the buffers' real footprint far past their byte limits."""
    raw = orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS)
    if len(raw) <= limit:
        return bytes(memoryview(raw))
    head = raw[: max(0, limit // 2)].decode("utf-8", "replace")
    return bytes(memoryview(orjson.dumps({"truncated": True, "bytes": len(raw),
                                          "sha256": hashlib.sha256(raw).hexdigest(), "head": head})))


class EvidenceRecorder:
    """Per-session ring buffers (LRU across sessions, bounded in count and bytes) plus sealed snapshots."""

    def __init__(self, evidence_dir: Path = Path("var/evidence"), *, max_entries_per_session: int = 256,
                 max_sessions: int = 10_000, max_entry_bytes: int = 64 * 1024,
                 max_total_bytes: int = 256 * 1024 * 1024) -> None:
        self.evidence_dir = Path(evidence_dir)
        self.max_entries_per_session, self.max_sessions = max_entries_per_session, max_sessions
        self.max_entry_bytes, self.max_total_bytes = max_entry_bytes, max_total_bytes
        self._buffers: OrderedDict[str, _Buffer] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()
        self._sealed: dict[str, str] = {}  # evidence id → manifest sha256, for snapshots made by this process

    def __repr__(self) -> str:
        return f"EvidenceRecorder(<{len(self._buffers)} sessions, {self._total} bytes>, dir={str(self.evidence_dir)!r})"

    def record(self, session_key: str, principal: str, agent: str | None, entry: dict[str, Any]) -> None:
        """Remember one exchange (request, result as returned to the agent, decision)."""
        raw = _encode(entry, self.max_entry_bytes)
        item = (time.time(), raw)
        with self._lock:
            buf = self._buffers.get(session_key)
            if buf is None:
                buf = self._buffers[session_key] = _Buffer(principal, agent)
            else:
                self._buffers.move_to_end(session_key)
                buf.agent = buf.agent or agent
            if len(buf.entries) >= self.max_entries_per_session:
                self._shrink(buf, len(buf.entries.popleft()[1]))
            buf.entries.append(item)
            buf.size += len(raw)
            self._total += len(raw)
            while len(self._buffers) > 1 and (len(self._buffers) > self.max_sessions
                                              or self._total > self.max_total_bytes):
                _, evicted = self._buffers.popitem(last=False)
                self._total -= evicted.size

    def _shrink(self, buf: _Buffer, size: int) -> None:
        buf.size -= size
        self._total -= size

    def forget(self, session_key: str) -> None:
        with self._lock:
            buf = self._buffers.pop(session_key, None)
            if buf is not None:
                self._total -= buf.size

    def captures(self, kind: SnapshotKind, subject: str) -> list[SessionCapture]:
        """Copies of the buffers of the affected sessions (by id, or every session of the principal/agent)."""
        with self._lock:
            return [SessionCapture(key, buf.principal, buf.agent, list(buf.entries))
                    for key, buf in self._buffers.items()
                    if (kind == "session" and key == subject) or (kind == "principal" and buf.principal == subject)
                    or (kind == "agent" and buf.agent == subject)]

    def snapshot(self, kind: SnapshotKind, subject: str, *, actor: str, reason: str, ticket: str | None,
                 context: dict[str, Any], captures: builtins.list[SessionCapture] | None = None) -> EvidenceRecord:
        """Seal the subject's recent exchanges with `context` (manifests, pins, policy version). Blocking I/O.

        `captures` taken earlier with `captures()` (in memory, instant) are sealed as they were then: this
        is how containment freezes what it holds before tearing anything down, and writes to disk after.
        """
        limits = {"max_entries_per_session": self.max_entries_per_session, "max_sessions": self.max_sessions,
                  "max_entry_bytes": self.max_entry_bytes}
        frozen = self.captures(kind, subject) if captures is None else captures
        record = write_evidence(self.evidence_dir, kind=kind, subject=subject, actor=actor, reason=reason,
                                ticket=ticket, context=context, captures=frozen, limits=limits)
        self._sealed[record.id] = record.manifest_sha256
        return record

    def list(self) -> builtins.list[EvidenceRecord]:
        """Every snapshot in the evidence directory, newest first."""
        return list_evidence(self.evidence_dir)

    def _directory(self, evidence_id: str) -> Path:
        if not EVIDENCE_ID.fullmatch(evidence_id):
            raise KeyError(evidence_id)
        directory = self.evidence_dir / evidence_id
        if not directory.is_dir():
            raise KeyError(evidence_id)
        return directory

    def show(self, evidence_id: str) -> EvidenceReport:
        """Re-read and verify one snapshot; KeyError if there is no such id."""
        return verify_evidence(self._directory(evidence_id), self._sealed.get(evidence_id))

    def exchanges(self, evidence_id: str) -> builtins.list[dict[str, Any]]:
        """The captured exchanges of one snapshot; KeyError if there is no such id."""
        return read_exchanges(self._directory(evidence_id))
