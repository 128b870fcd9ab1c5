"""W3C Trace Context: the trace id of a `traceparent`, from an HTTP header or a message's `params._meta`."""

from __future__ import annotations

import re
from typing import Any

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?")
_ZERO_TRACE = "0" * 32


def trace_id(traceparent: Any) -> str | None:
    """The 32-hex trace id of a valid `traceparent` value, else None (never raises)."""
    if not isinstance(traceparent, str) or len(traceparent) > 512:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None or match.group(1) == "ff" or match.group(2) == _ZERO_TRACE or match.group(3) == "0" * 16:
        return None
    return match.group(2)


def meta_trace_id(params: dict[str, Any]) -> str | None:
    """The trace id carried in `params._meta.traceparent` (the MCP convention for trace context)."""
    meta = params.get("_meta")
    return trace_id(meta.get("traceparent")) if isinstance(meta, dict) else None
