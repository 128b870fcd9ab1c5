"""A real OTLP/HTTP trace receiver on a loopback port: POST /v1/traces, protobuf in, protobuf out.

It decodes each export the way a collector does (`ExportTraceServiceRequest`) and keeps the spans, the
resource they came with and the headers of each export, for tests to wait on.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MAX_EXPORT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector sees it (ids in lowercase hex, kind and status by name)."""

    name: str
    kind: str  # SERVER, CLIENT, …
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status: str  # UNSET, OK, ERROR
    status_message: str
    links: tuple[tuple[str, str], ...]  # (trace id, span id)
    resource: dict[str, Any]


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, which) if which else None


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pair: KeyValue
    for pair in pairs:
        out[pair.key] = _value(pair.value)
    return out


def decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(ReceivedSpan(
                    name=span.name, kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                    trace_id=span.trace_id.hex(), span_id=span.span_id.hex(), parent_span_id=span.parent_span_id.hex(),
                    attributes=_attributes(span.attributes),
                    status=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
                    status_message=span.status.message,
                    links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links), resource=resource))
    return spans


class OtlpReceiver:
    """Serves in a background thread; `spans` grows as exports arrive."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.export_headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                if self.path != "/v1/traces" or not 0 < length <= MAX_EXPORT_BYTES:
                    self.send_error(404 if self.path != "/v1/traces" else 400)
                    return
                body = self.rfile.read(length)
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                spans = decode(body)
                with receiver._lock:
                    receiver.spans.extend(spans)
                    receiver.export_headers.append({k.lower(): v for k, v in self.headers.items()})
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def wait_for(self, found: Callable[[list[ReceivedSpan]], bool], timeout: float = 10.0) -> list[ReceivedSpan]:
        """The spans received once `found(spans)` holds; AssertionError with what arrived after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.received()
            if found(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"spans expected within {timeout}s; got {[(s.kind, s.name) for s in spans]}")
            time.sleep(0.05)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver._server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver._server.shutdown()
        receiver._server.server_close()
        thread.join(5)


def server_span(spans: list[ReceivedSpan], trace_id: str, name: str) -> ReceivedSpan | None:
    """The SERVER span of that name in that trace, if it arrived."""
    return next((s for s in spans if s.kind == "SERVER" and s.trace_id == trace_id and s.name == name), None)


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.trace_id == parent.trace_id and s.parent_span_id == parent.span_id]
