"""HEC sink: batched POSTs a Splunk HTTP Event Collector accepts, the token only in its header, and
rejections counted (a real HTTP listener on loopback)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from proxy.audit import AuditError, Auditor, system_event
from proxy.audit.auditor import Outlet
from proxy.audit.delivery import QueuedSink
from proxy.audit.filesink import FileSink
from proxy.audit.hec import HecTransport
from tests.audit.listeners import HEC_TOKEN, HecListener, free_port
from tests.support.waiting import eventually

HOST = "proxy-7.example"


@pytest.fixture
def hec() -> Iterator[HecListener]:
    server = HecListener()
    yield server
    server.stop()


def hec_auditor(url: str, *, token: str = HEC_TOKEN, required: bool = False, linger: float = 0.01,
                path: Path | None = None) -> Auditor:
    transport = HecTransport(url, token, source="drawbridge", sourcetype="drawbridge:audit", index="security",
                             timeout=2)
    sink = QueuedSink("hec", transport, batch_size=100, linger=linger, close_timeout=1)
    outlets = [Outlet("hec", sink, required=required)]
    if path is not None:
        outlets.append(Outlet("file", FileSink.open(path)))
    return Auditor(outlets, replica_id="proxy-7-1-abc", host=HOST)


def test_events_are_posted_in_batches_with_the_token_in_the_header(hec: HecListener) -> None:
    auditor = hec_auditor(hec.url, linger=0.3)
    emitted = [system_event("decision", n=n, timestamp="2026-11-22T10:15:30.250Z") for n in range(50)]
    for event in emitted:
        auditor.emit(event)
    auditor.close()
    assert {r.path for r in hec.requests} == {"/services/collector/event"}
    assert {r.authorization for r in hec.requests} == {f"Splunk {HEC_TOKEN}"}
    assert len(hec.requests) < 50  # batched
    posted = hec.events()
    assert [p["event"]["n"] for p in posted] == list(range(50))
    first = posted[0]
    assert first == {"time": 1795342530.25, "host": HOST, "source": "drawbridge", "sourcetype": "drawbridge:audit",
                     "index": "security", "event": {**emitted[0], "host": HOST, "replica_id": "proxy-7-1-abc",
                                                    "seq": 1}}


def test_the_token_never_appears_in_events_or_logs(hec: HecListener, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "audit.jsonl"
    auditor = hec_auditor(hec.url, token="wrong-" + HEC_TOKEN, path=path)
    auditor.emit(system_event("decision", n=0))
    assert eventually(lambda: auditor.stats()["hec"]["down"], timeout=10)  # 403: the credential is refused
    auditor.close()
    assert "wrong-" + HEC_TOKEN not in caplog.text and "audit sink hec down: HEC answered HTTP 403" in caplog.text
    assert HEC_TOKEN.encode() not in path.read_bytes()
    assert repr(HEC_TOKEN) not in repr(auditor.stats())


def test_a_rejected_batch_is_counted_and_reported_as_a_gap(hec: HecListener, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    hec.status = 400  # malformed: retrying would not help
    auditor = hec_auditor(hec.url, path=path)
    auditor.emit(system_event("decision", n=0))
    assert eventually(lambda: auditor.stats()["hec"]["failed"] == 1, timeout=10)
    assert not auditor.stats()["hec"]["down"]
    hec.status = 200
    auditor.emit(system_event("decision", n=1))
    assert eventually(lambda: any(e["event"]["event_type"] == "audit_gap" for e in hec.events()), timeout=10)
    auditor.close()
    gap = next(e["event"] for e in hec.events() if e["event"]["event_type"] == "audit_gap")
    assert (gap["sink"], gap["lost"], gap["failed"], gap["first_seq"], gap["last_seq"]) == ("hec", 1, 1, 1, 1)
    assert "audit_gap" in path.read_text()


def test_a_busy_collector_keeps_the_events_queued_until_it_takes_them(hec: HecListener) -> None:
    hec.status = 503
    auditor = hec_auditor(hec.url)
    for n in range(3):
        auditor.emit(system_event("decision", n=n))
    assert eventually(lambda: auditor.stats()["hec"]["down"], timeout=10)
    hec.status = 200
    assert eventually(lambda: len(hec.events()) == 3, timeout=15)
    auditor.close()
    assert [e["event"]["n"] for e in hec.events()] == [0, 1, 2]  # nothing lost: no gap
    assert auditor.stats()["hec"] == {"mode": "best_effort", "delivered": 3, "dropped": 0, "failed": 0,
                                      "refused": 0, "queued": 0, "down": False}


def test_a_required_collector_that_is_unreachable_refuses() -> None:
    auditor = hec_auditor(f"http://127.0.0.1:{free_port()}", required=True)
    auditor.emit(system_event("decision", n=0))  # accepted: not yet known down
    assert eventually(lambda: auditor.stats()["hec"]["down"], timeout=10)
    with pytest.raises(AuditError):
        auditor.emit(system_event("decision", n=1))
    auditor.close()
    assert auditor.stats()["hec"]["refused"] == 1


def test_the_envelope_of_an_event_without_a_timestamp() -> None:
    transport = HecTransport("http://127.0.0.1:9", "t")
    wrapped = orjson.loads(transport.envelope(b'{"time":1700000000123,"class_uid":6003}\n'))
    assert wrapped["time"] == 1700000000.123 and wrapped["event"]["class_uid"] == 6003 and wrapped["host"]
    transport.close()
