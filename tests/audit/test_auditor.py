"""The Auditor: one JSON line per event to every sink, and a loud failure when a sink cannot write."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from proxy.audit import AuditError, Auditor, system_event
from proxy.audit.auditor import FdSink
from proxy.errors import DrawbridgeError


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "audit.jsonl"


@pytest.fixture
def auditor(audit_file: Path) -> Iterator[Auditor]:
    a = Auditor([FdSink.open_file(audit_file)])
    yield a
    a.close()


def lines(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [orjson.loads(line) for line in raw.splitlines()]


def test_one_line_per_emit(auditor: Auditor, audit_file: Path) -> None:
    for n in range(3):
        auditor.emit(system_event("test", n=n, text="multi\nline é"))
    events = lines(audit_file)
    assert [e["n"] for e in events] == [0, 1, 2]
    assert events[0]["text"] == "multi\nline é"
    assert auditor.count == 3


def test_file_is_created_private_and_appended(audit_file: Path) -> None:
    first = Auditor([FdSink.open_file(audit_file)])
    first.emit({"a": 1})
    first.close()
    assert audit_file.stat().st_mode & 0o777 == 0o600
    second = Auditor([FdSink.open_file(audit_file, fsync=True)])
    second.emit({"a": 2})
    second.close()
    assert lines(audit_file) == [{"a": 1}, {"a": 2}]


def test_every_sink_gets_the_line(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    auditor = Auditor([FdSink.open_file(one), FdSink.open_file(two)])
    auditor.emit({"k": "v"})
    auditor.close()
    assert lines(one) == lines(two) == [{"k": "v"}]


def test_closed_fd_raises_audit_error(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "x.jsonl", os.O_WRONLY | os.O_CREAT, 0o600)
    auditor = Auditor([FdSink(fd, owned=False)])
    os.close(fd)
    with pytest.raises(AuditError) as info:
        auditor.emit({"a": 1})
    assert isinstance(info.value, DrawbridgeError)
    assert "audit sink write failed" in str(info.value)
    assert auditor.count == 0


def test_fd_not_open_for_writing_raises_audit_error(tmp_path: Path) -> None:
    path = tmp_path / "ro.jsonl"
    path.write_text("")
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(AuditError):
            Auditor([FdSink(fd, owned=False)]).emit({"a": 1})
    finally:
        os.close(fd)
    assert path.read_text() == ""


def test_broken_pipe_raises_audit_error() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with pytest.raises(AuditError):
            Auditor([FdSink(write_end, owned=False)]).emit({"a": 1})
    finally:
        os.close(write_end)


def test_unowned_fd_is_not_closed(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "x.jsonl", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        Auditor([FdSink(fd, owned=False)]).close()
        os.fstat(fd)  # still open
    finally:
        os.close(fd)


def test_owned_fd_is_closed_on_close(audit_file: Path) -> None:
    sink = FdSink.open_file(audit_file)
    auditor = Auditor([sink])
    auditor.close()
    with pytest.raises(AuditError):
        auditor.emit({"a": 1})
