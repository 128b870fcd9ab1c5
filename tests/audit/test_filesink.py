"""The chained file sink: segments per process, rotation by size and age, reopening after logrotate."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import orjson
import pytest

from proxy.audit import AuditError, Auditor, system_event
from proxy.audit.auditor import Outlet
from proxy.audit.filesink import FileSink
from proxy.audit.verify import verify

STAMP = {"host": "test-host", "replica_id": "test-host-1-abcdef"}


def rows(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines()]


def auditor(sink: FileSink) -> Auditor:
    return Auditor([Outlet("file", sink)], replica_id=STAMP["replica_id"], host=STAMP["host"])


def test_a_new_process_appends_a_segment_linked_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    for run in range(2):
        a = auditor(FileSink.open(path, stamp=STAMP, every=1000))
        for n in range(3):
            a.emit(system_event("test", run=run, n=n))
        a.close()
    events = rows(path)
    assert [(e.get("run"), e["seq"]) for e in events] == [
        (0, 1), (0, 2), (0, 3), (None, 4), (1, 1), (1, 2), (1, 3), (None, 4)]
    assert events[3]["event_type"] == events[7]["event_type"] == "audit_checkpoint"
    assert events[3]["reason"] == "close" and events[3]["count"] == 3
    lines = path.read_bytes().splitlines(keepends=True)
    assert events[4]["prev_sha256"] == hashlib.sha256(lines[3]).hexdigest()  # the new segment links to the file
    assert verify([path])[1] is None


def test_rotation_by_size_renames_with_a_timestamp_and_the_chain_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    a = auditor(FileSink.open(path, stamp=STAMP, max_bytes=1500))
    for n in range(20):
        a.emit(system_event("test", n=n, padding="x" * 100))
    a.close()
    rotated = sorted(tmp_path.glob("audit.jsonl.2*"))
    assert len(rotated) >= 2
    assert all(len(p.name) == len("audit.jsonl.20260101T000000.000Z") for p in rotated)
    for older in rotated:
        assert rows(older)[-1]["event_type"] == "audit_checkpoint" and rows(older)[-1]["reason"] == "rotate"
    chain = [*rotated, path]
    seqs = [e["seq"] for p in chain for e in rows(p)]
    assert seqs == list(range(1, len(seqs) + 1))  # one process: one sequence across its files
    assert [e["n"] for p in chain for e in rows(p) if "n" in e] == list(range(20))
    verifier, found = verify(chain)
    assert found is None and verifier.segments == 1
    assert verify([rotated[0], path])[1].kind == "rotation_gap"  # type: ignore[union-attr]


def test_rotation_by_age(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    a = auditor(FileSink.open(path, stamp=STAMP, max_age_seconds=0.05))
    a.emit(system_event("test", n=0))
    time.sleep(0.1)
    a.emit(system_event("test", n=1))
    a.close()
    [rotated] = tmp_path.glob("audit.jsonl.2*")
    assert [e.get("n") for e in rows(rotated)] == [0, None]
    assert [e.get("n") for e in rows(path)] == [1, None]
    assert verify([rotated, path])[1] is None


def test_reopen_after_logrotate_renamed_the_file(tmp_path: Path) -> None:
    path, moved = tmp_path / "audit.jsonl", tmp_path / "audit.jsonl.1"
    a = auditor(FileSink.open(path, stamp=STAMP))
    a.emit(system_event("test", n=0))
    os.rename(path, moved)  # what logrotate does before its postrotate `kill -USR1`
    a.emit(system_event("test", n=1))  # still the old file: the sink has it open
    a.reopen()
    a.emit(system_event("test", n=2))
    a.close()
    assert [(e.get("n"), e.get("reason")) for e in rows(moved)] == [(0, None), (1, None), (None, "reopen")]
    assert [(e.get("n"), e.get("reason")) for e in rows(path)] == [(2, None), (None, "close")]
    assert verify([moved, path])[1] is None


def test_a_failed_write_raises_and_leaves_the_chain_where_the_file_is(tmp_path: Path) -> None:
    sink = FileSink.open(Path("/dev/full"), stamp=STAMP)  # every write: ENOSPC
    with pytest.raises(OSError):
        sink.write(b'{"a":1}\n')
    assert sink.chain.state.seq == 0
    with pytest.raises(AuditError, match="No space left"):
        auditor(sink).emit(system_event("test"))


def test_a_line_cut_short_by_a_crash_is_ended_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"a":1}\n{"torn":')
    a = auditor(FileSink.open(path, stamp=STAMP))
    a.emit(system_event("test"))
    a.close()
    lines = path.read_bytes().splitlines(keepends=True)
    assert lines[1] == b'{"torn":\n'
    assert orjson.loads(lines[2])["prev_sha256"] == hashlib.sha256(b'{"torn":\n').hexdigest()


def test_fsync_and_the_formatted_line_are_chained(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    upper = FileSink.open(path, stamp=STAMP, fsync=True, fmt=lambda raw: raw.replace(b'"test"', b'"TEST"'))
    a = auditor(upper)
    a.emit(system_event("test"))
    a.close()
    assert rows(path)[0]["event_type"] == "TEST" and verify([path])[1] is None


def test_a_closed_sink_refuses_writes_and_is_not_reopened(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = FileSink.open(path, stamp=STAMP, max_bytes=4096)
    a = auditor(sink)
    a.emit(system_event("test"))
    a.close()
    a.close()
    sink.reopen()
    with pytest.raises(AuditError):
        a.emit(system_event("test"))
    assert [e["event_type"] for e in rows(path)] == ["test", "audit_checkpoint"]
