"""Audit events as OpenTelemetry log records, exported over OTLP/HTTP for SIEM pipelines.

A transport for a QueuedSink (proxy.audit.delivery): each batch is one export whose result is known, so
losses are counted and reported like any network sink's. Each record's body is the event's JSON; its
attributes repeat the fields SIEM rules filter on, so a collector can route without parsing.
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource

from proxy import __version__
from proxy.audit.delivery import DeliveryError

SEVERITY = {"SEV-1": SeverityNumber.ERROR, "SEV-2": SeverityNumber.WARN, "SEV-3": SeverityNumber.WARN,
            "SEV-4": SeverityNumber.INFO}
ATTRIBUTES = ("event_type", "event_id", "verdict", "severity", "principal", "agent", "session_id", "upstream",
              "tool", "check", "policy_version", "direction", "actor", "action", "kind", "subject", "seq", "host",
              "replica_id")


class _Collect(LogRecordProcessor):
    """Keeps the records emitted during one batch, for one export whose result the transport sees."""

    def __init__(self) -> None:
        self.records: list[ReadableLogRecord] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.records.append(ReadableLogRecord(log_record=log_record.log_record,
                                              resource=log_record.resource or Resource.get_empty(),
                                              instrumentation_scope=log_record.instrumentation_scope,
                                              limits=log_record.limits))

    def shutdown(self) -> None:
        self.records.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class OtlpTransport:
    """Turns each audit line into an OTLP log record and exports a batch per `send`."""

    probe_on_start = False

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None, service_name: str = "drawbridge",
                 timeout_seconds: float = 5.0) -> None:
        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self._provider = LoggerProvider(resource=resource)
        self._collect = _Collect()
        self._provider.add_log_record_processor(self._collect)
        self._logger = self._provider.get_logger("drawbridge.audit", __version__)
        self._exporter = OTLPLogExporter(endpoint=endpoint, headers=headers or {}, timeout=timeout_seconds)

    def send(self, lines: list[bytes]) -> None:
        self._collect.records.clear()
        for line in lines:
            self._emit(line)
        batch, self._collect.records = self._collect.records, []
        self._export(batch)

    def probe(self) -> None:
        self._export([])

    def close(self) -> None:
        self._provider.shutdown()
        self._exporter.shutdown()  # type: ignore[no-untyped-call]

    def _export(self, batch: list[ReadableLogRecord]) -> None:
        if self._exporter.export(batch) is not LogRecordExportResult.SUCCESS:
            raise DeliveryError("OTLP export failed")

    def _emit(self, line: bytes) -> None:
        event: dict[str, Any] = orjson.loads(line)
        attributes: dict[str, str | int | float | list[str]] = {
            f"drawbridge.{k}": v for k in ATTRIBUTES if isinstance(v := event.get(k), (str, int, float))}
        jsonrpc = event.get("jsonrpc")
        if isinstance(jsonrpc, dict) and isinstance(jsonrpc.get("method"), str):
            attributes["drawbridge.method"] = jsonrpc["method"]
        if event.get("rule_ids"):
            attributes["drawbridge.rule_ids"] = [str(r) for r in event["rule_ids"]]
        severity = event.get("severity")
        self._logger.emit(body=line.decode("utf-8").rstrip("\n"), attributes=attributes,
                          event_name=f"drawbridge.{event.get('event_type', 'event')}",
                          severity_number=SEVERITY.get(str(severity), SeverityNumber.INFO),
                          severity_text=str(severity) if severity else None)
