"""The hash chain of an audit file: `seq` and `prev_sha256` spliced into each line, and signed checkpoints.

Each line written gets `"seq"` (1-based, per process and per file sink) and `"prev_sha256"` (the hex
SHA-256 of the previous line's bytes, newline included) appended to its JSON object, without a second
serialisation. Every `every` events, and at rotation, reopening and close, an `audit_checkpoint` line
states how many events it covers and the hash of the line before it, signed with HMAC-SHA256 when a key
is configured. `drawbridge audit verify` (proxy.audit.verify) checks all of it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from proxy.audit.event import system_event

GENESIS = "0" * 64
CHECKPOINT = "audit_checkpoint"
CheckpointReason = Literal["interval", "rotate", "reopen", "close"]
_TAIL_CHUNK = 64 * 1024


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's HMAC covers: every field but `hmac_sha256`, compact JSON, sorted keys."""
    return orjson.dumps({k: v for k, v in fields.items() if k != "hmac_sha256"}, option=orjson.OPT_SORT_KEYS)


def sign(key: bytes, fields: dict[str, Any]) -> str:
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()


@dataclass(slots=True)
class ChainState:
    """Where a chain stands: the last seq written, the hash of the last line, events since a checkpoint."""

    seq: int = 0
    prev: bytes = GENESIS.encode()
    count: int = 0


class Chain:
    """Links lines into one chain and writes its checkpoints. Not thread-safe: the Auditor's lock guards it."""

    def __init__(self, prev_sha256: str = GENESIS, *, key: bytes | None = None, every: int = 1000,
                 stamp: dict[str, str] | None = None) -> None:
        self.state = ChainState(prev=prev_sha256.encode())
        self._key, self._every, self._stamp = key, every, stamp or {}

    def link(self, line: bytes) -> bytes:
        """`line` (one JSON object and its newline) with this chain's next seq and prev_sha256 appended;
        the state advances (keep `self.state` from before to undo it when the write fails)."""
        state = self.state
        seq = state.seq + 1
        sep = b"" if line[-3:-2] == b"{" else b","
        linked = line[:-2] + b'%s"seq":%d,"prev_sha256":"%s"}\n' % (sep, seq, state.prev)
        self.state = ChainState(seq, hashlib.sha256(linked).hexdigest().encode(), state.count + 1)
        return linked

    @property
    def due(self) -> bool:
        return self.state.count >= self._every

    def checkpoint(self, reason: CheckpointReason) -> bytes:
        """The checkpoint line for everything written so far; the state advances past it."""
        state = self.state
        fields = system_event(CHECKPOINT, **self._stamp, reason=reason, seq=state.seq + 1,
                              prev_sha256=state.prev.decode(), count=state.count, chain_sha256=state.prev.decode())
        fields["hmac_sha256"] = sign(self._key, fields) if self._key is not None else None
        line = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
        self.state = ChainState(state.seq + 1, hashlib.sha256(line).hexdigest().encode(), 0)
        return line


def tail_sha256(path: Path) -> tuple[str, bool]:
    """The hash of the last line of `path` (GENESIS when missing or empty), and whether that line is torn
    (no final newline: the writer must add one before appending; the hash then covers it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return GENESIS, False
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        if end == 0:
            return GENESIS, False
        tail, pos = b"", end
        while pos > 0:
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            os.lseek(fd, pos, os.SEEK_SET)
            tail = os.read(fd, step) + tail
            cut = tail.rfind(b"\n", 0, len(tail) - 1)
            if cut >= 0:
                tail = tail[cut + 1:]
                break
    finally:
        os.close(fd)
    torn = not tail.endswith(b"\n")
    return hashlib.sha256(tail + b"\n" if torn else tail).hexdigest(), torn
