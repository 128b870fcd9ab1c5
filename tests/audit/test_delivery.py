"""Network sink delivery: required sinks refuse while down, best-effort sinks count their losses and
report them with `audit_gap` when they deliver again, and shutdown flushes or records the tail.
A real syslog listener is stopped and started on a fixed loopback port to make the receiver go away."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.audit import AuditError, Auditor, system_event
from proxy.audit.auditor import Outlet
from proxy.audit.delivery import QueuedSink
from proxy.audit.filesink import FileSink
from proxy.audit.syslog import SyslogTransport
from proxy.audit.verify import verify
from tests.audit.listeners import SyslogListener, free_port
from tests.support.waiting import eventually

STAMP = {"host": "h", "replica_id": "h-1-abc"}


def build(tmp_path: Path, port: int, *, required: bool, capacity: int = 100) -> tuple[Auditor, Path]:
    path = tmp_path / "audit.jsonl"
    syslog = QueuedSink("syslog", SyslogTransport("127.0.0.1", port, timeout=2), capacity=capacity, linger=0.01,
                        close_timeout=1)
    auditor = Auditor([Outlet("file", FileSink.open(path, stamp=STAMP)), Outlet("syslog", syslog, required=required)],
                      **STAMP)
    return auditor, path


def file_events(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines()]


def test_a_required_sink_that_is_down_refuses_until_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    auditor, path = build(tmp_path, port, required=True)
    assert eventually(lambda: auditor.stats()["syslog"]["down"], timeout=10)  # connected at start: refused
    with pytest.raises(AuditError, match="audit sink syslog unavailable"):
        auditor.emit(system_event("decision", n=0))
    assert auditor.stats()["syslog"]["refused"] == 1 and auditor.count == 0
    assert path.read_bytes() == b""  # a refused event is written nowhere
    listener = SyslogListener(port=port).start()
    try:
        assert eventually(lambda: not auditor.stats()["syslog"]["down"], timeout=15)
        auditor.emit(system_event("decision", n=1))
        auditor.close()
        assert [e["n"] for e in listener.events()] == [1]  # no gap: nothing was lost, only refused
        assert [e["event_type"] for e in listener.events()] == ["decision"]
    finally:
        listener.stop()


def test_a_best_effort_sink_counts_losses_and_reports_them_when_back(tmp_path: Path) -> None:
    port = free_port()
    auditor, path = build(tmp_path, port, required=False, capacity=2)
    assert eventually(lambda: auditor.stats()["syslog"]["down"], timeout=10)
    for n in range(6):
        auditor.emit(system_event("decision", n=n))  # never raises
    stats = auditor.stats()["syslog"]
    assert stats["queued"] == 2 and stats["dropped"] == 4 and stats["delivered"] == 0 and stats["down"]
    listener = SyslogListener(port=port).start()
    try:
        assert eventually(lambda: any(e["event_type"] == "audit_gap" for e in listener.events()), timeout=15)
        auditor.close()
    finally:
        listener.stop()
    received = listener.events()
    assert [(e["event_type"], e.get("n"), e["seq"]) for e in received] == [
        ("decision", 0, 1), ("decision", 1, 2), ("audit_gap", None, 7)]  # seq 3-6: the hole the gap explains
    gap = received[2]
    assert gap["sink"] == "syslog" and gap["lost"] == gap["dropped"] == 4 and gap["failed"] == 0
    assert (gap["first_seq"], gap["last_seq"]) == (3, 6) and gap["severity"] == "SEV-3"
    local = [e for e in file_events(path) if e["event_type"] == "audit_gap"]
    assert [(e["sink"], e["lost"], e["first_seq"], e["last_seq"]) for e in local] == [("syslog", 4, 3, 6)]
    assert auditor.stats()["syslog"] == {"mode": "best_effort", "delivered": 3, "dropped": 4, "failed": 0,
                                         "refused": 0, "queued": 0, "down": False}


def test_close_flushes_the_tail(tmp_path: Path) -> None:
    listener = SyslogListener().start()
    try:
        auditor, _ = build(tmp_path, listener.port, required=True, capacity=10_000)
        for n in range(500):
            auditor.emit(system_event("decision", n=n))
        auditor.close()
        assert [e["n"] for e in listener.events()] == list(range(500))
    finally:
        listener.stop()


def test_what_could_not_be_sent_at_close_is_recorded_in_the_file(tmp_path: Path) -> None:
    port = free_port()
    auditor, path = build(tmp_path, port, required=False)
    assert eventually(lambda: auditor.stats()["syslog"]["down"], timeout=10)
    for n in range(3):
        auditor.emit(system_event("decision", n=n))
    auditor.close()  # the receiver never came back: 3 events failed
    events = file_events(path)
    assert [e["event_type"] for e in events][-2:] == ["audit_gap", "audit_checkpoint"]
    gap = events[-2]
    assert (gap["sink"], gap["lost"], gap["failed"], gap["first_seq"], gap["last_seq"]) == ("syslog", 3, 3, 1, 3)
    assert auditor.stats()["syslog"]["failed"] == 3
    assert verify([path])[1] is None
