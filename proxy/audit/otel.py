"""Audit events as OpenTelemetry log records, exported over OTLP/HTTP for SIEM pipelines.

Export is batched in a background thread and best effort: the JSON-lines sink (file or stdout) is
the record written before a message is released. Each record's body is the event's JSON; its
attributes repeat the fields SIEM rules filter on, so a collector can route without parsing.
"""

from __future__ import annotations

from typing import Any

import orjson
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from proxy import __version__

SEVERITY = {"SEV-1": SeverityNumber.ERROR, "SEV-2": SeverityNumber.WARN, "SEV-3": SeverityNumber.WARN,
            "SEV-4": SeverityNumber.INFO}
ATTRIBUTES = ("event_type", "event_id", "verdict", "severity", "principal", "agent", "session_id", "upstream",
              "tool", "check", "policy_version", "direction", "actor", "action", "kind", "subject")


class OtelSink:
    """A Sink (`write(line)`, `close()`) that turns each audit line into an OTLP log record."""

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None, service_name: str = "drawbridge",
                 timeout_seconds: float = 5.0) -> None:
        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self._provider = LoggerProvider(resource=resource)
        exporter = OTLPLogExporter(endpoint=endpoint, headers=headers or {}, timeout=timeout_seconds)
        self._provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        self._logger = self._provider.get_logger("drawbridge.audit", __version__)

    def write(self, line: bytes) -> None:
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

    def flush(self, timeout_millis: int = 5000) -> bool:
        return bool(self._provider.force_flush(timeout_millis))

    def close(self) -> None:
        self._provider.shutdown()
