"""Audit sinks and the emitter. A write that fails raises: the caller refuses (nothing lost)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

import orjson

from proxy.errors import DrawbridgeError
from proxy.types import JsonObject


class AuditError(DrawbridgeError):
    """An audit event could not be written."""


class Sink(Protocol):
    def write(self, line: bytes) -> None: ...
    def close(self) -> None: ...


class FdSink:
    """Appends whole lines to a file descriptor with one write each (atomic for O_APPEND files)."""

    def __init__(self, fd: int, *, owned: bool, fsync: bool = False) -> None:
        self._fd, self._owned, self._fsync = fd, owned, fsync

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
        if self._owned:
            os.close(self._fd)


class Auditor:
    """Serialises each event once and writes it to every sink before returning."""

    def __init__(self, sinks: list[Sink]) -> None:
        self._sinks = sinks
        self._lock = threading.Lock()
        self.count = 0

    def emit(self, event: JsonObject) -> None:
        line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
        try:
            with self._lock:
                for sink in self._sinks:
                    sink.write(line)
                self.count += 1
        except OSError as exc:
            raise AuditError(f"audit sink write failed: {exc.strerror or exc.__class__.__name__}") from None

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()
