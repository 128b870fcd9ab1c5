"""The Auditor: one JSON line per event to every sink, and a loud failure when a sink cannot write."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from proxy.audit import AuditError, Auditor, system_event
from proxy.audit.auditor import FdSink, Outlet
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
    """The events written, without the `host` and `replica_id` every line carries."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    events = [orjson.loads(line) for line in raw.splitlines()]
    for event in events:
        assert event.pop("host") == socket.gethostname() and isinstance(event.pop("replica_id"), str)
    return events


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


def test_host_and_replica_are_appended_and_an_events_own_fields_kept() -> None:
    read_end, write_end = os.pipe()
    try:
        auditor = Auditor([FdSink(write_end, owned=False)], replica_id="h-1-abc", host="h")
        auditor.emit({"event_type": "x"})
        auditor.emit({"event_type": "egress_deny", "host": "evil.example"})
        auditor.emit({})
        raw = os.read(read_end, 4096)
    finally:
        os.close(read_end)
        os.close(write_end)
    first, second, third = raw.splitlines()
    assert first == b'{"event_type":"x","host":"h","replica_id":"h-1-abc"}'
    assert orjson.loads(second) == {"event_type": "egress_deny", "event_host": "evil.example", "host": "h",
                                    "replica_id": "h-1-abc"}
    assert orjson.loads(third) == {"host": "h", "replica_id": "h-1-abc"}


def test_required_sinks_are_written_first_and_a_failure_stops_the_event(tmp_path: Path) -> None:
    kept = tmp_path / "kept.jsonl"
    auditor = Auditor([Outlet("kept", FdSink.open_file(kept), required=False),
                       Outlet("full", FdSink.open_file(Path("/dev/full")))])
    with pytest.raises(AuditError, match=r"audit sink write failed \(full\): No space left"):
        auditor.emit({"a": 1})
    assert kept.read_bytes() == b"" and auditor.stats()["full"]["failed"] == 1


def test_a_best_effort_sink_counts_failures_and_reports_a_gap_when_it_writes_again(tmp_path: Path) -> None:
    flaky_path, main_path = tmp_path / "flaky.jsonl", tmp_path / "main.jsonl"
    flaky_path.write_text("")
    fd = os.open(flaky_path, os.O_RDONLY)  # writes fail (EBADF) until the descriptor is made writable
    auditor = Auditor([Outlet("main", FdSink.open_file(main_path)), Outlet("flaky", FdSink(fd, owned=True),
                                                                           required=False)])
    for n in range(3):
        auditor.emit({"n": n})  # never raises
    assert auditor.stats()["flaky"] == {"mode": "best_effort", "delivered": 0, "dropped": 0, "failed": 3, "refused": 0}
    writable = os.open(flaky_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(writable, fd)
    os.close(writable)
    auditor.emit({"n": 3})
    auditor.close()
    gaps = [e for e in lines(main_path) if e.get("event_type") == "audit_gap"]
    assert [(g["sink"], g["lost"], g["failed"], g["first_seq"]) for g in gaps] == [("flaky", 3, 3, None)]
    assert [e.get("n", e.get("event_type")) for e in lines(flaky_path)] == [3, "audit_gap"]
    assert [e.get("n", e.get("event_type")) for e in lines(main_path)] == [0, 1, 2, 3, "audit_gap"]
