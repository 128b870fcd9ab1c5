"""Audit events reach an OTLP/HTTP collector as log records (a real exporter, a loopback receiver)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from proxy.audit import system_event
from proxy.config import Config
from proxy.runtime import Runtime


def test_events_are_exported_as_otlp_log_records(tmp_path: Path) -> None:
    received: list[ExportLogsServiceRequest] = []
    seen_headers: list[str | None] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            request = ExportLogsServiceRequest()
            request.ParseFromString(body)
            received.append(request)
            seen_headers.append(self.headers.get("x-collector-key"))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "key").write_text("k-123")
        config = Config(audit={"file": tmp_path / "audit.jsonl", "otlp": {
            "endpoint": f"http://127.0.0.1:{server.server_port}/v1/logs",
            "headers": {"x-collector-key": {"file": tmp_path / "key"}}, "service_name": "drawbridge-test"}})
        runtime = Runtime.build(config)
        runtime.auditor.emit(system_event("containment_action", actor="responder", kind="principal",
                                          subject="alice", severity="SEV-2"))
        runtime.close()  # writes proxy_stopped and flushes the queue (the OTLP tail) before returning
    finally:
        server.shutdown()
    records = [r for req in received for rl in req.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    assert [r.event_name for r in records] == ["drawbridge.containment_action", "drawbridge.proxy_stopped"]
    assert seen_headers and set(seen_headers) == {"k-123"}
    assert runtime.auditor.stats()[f"otlp:127.0.0.1:{server.server_port}"] == {
        "mode": "best_effort", "delivered": 2, "dropped": 0, "failed": 0, "refused": 0, "queued": 0, "down": False}
    record = records[0]
    assert [a.value.int_value for a in record.attributes if a.key == "drawbridge.seq"] == [1]
    attributes = {a.key: a.value.string_value for a in record.attributes}
    assert attributes["drawbridge.event_type"] == "containment_action"
    assert attributes["drawbridge.subject"] == "alice"
    assert record.severity_text == "SEV-2"
    assert '"actor":"responder"' in record.body.string_value
    service = {a.key: a.value.string_value for a in received[0].resource_logs[0].resource.attributes}
    assert service["service.name"] == "drawbridge-test"
    assert "containment_action" in (tmp_path / "audit.jsonl").read_text()  # the local record is kept too
