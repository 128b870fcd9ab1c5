"""Network sinks: a bounded queue per sink, drained by a background thread, with every loss counted.

Each event offered to a network sink gets that sink's next `seq` (1-based, per process), added to the
line when it is sent, so a receiver sees a hole where events were lost. An event is lost when the queue
is full (`dropped`) or when the receiver rejects it or the sink shuts down before sending it (`failed`).
After losses, the next successful delivery reports them once (`Gap`): the Auditor writes an `audit_gap`
event to every sink. A connection failure keeps the batch queued and marks the sink down until a retry
(exponential backoff) succeeds.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("drawbridge.audit")
RETRY_MIN, RETRY_MAX = 0.1, 5.0


class DeliveryError(Exception):
    """A receiver did not take a batch: `retryable` when it may later (down), else the batch is lost."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable


class Transport(Protocol):
    """Sends whole batches of lines (JSON objects ending in a newline) to one receiver, in order."""

    probe_on_start: bool

    def send(self, lines: list[bytes]) -> None: ...
    def probe(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class Counters:
    """Per sink: events delivered, dropped (queue full), failed (not delivered), refused (required, down)."""

    delivered: int = 0
    dropped: int = 0
    failed: int = 0
    refused: int = 0


@dataclass(frozen=True)
class Gap:
    """Events a sink lost since its last report, and the span of their seq numbers (None: not numbered)."""

    sink: str
    dropped: int
    failed: int
    first_seq: int | None
    last_seq: int | None

    @property
    def lost(self) -> int:
        return self.dropped + self.failed


class Losses:
    """Accumulates losses until they are reported."""

    def __init__(self) -> None:
        self.dropped = self.failed = 0
        self.first: int | None = None
        self.last: int | None = None

    def _reset(self) -> None:
        self.dropped = self.failed = 0
        self.first = self.last = None

    def __bool__(self) -> bool:
        return self.dropped + self.failed > 0

    def add(self, seq: int | None, *, failed: bool) -> None:
        if failed:
            self.failed += 1
        else:
            self.dropped += 1
        if seq is not None:
            self.first = seq if self.first is None else min(self.first, seq)
            self.last = seq if self.last is None else max(self.last, seq)

    def take(self, sink: str) -> Gap | None:
        if not self:
            return None
        gap = Gap(sink, self.dropped, self.failed, self.first, self.last)
        self._reset()
        return gap

    def restore(self, gap: Gap) -> None:
        self.dropped += gap.dropped
        self.failed += gap.failed
        for seq in (gap.first_seq, gap.last_seq):
            if seq is not None:
                self.first = seq if self.first is None else min(self.first, seq)
                self.last = seq if self.last is None else max(self.last, seq)


def _native(line: bytes) -> bytes:
    return line


class QueuedSink:
    """A Sink for the Auditor: `offer` queues without blocking; a daemon thread sends batches in order."""

    def __init__(self, name: str, transport: Transport, *, fmt: Callable[[bytes], bytes] = _native,
                 capacity: int = 10_000, batch_size: int = 100, linger: float = 0.2,
                 close_timeout: float = 5.0) -> None:
        self.name, self.counters, self.down = name, Counters(), False
        self.on_gap: Callable[[Gap], None] | None = None  # set by the Auditor
        self._transport, self._format = transport, fmt
        self._capacity, self._batch, self._linger, self._close_timeout = capacity, batch_size, linger, close_timeout
        self._queue: deque[tuple[int, bytes]] = deque()
        self._cond = threading.Condition()
        self._losses = Losses()
        self._seq = 0
        self._closing = self._abort = False
        self._deadline = 0.0
        self._thread = threading.Thread(target=self._run, name=f"drawbridge-audit-{name}", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return len(self._queue)

    def accepting(self) -> bool:
        """Whether a required sink lets the message through: not known down, and room in the queue."""
        return not self.down and len(self._queue) < self._capacity

    def offer(self, line: bytes) -> None:
        """Queue one event (the Auditor's lock orders the callers); when the queue is full it is dropped."""
        with self._cond:
            self._seq += 1
            if self._closing or len(self._queue) >= self._capacity:
                if not self._losses:
                    log.warning("audit sink %s: queue full, dropping events (counted)", self.name)
                self.counters.dropped += 1
                self._losses.add(self._seq, failed=False)
                return
            self._queue.append((self._seq, line))
            self._cond.notify()

    def write(self, line: bytes) -> None:
        self.offer(line)

    def close(self) -> None:
        self.shutdown()

    def shutdown(self) -> Gap | None:
        """Send what is queued (bounded by close_timeout), stop, and return the losses not yet reported."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + self._close_timeout
            self._cond.notify_all()
        self._thread.join(self._close_timeout + 1.0)
        with self._cond:
            self._abort = True
            self._fail_queued()
        try:
            self._transport.close()
        except Exception as exc:
            log.warning("audit sink %s: close failed (%s)", self.name, type(exc).__name__)
        with self._cond:
            return self._losses.take(self.name)

    # -- the delivery thread -------------------------------------------------------------------
    def _run(self) -> None:
        backoff = RETRY_MIN
        if self._transport.probe_on_start:
            self._attempt(self._transport.probe)
        while True:
            with self._cond:
                while not self._queue and not self._closing and not self.down:
                    self._cond.wait()
                if self._abort or (self._closing and (not self._queue or time.monotonic() >= self._deadline)):
                    self._fail_queued()
                    return
                if not self.down and not self._closing and len(self._queue) < self._batch:
                    self._cond.wait_for(lambda: len(self._queue) >= self._batch or self._closing, self._linger)
                batch = list(itertools.islice(self._queue, self._batch))
            ok = self._deliver(batch) if batch else self._attempt(self._transport.probe)
            if ok:
                backoff = RETRY_MIN
            else:
                self._pause(backoff)
                backoff = min(backoff * 2, RETRY_MAX)

    def _deliver(self, batch: list[tuple[int, bytes]]) -> bool:
        lines: list[bytes] = []
        unformatted: list[int] = []
        for seq, line in batch:
            try:
                out = self._format(line)
                lines.append(b"".join((memoryview(out)[:-2], b',"seq":%d}\n' % seq)))
            except Exception as exc:
                log.error("audit sink %s: event seq %d not formatted (%s)", self.name, seq, type(exc).__name__)
                unformatted.append(seq)
        try:
            if lines:
                self._transport.send(lines)
        except DeliveryError as exc:
            if exc.retryable:
                return self._went_down(exc)
            log.error("audit sink %s: %d events rejected (%s)", self.name, len(batch), exc)
            self._settle(len(batch), [seq for seq, _ in batch])
            return True
        except OSError as exc:
            return self._went_down(exc)
        except Exception:  # a bug in a transport must not wedge the queue
            log.exception("audit sink %s: send failed", self.name)
            self._settle(len(batch), [seq for seq, _ in batch])
            return True
        self._settle(len(batch), unformatted)
        self._up()
        return True

    def _attempt(self, action: Callable[[], None]) -> bool:
        try:
            action()
        except Exception as exc:
            return self._went_down(exc)
        self._up()
        return True

    def _went_down(self, exc: Exception) -> bool:
        if not self.down:
            log.warning("audit sink %s down: %s", self.name, str(exc) or type(exc).__name__)
        self.down = True
        return False

    def _up(self) -> None:
        if self.down:
            log.info("audit sink %s delivering again", self.name)
        self.down = False
        with self._cond:
            gap = self._losses.take(self.name)
        if gap is not None and self.on_gap is not None:
            try:
                self.on_gap(gap)
            except Exception as exc:  # reported with the next success
                log.warning("audit sink %s: gap not reported yet (%s)", self.name, type(exc).__name__)
                with self._cond:
                    self._losses.restore(gap)

    def _settle(self, count: int, failed: list[int]) -> None:
        """Remove a sent batch from the queue; `failed` are the seqs in it that were not delivered."""
        with self._cond:
            if self._abort:  # shutdown gave up on this send and already counted the queue as failed
                return
            for _ in range(min(count, len(self._queue))):
                self._queue.popleft()
            for seq in failed:
                self._losses.add(seq, failed=True)
            self.counters.failed += len(failed)
            self.counters.delivered += count - len(failed)

    def _fail_queued(self) -> None:
        """(With the condition held.) Everything still queued is lost."""
        if self._queue:
            log.error("audit sink %s: %d events not delivered before shutdown", self.name, len(self._queue))
        for seq, _ in self._queue:
            self._losses.add(seq, failed=True)
        self.counters.failed += len(self._queue)
        self._queue.clear()

    def _pause(self, seconds: float) -> None:
        """Wait before a retry; new events do not cut it short, shutdown's deadline does."""
        end = time.monotonic() + seconds
        with self._cond:
            while not self._abort:
                left = end - time.monotonic()
                if self._closing:
                    left = min(left, self._deadline - time.monotonic())
                if left <= 0:
                    return
                self._cond.wait(left)
