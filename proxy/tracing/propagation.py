"""W3C Trace Context in and out: the remote parent of a message, and the context handed to the upstream.

The parent comes from the HTTP `traceparent` header when there is one, else from `params._meta` (the MCP
convention), else there is none (a new trace). Malformed or oversized values are ignored, never logged:
they come from the agent. A `tracestate` that does not parse is dropped, its `traceparent` kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Link, SpanContext, TraceFlags, TraceState

from proxy.types import Headers

MAX_TRACEPARENT = 512
MAX_TRACESTATE = 4096
MAX_TRACESTATE_MEMBERS = 32
_TRACEPARENT = re.compile(r"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^ \t]*)?[ \t]*")
_KEY = r"[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}"
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(rf"[ \t]*({_KEY})=({_VALUE})[ \t]*")
TRACE_HEADERS = (b"traceparent", b"tracestate")


def remote_parent(traceparent: Any, tracestate: Any = None) -> SpanContext | None:
    """The span context a valid `traceparent` names (with its `tracestate` when that parses), else None."""
    if not isinstance(traceparent, str) or len(traceparent) > MAX_TRACEPARENT:
        return None
    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16)),
                       trace_state=_trace_state(tracestate))


def _trace_state(value: Any) -> TraceState | None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TRACESTATE:
        return None
    pairs: list[tuple[str, str]] = []
    for member in value.split(","):
        if not member.strip():
            continue
        match = _MEMBER.fullmatch(member)
        if match is None or len(pairs) == MAX_TRACESTATE_MEMBERS or any(k == match.group(1) for k, _ in pairs):
            return None
        pairs.append((match.group(1), match.group(2)))
    return TraceState(pairs) if pairs else None


def message_parent(headers: Mapping[str, str] | None, params: Mapping[str, Any]) -> tuple[SpanContext | None,
                                                                                        list[Link]]:
    """The parent of a message's server span, and a link to the `_meta` context when the header wins over a
    different one (both are recorded, as the MCP conventions suggest)."""
    header = remote_parent(headers.get("traceparent"), headers.get("tracestate")) if headers else None
    meta = params.get("_meta")
    in_meta = remote_parent(meta.get("traceparent"), meta.get("tracestate")) if isinstance(meta, dict) else None
    if header is None:
        return in_meta, []
    if in_meta is not None and (in_meta.trace_id, in_meta.span_id) != (header.trace_id, header.span_id):
        return header, [Link(in_meta)]
    return header, []


def traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def context_fields(context: SpanContext) -> dict[str, str]:
    """`traceparent` (and `tracestate` when there is one) naming `context` as the parent."""
    fields = {"traceparent": traceparent(context)}
    if context.trace_state:
        fields["tracestate"] = context.trace_state.to_header()
    return fields


def with_context_headers(headers: Headers, context: SpanContext) -> Headers:
    """The agent's headers with its trace context replaced by `context` (the upstream's spans are ours' children)."""
    out = [(k, v) for k, v in headers if k not in TRACE_HEADERS]
    out.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in context_fields(context).items())
    return out


def with_context_meta(message: dict[str, Any], context: SpanContext) -> dict[str, Any] | None:
    """A copy of `message` whose `params._meta` carries `context` (None when its params are not an object)."""
    params = message.get("params", {})
    if not isinstance(params, dict):
        return None
    meta = params.get("_meta", {})
    if not isinstance(meta, dict):
        return None
    kept = {k: v for k, v in meta.items() if k not in ("traceparent", "tracestate")}
    return {**message, "params": {**params, "_meta": {**kept, **context_fields(context)}}}
