"""The emitter and its sinks. A required sink that cannot take an event raises: the caller refuses."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from proxy.audit.delivery import Counters, Gap, Losses, QueuedSink
from proxy.audit.event import system_event
from proxy.errors import DrawbridgeError
from proxy.replicas import new_replica_id
from proxy.types import JsonObject

log = logging.getLogger("drawbridge.audit")


class AuditError(DrawbridgeError):
    """An audit event could not be written."""


class Sink(Protocol):
    def write(self, line: bytes) -> None: ...
    def close(self) -> None: ...


class FdSink:
    """Appends whole lines to a file descriptor with one write each (atomic for O_APPEND files)."""

    def __init__(self, fd: int, *, owned: bool, fsync: bool = False) -> None:
        self._fd, self._owned, self._fsync = fd, owned, fsync

    @property
    def fd(self) -> int:
        return self._fd

    @classmethod
    def open_file(cls, path: Path, *, fsync: bool = False) -> FdSink:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return cls(fd, owned=True, fsync=fsync)

    def write(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._owned and self._fd >= 0:
            fd, self._fd = self._fd, -1  # later writes fail (EBADF) instead of reaching a reused descriptor
            os.close(fd)


@dataclass
class Outlet:
    """A sink with its name and mode: a `required` sink that cannot take an event refuses the message."""

    name: str
    sink: Sink
    required: bool = True
    counters: Counters = field(default_factory=Counters)  # for synchronous sinks (queued ones keep their own)
    losses: Losses = field(default_factory=Losses)


def gap_event(gap: Gap) -> JsonObject:
    """The `audit_gap` event: how many events a sink lost, and the span of their seq numbers."""
    return system_event("audit_gap", sink=gap.sink, lost=gap.lost, dropped=gap.dropped, failed=gap.failed,
                        first_seq=gap.first_seq, last_seq=gap.last_seq, severity="SEV-3")


class Auditor:
    """Serialises each event once, stamps `host` and `replica_id`, and hands the line to every sink.

    Synchronous sinks (files, stdout) are written before `emit` returns, required ones first; network
    sinks (`QueuedSink`) only queue it. `emit` raises AuditError, so the caller refuses the message, when
    a required sink cannot take the event: a file write fails, or a network sink is down or full.
    Best-effort sinks never raise: they count what they lose and report it with an `audit_gap` event.
    """

    def __init__(self, sinks: Sequence[Sink | Outlet], *, replica_id: str | None = None,
                 host: str | None = None) -> None:
        outlets = [s if isinstance(s, Outlet) else Outlet(f"sink-{i}", s) for i, s in enumerate(sinks)]
        self._outlets = outlets
        self._sync = sorted((o for o in outlets if not isinstance(o.sink, QueuedSink)), key=lambda o: not o.required)
        self._queued: list[QueuedSink] = []
        self._admit: list[tuple[str, QueuedSink]] = []
        for o in outlets:
            if isinstance(o.sink, QueuedSink):
                self._queued.append(o.sink)
                if o.required:
                    self._admit.append((o.name, o.sink))
        for queued in self._queued:
            queued.on_gap = self._report_gap
        self.host = host if host is not None else socket.gethostname()
        self.replica_id = replica_id if replica_id is not None else new_replica_id()
        self._stamp = b',"host":%s,"replica_id":%s}\n' % (orjson.dumps(self.host), orjson.dumps(self.replica_id))
        self._lock = threading.Lock()
        self._gaps: list[Gap] = []
        self._closed = False
        self.count = 0
        self.observers: list[Callable[[JsonObject], None]] = []  # told of each event written (metrics); never raise

    def emit(self, event: JsonObject) -> None:
        """Write `event` to the synchronous sinks and queue it for the others; AuditError: refuse the message."""
        if "host" in event or "replica_id" in event:
            event = {(f"event_{k}" if k in ("host", "replica_id") else k): v for k, v in event.items()}
        raw = orjson.dumps(event)
        line = b"".join((memoryview(raw)[:-1], self._stamp)) if len(raw) > 2 else b"{" + self._stamp[1:]
        with self._lock:
            if not self._closed:
                for name, queued in self._admit:
                    if not queued.accepting():
                        queued.counters.refused += 1
                        raise AuditError(f"audit sink {name} unavailable (down or full)")
            for out in self._sync:
                try:
                    out.sink.write(line)
                except Exception as exc:  # an OSError, or a format that could not map the event
                    out.counters.failed += 1
                    reason = (exc.strerror if isinstance(exc, OSError) else None) or exc.__class__.__name__
                    if out.required:
                        raise AuditError(f"audit sink write failed ({out.name}): {reason}") from None
                    if not out.losses:
                        log.warning("audit sink %s: write failed (%s); events are counted as lost", out.name, reason)
                    out.losses.add(None, failed=True)
                    continue
                out.counters.delivered += 1
                if out.losses:
                    gap = out.losses.take(out.name)
                    assert gap is not None
                    self._gaps.append(gap)
            if not self._closed:
                for queued in self._queued:
                    queued.offer(line)
            self.count += 1
        for observe in self.observers:
            observe(event)
        if self._gaps:
            self._flush_gaps()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per sink: mode and counters (delivered, dropped, failed, refused); queue depth and state of network
        sinks. For a metrics endpoint: reads only, takes no lock."""
        out: dict[str, dict[str, Any]] = {}
        for o in self._outlets:
            queued = o.sink if isinstance(o.sink, QueuedSink) else None
            counters = queued.counters if queued is not None else o.counters
            row: dict[str, Any] = {"mode": "required" if o.required else "best_effort", **asdict(counters)}
            if queued is not None:
                row |= {"queued": queued.depth, "down": queued.down}
            out[o.name] = row
        return out

    def reopen(self) -> None:
        """Reopen file sinks at their paths (SIGUSR1, after logrotate renamed them)."""
        with self._lock:
            for out in self._sync:
                reopen = getattr(out.sink, "reopen", None)
                if reopen is None:
                    continue
                try:
                    reopen()
                except OSError as exc:
                    log.error("audit sink %s not reopened: %s", out.name, exc.strerror or exc)

    def close(self) -> None:
        """Flush the network sinks (bounded), record what they lost in the others, then close the files."""
        with self._lock:
            if self._closed:
                return
            self._closed = True  # from here on events reach only the synchronous sinks
        for queued in self._queued:
            gap = queued.shutdown()
            if gap is not None:
                self._gaps.append(gap)
        self._flush_gaps()
        for out in self._sync:
            try:
                out.sink.close()
            except OSError as exc:
                log.error("audit sink %s not closed cleanly: %s", out.name, exc.strerror or exc)

    def _report_gap(self, gap: Gap) -> None:
        """A network sink delivers again after losses (its thread calls this; raises when not written)."""
        self.emit(gap_event(gap))

    def _flush_gaps(self) -> None:
        with self._lock:
            gaps, self._gaps = self._gaps, []
        for gap in gaps:
            try:
                self.emit(gap_event(gap))
            except AuditError as exc:
                log.error("audit_gap for %s (%d lost) not written: %s", gap.sink, gap.lost, exc)
