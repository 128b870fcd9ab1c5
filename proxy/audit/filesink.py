"""A chained JSON-lines file sink: one write per line, rotation by size or age, reopening for logrotate.

A rotated file is renamed `NAME.YYYYMMDDTHHMMSS.mmmZ` (UTC, the time of rotation): names sort in the
order the files were written, and a renamed file is never renamed again (shippers that follow it keep
their place). The chain goes on across rotation and reopening: the old file ends with a checkpoint and
the new file's first line links to it. Nothing is deleted: retention is the operator's.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from proxy.audit.auditor import FdSink
from proxy.audit.chain import Chain, CheckpointReason, tail_sha256

log = logging.getLogger("drawbridge.audit")


def _identity(line: bytes) -> bytes:
    return line


class FileSink:
    """Writes chained lines to a file (or an inherited descriptor such as stdout) before returning."""

    def __init__(self, out: FdSink, chain: Chain, *, path: Path | None = None, fsync: bool = False,
                 max_bytes: int | None = None, max_age_seconds: float | None = None,
                 fmt: Callable[[bytes], bytes] = _identity) -> None:
        self._out, self.chain, self.path = out, chain, path
        self._fsync, self._max_bytes, self._max_age, self._format = fsync, max_bytes, max_age_seconds, fmt
        self._size = self._opened = 0.0
        self._closed = False
        self._reset_limits()

    @classmethod
    def open(cls, path: Path, *, key: bytes | None = None, every: int = 1000, stamp: dict[str, str] | None = None,
             fsync: bool = False, max_bytes: int | None = None, max_age_seconds: float | None = None,
             fmt: Callable[[bytes], bytes] = _identity) -> FileSink:
        """Append to `path`; the first line links to the file's last line (a new segment of its chain)."""
        out, prev = _open(path)
        return cls(out, Chain(prev, key=key, every=every, stamp=stamp), path=path, fsync=fsync, max_bytes=max_bytes,
                   max_age_seconds=max_age_seconds, fmt=fmt)

    def write(self, line: bytes) -> None:
        if self._closed:
            raise OSError(errno.EBADF, "audit file sink is closed")
        if self._rotation_due():
            self._switch("rotate")
        before = self.chain.state
        data = self.chain.link(self._format(line))
        if self.chain.due:
            data += self.chain.checkpoint("interval")  # in the same write: both land, or neither
        try:
            self._out.write(data)
            if self._fsync:
                os.fsync(self._out.fd)
        except OSError:
            self.chain.state = before  # the chain only holds what the file holds
            raise
        self._size += len(data)

    def reopen(self) -> None:
        """After logrotate renamed the file: close it with a checkpoint and go on in a new file at `path`."""
        if self.path is not None and not self._closed:
            self._switch("reopen")

    def close(self) -> None:
        """The closing checkpoint, then the descriptor (when owned)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._checkpoint("close")
        finally:
            self._out.close()

    def _checkpoint(self, reason: CheckpointReason) -> None:
        before = self.chain.state
        try:
            self._out.write(self.chain.checkpoint(reason))
        except OSError:
            self.chain.state = before
            raise

    def _switch(self, reason: CheckpointReason) -> None:
        """Checkpoint the current file and go on at `path` (renaming the current file first on rotation)."""
        assert self.path is not None
        if reason == "rotate":
            try:
                os.rename(self.path, rotated_name(self.path))
            except OSError as exc:
                log.warning("audit file %s not rotated (%s); writing on", self.path, exc.strerror or exc)
                self._reset_limits()
                return
        new, _ = _open(self.path)  # when this fails the current file stays in use
        try:
            self._checkpoint(reason)
        except OSError:
            new.close()
            raise
        old, self._out = self._out, new  # the chain continues: its state is the old file's last line
        old.close()
        self._reset_limits()

    def _rotation_due(self) -> bool:
        if self._max_bytes is not None and self._size >= self._max_bytes:
            return True
        return self._max_age is not None and time.monotonic() - self._opened >= self._max_age

    def _reset_limits(self) -> None:
        self._opened = time.monotonic()
        self._size = os.fstat(self._out.fd).st_size if self.path is not None else 0


def _open(path: Path) -> tuple[FdSink, str]:
    prev, torn = tail_sha256(path)
    out = FdSink.open_file(path)
    if torn:
        out.write(b"\n")  # a line cut short by a crash ends here; the next line links to it as completed
    return out, prev


def rotated_name(path: Path) -> Path:
    """`NAME.YYYYMMDDTHHMMSS.mmmZ`, one millisecond later while that name is taken."""
    now = time.time()
    while True:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        candidate = path.with_name(f"{path.name}.{stamp}")
        if not candidate.exists():
            return candidate
        now += 0.001
