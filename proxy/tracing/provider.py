"""The tracer provider: a parent-based ratio sampler, a batch processor and an OTLP/HTTP exporter.

Not registered as the global provider: only the proxy's own spans go through it. The batch processor's
thread exports in the background; `close_provider` flushes what is left, bounded in time.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from proxy import __version__
from proxy.tracing.config import TracingConfig

log = logging.getLogger("drawbridge.tracing")


def open_provider(config: TracingConfig, replica_id: str) -> TracerProvider:
    """A provider exporting to `config.endpoint`; a header secret that cannot be read raises ConfigError."""
    headers = {name: ref.resolve(f"tracing header {name}") for name, ref in config.headers.items()}
    exporter = OTLPSpanExporter(endpoint=config.endpoint, headers=headers, timeout=config.timeout_seconds,
                                certificate_file=str(config.ca_file) if config.ca_file else None)
    resource = Resource.create({"service.name": config.service_name, "service.version": __version__,
                                "service.instance.id": replica_id})
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
                              shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(
        exporter, max_queue_size=config.queue_size, max_export_batch_size=config.batch_size,
        schedule_delay_millis=config.linger_seconds * 1000))
    return provider


def close_provider(provider: TracerProvider, timeout_seconds: float) -> bool:
    """Export the spans still queued and stop; gives up after `timeout_seconds` (False: some were lost)."""
    closing = threading.Thread(target=provider.shutdown, name="drawbridge-trace-flush", daemon=True)
    closing.start()
    closing.join(timeout_seconds)
    if closing.is_alive():
        log.warning("traces: the collector did not take the last spans within %.1f s; they are lost",
                    timeout_seconds)
        return False
    return True
