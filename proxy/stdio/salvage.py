"""What the first bytes of an over-long line still tell: its id, and whether it is a request.

Knowing the id lets the relay answer whoever waits for that message instead of leaving it hanging.
"""

from __future__ import annotations

import re

import orjson

from proxy.types import RequestId

_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*')
_ID_VALUE = re.compile(rb'-?\d+(?=\s*[,}])|"(?:[^"\\]|\\.)*"')


def salvage(head: bytes) -> tuple[RequestId | None, bool]:
    """(the top-level id if seen, whether a top-level "method" key was seen) in a truncated JSON object."""
    request_id: RequestId | None = None
    has_method = False
    depth, i, n = 0, 0, len(head)
    while i < n:
        c = head[i]
        if c == 0x22:  # a string: at depth 1 maybe a key
            key = _KEY.match(head, i) if depth == 1 else None
            if key is not None:
                name = key.group(1)
                has_method = has_method or name == b"method"
                value = _ID_VALUE.match(head, key.end()) if name == b"id" else None
                if value is not None:
                    request_id = _as_id(value.group(0))
                i = key.end()
                continue
            i += 1
            while i < n and head[i] != 0x22:
                i += 2 if head[i] == 0x5C else 1
        elif c in b"{[":
            depth += 1
        elif c in b"}]":
            depth -= 1
        i += 1
    return request_id, has_method


def _as_id(raw: bytes) -> RequestId | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None
