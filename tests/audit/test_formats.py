"""Sink formats: native lines as written, OCSF lines from proxy.audit.ocsf, chained the same way."""

from __future__ import annotations

from pathlib import Path

import orjson

from proxy.audit import Auditor, system_event
from proxy.audit.auditor import Outlet
from proxy.audit.filesink import FileSink
from proxy.audit.formats import formatter
from proxy.audit.ocsf import to_ocsf
from proxy.audit.verify import verify


def test_native_is_the_line_itself() -> None:
    line = b'{"event_type":"decision"}\n'
    assert formatter("native")(line) is line


def test_ocsf_is_the_mapping_of_the_event() -> None:
    event = {**system_event("proxy_started", listen="127.0.0.1:8080"), "host": "h", "replica_id": "r"}
    out = formatter("ocsf")(orjson.dumps(event) + b"\n")
    assert out.endswith(b"}\n") and out.count(b"\n") == 1
    assert orjson.loads(out) == orjson.loads(orjson.dumps(to_ocsf(event)))


def test_an_ocsf_file_is_chained_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "ocsf.jsonl"
    auditor = Auditor([Outlet("file", FileSink.open(path, every=2, fmt=formatter("ocsf")))], host="h",
                      replica_id="r")
    for n in range(3):
        auditor.emit(system_event("proxy_started", listen=f"127.0.0.1:{8080 + n}"))
    auditor.close()
    rows = [orjson.loads(raw) for raw in path.read_bytes().splitlines()]
    events = [r for r in rows if r.get("event_type") != "audit_checkpoint"]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5] and len(events) == 3
    assert all("class_uid" in r and "prev_sha256" in r for r in events)
    assert verify([path])[1] is None
