"""Syslog sink: RFC 5424 messages, octet-counted over TCP and TLS, as a real listener parses them."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.audit import Auditor, system_event
from proxy.audit.auditor import Outlet
from proxy.audit.delivery import QueuedSink
from proxy.audit.formats import formatter
from proxy.audit.syslog import SyslogTransport
from tests.audit.listeners import SyslogListener, self_signed
from tests.support.waiting import eventually

HOST = "audit-host.example"


def syslog_auditor(transport: SyslogTransport, *, required: bool = False) -> Auditor:
    sink = QueuedSink("syslog", transport, linger=0.01, close_timeout=5)
    return Auditor([Outlet("syslog", sink, required=required)], replica_id="r-1", host=HOST)


@pytest.fixture
def listener() -> Iterator[SyslogListener]:
    server = SyslogListener().start()
    yield server
    server.stop()


def test_each_event_is_one_octet_counted_rfc5424_message(listener: SyslogListener) -> None:
    auditor = syslog_auditor(SyslogTransport("127.0.0.1", listener.port, facility=13))
    severities = ["SEV-1", "SEV-2", "SEV-3", "SEV-4", None]
    emitted = [system_event("containment_action", severity=s, subject="alice") for s in severities]
    for event in emitted:
        auditor.emit(event)
    auditor.close()  # the tail is flushed before close returns
    assert [f.pri for f in listener.frames] == [13 * 8 + s for s in (2, 3, 4, 5, 6)]
    first = listener.frames[0]
    assert first.timestamp == emitted[0]["timestamp"] and first.hostname == HOST
    assert first.app_name == "drawbridge" and first.procid == str(os.getpid()) and first.msgid == "containment_action"
    assert first.sd_id == "drawbridge@32473"
    assert first.sd == {"event_id": emitted[0]["event_id"], "seq": "1", "severity": "SEV-1"}
    assert first.event == {**emitted[0], "host": HOST, "replica_id": "r-1", "seq": 1}
    assert [e["seq"] for e in listener.events()] == [1, 2, 3, 4, 5]
    assert auditor.stats()["syslog"]["delivered"] == 5


def test_structured_data_values_are_escaped(listener: SyslogListener) -> None:
    auditor = syslog_auditor(SyslogTransport("127.0.0.1", listener.port))
    odd = 'a"b]c\\d é'
    auditor.emit(system_event("decision", verdict=odd))
    auditor.close()
    [frame] = listener.frames
    assert frame.sd["verdict"] == odd and frame.event["verdict"] == odd


def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    listener = SyslogListener(tls=server_tls).start()
    try:
        auditor = syslog_auditor(SyslogTransport("127.0.0.1", listener.port, tls=True, ca_file=cert))
        for n in range(3):
            auditor.emit(system_event("decision", n=n))
        assert eventually(lambda: len(listener.frames) == 3, timeout=10)
        auditor.emit(system_event("decision", n=3))
        auditor.close()
        assert [e["n"] for e in listener.events()] == [0, 1, 2, 3] and listener.connections == 1
    finally:
        listener.stop()


def test_tls_refuses_a_receiver_it_does_not_trust(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    listener = SyslogListener(tls=server_tls).start()
    try:
        auditor = syslog_auditor(SyslogTransport("127.0.0.1", listener.port, tls=True), required=True)
        assert eventually(lambda: auditor.stats()["syslog"]["down"], timeout=10)  # system CAs only
        auditor.close()
        assert listener.frames == []
    finally:
        listener.stop()


def test_ocsf_lines_keep_the_header_of_the_native_event(listener: SyslogListener) -> None:
    sink = QueuedSink("syslog", SyslogTransport("127.0.0.1", listener.port, facility=16), fmt=formatter("ocsf"),
                      linger=0.01)
    auditor = Auditor([Outlet("syslog", sink)], replica_id="r-1", host=HOST)
    event = system_event("proxy_started", listen="127.0.0.1:8080")
    auditor.emit(event)
    auditor.close()
    [frame] = listener.frames
    assert frame.pri == 16 * 8 + 6 and frame.timestamp == event["timestamp"]
    assert frame.hostname == HOST and frame.msgid == "proxy_started"
    assert frame.event["class_uid"] == 6002 and frame.event["seq"] == 1  # the OCSF event, numbered
