"""The spans of MCP messages through the proxy: SERVER for the agent's side, CLIENT for the upstream call.

A message's trace follows it: started when the transport reads it, annotated when its decision is recorded
(`Runtime.record`, the one place every decision passes), carried to its answer by the transport's record of
the request in flight, and ended when that answer (or the proxy's error in its place) is decided. A request
refused on the way in ends there, without a client span. The transport ends whatever is left (notifications,
requests whose answer never came) when its HTTP request or the message's handling is over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind, Status, StatusCode, set_span_in_context

from proxy import __version__
from proxy.decision import ALLOW, Decision
from proxy.exchange import Exchange
from proxy.tracing import TRACE_NOTE
from proxy.tracing.attributes import (
    MAX_VALUE,
    client_attributes,
    decision_attributes,
    error_code,
    server_attributes,
    span_name,
    tool_error,
)
from proxy.tracing.propagation import message_parent, with_context_headers, with_context_meta
from proxy.tracing.provider import close_provider
from proxy.types import Direction, Headers, MessageKind, Origin, Verdict

TRACED_KINDS = frozenset({MessageKind.REQUEST, MessageKind.NOTIFICATION})
_RANK = {Verdict.ALLOW: 0, Verdict.REWRITE: 1, Verdict.DENY: 2, Verdict.QUARANTINE: 2}


class MessageTrace:
    """The spans of one agent → server message, and the decision recorded for it on the way in."""

    __slots__ = ("client", "client_open", "decision", "exchange", "policy_version", "server", "server_open",
                 "trace_id")

    def __init__(self, exchange: Exchange, server: Span) -> None:
        self.exchange = exchange
        self.server = server
        self.server_open = True
        self.client: Span | None = None
        self.client_open = False
        self.decision: Decision | None = None  # stated on the server span once, when it ends
        self.policy_version = ""
        self.trace_id = f"{server.get_span_context().trace_id:032x}"

    def attach(self, ex: Exchange) -> None:
        """Carry this trace to an exchange about the same message (its answer, the proxy's message in its
        place); the audit event then names the trace too."""
        ex.notes[TRACE_NOTE] = self
        if ex.trace_id is None:
            ex.trace_id = self.trace_id

    def request_decided(self, decision: Decision, policy_version: str) -> None:
        if not self.server_open:
            return
        self.decision, self.policy_version = decision, policy_version
        if decision.blocks:  # refused on the way in: nothing goes upstream
            _failed(self.server, int(decision.code), decision.reason)
            self.end()

    def answered(self, ex: Exchange, decision: Decision, policy_version: str) -> None:
        """Its answer was decided: the server span states both decisions, then both spans end."""
        if not self.server_open:
            return
        self.decision, self.policy_version = _merge(self.decision or ALLOW, decision), policy_version
        by_proxy = ex.origin is Origin.PROXY  # the upstream failed, or the call was cut short
        if self.client is not None and self.client_open:
            _answer_error(self.client, ex, decision.reason if by_proxy else None)
        if decision.blocks and not by_proxy:
            _failed(self.server, int(decision.code), decision.reason)
        else:
            _answer_error(self.server, ex, decision.reason if by_proxy else None)
        self.end()

    def cancelled(self) -> None:
        """The proxy told the upstream to stop (the agent left, or containment cut the call)."""
        for span, is_open in ((self.client, self.client_open), (self.server, self.server_open)):
            if span is not None and is_open:
                span.set_attribute("error.type", "cancelled")
                span.set_status(Status(StatusCode.ERROR, "cancelled"))
        self.end()

    def end(self) -> None:
        if self.client is not None and self.client_open:
            self.client_open = False
            self.client.end()
        if self.server_open:
            self.server_open = False
            if self.decision is not None:
                self.server.set_attributes(decision_attributes(self.decision, self.policy_version))
            self.server.end()


class Tracing:
    """Starts, annotates and ends the spans of MCP messages. Exists only when tracing is enabled."""

    def __init__(self, provider: TracerProvider, upstreams: Mapping[str, tuple[str, int]],
                 close_timeout_seconds: float) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("drawbridge", __version__)
        self._upstreams = dict(upstreams)
        self._close_timeout = close_timeout_seconds

    def received(self, exchanges: Iterable[Exchange], headers: Mapping[str, str] | None = None,
                 http_version: str | None = None) -> list[MessageTrace]:
        """Start a SERVER span for each request or notification from the agent. Parent: the HTTP
        `traceparent` header, else `params._meta.traceparent`, else none (a new trace, sampled by ratio)."""
        traces = []
        for ex in exchanges:
            if ex.direction is not Direction.TO_SERVER or ex.kind not in TRACED_KINDS or ex.method is None:
                continue
            parent, links = message_parent(headers, ex.params)
            context = set_span_in_context(NonRecordingSpan(parent)) if parent is not None else Context()
            span = self._tracer.start_span(span_name(ex), context, SpanKind.SERVER,
                                           server_attributes(ex, headers, http_version), links)
            trace = MessageTrace(ex, span)
            trace.attach(ex)
            traces.append(trace)
        return traces

    def forwarding(self, traces: Iterable[MessageTrace], upstream: str | None, rewritten: bool) -> None:
        """Start the CLIENT span of each message about to go upstream (a child of its server span).

        A body that is re-serialised anyway (`rewritten`) carries each span's context in `params._meta` too;
        an unchanged body goes out as its original bytes, never re-serialised for tracing: the HTTP headers
        (`upstream_headers`) carry the context then."""
        address = self._upstreams.get(upstream) if upstream is not None else None
        for trace in traces:
            if not trace.server_open or trace.client is not None:
                continue
            ex = trace.exchange
            trace.client = self._tracer.start_span(span_name(ex), set_span_in_context(trace.server),
                                                   SpanKind.CLIENT, client_attributes(ex, address))
            trace.client_open = True
            if rewritten:
                message = with_context_meta(ex.message, trace.client.get_span_context())
                if message is not None:
                    ex.replace_message(message)

    def upstream_headers(self, traces: Iterable[MessageTrace], headers: Headers) -> Headers:
        """The agent's headers with `traceparent`/`tracestate` naming the (first) client span instead."""
        for trace in traces:
            if trace.client is not None:
                return with_context_headers(headers, trace.client.get_span_context())
        return headers

    def decided(self, ex: Exchange, decision: Decision, policy_version: str) -> None:
        """A decision was recorded: annotate (and perhaps end) the spans of the message it is about."""
        trace = ex.notes.get(TRACE_NOTE)
        if not isinstance(trace, MessageTrace):
            return
        if ex is trace.exchange:
            trace.request_decided(decision, policy_version)
        elif ex.direction is Direction.TO_CLIENT:
            trace.answered(ex, decision, policy_version)
        else:
            trace.cancelled()

    @staticmethod
    def finish(traces: Iterable[MessageTrace]) -> None:
        """End what is still open once the transport is done with the messages."""
        for trace in traces:
            trace.end()

    def close(self) -> bool:
        """Flush the queued spans and stop exporting (bounded in time)."""
        return close_provider(self._provider, self._close_timeout)


def _merge(request: Decision, answer: Decision) -> Decision:
    """One decision for the whole call: the stricter verdict (and its check), every rule id and finding."""
    worse = answer if _RANK[answer.verdict] >= max(1, _RANK[request.verdict]) else request
    rule_ids = tuple(dict.fromkeys((*request.rule_ids, *answer.rule_ids)))
    return Decision(worse.verdict, reason=worse.reason, rule_ids=rule_ids,
                    findings=request.findings + answer.findings, code=worse.code, check=worse.check)


def _answer_error(span: Span, ex: Exchange, description: str | None) -> None:
    """Mark a span failed when the answer is a JSON-RPC error (its code) or a failed tool result."""
    code = error_code(ex.message)
    if code is not None:
        _failed(span, code, description)
    elif ex.kind is MessageKind.RESPONSE and tool_error(ex.message):
        span.set_attribute("error.type", "tool_error")
        span.set_status(Status(StatusCode.ERROR))


def _failed(span: Span, code: int, description: str | None) -> None:
    """`error.type` and `rpc.response.status_code` are the JSON-RPC error code; the description is the
    proxy's own reason (never the upstream's text)."""
    span.set_attributes({"error.type": str(code), "rpc.response.status_code": str(code)})
    span.set_status(Status(StatusCode.ERROR, description[:MAX_VALUE] if description else None))
