"""HTTP/1.1 wire details shared by the upstream pool (http1.py) and its responses (response.py)."""

from __future__ import annotations

import asyncio
import re

from proxy.upstream.errors import (
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade",
                         b"host", b"content-length"})  # and any proxy-*
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_RE = rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: [\t\x20-\x7e\x80-\xff]*)?\r\n"
_STATUS = re.compile(_STATUS_RE)
# one C-speed pass validates the whole head: status line, token names, no control bytes in values
_HEAD = re.compile(_STATUS_RE + rb"((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*)\r\n")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
_PIECE = 65536
_MAX_INTERIM = 8
_NONE, _LENGTH, _CHUNKED, _CLOSE, _DONE, _ABORTED = range(6)

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]



def _hop_names(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names nominated as hop-by-hop by any ``connection`` header."""
    return {t.strip() for n, v in headers if n == b"connection" for t in v.lower().split(b",")}


def _parse_head(raw: bytes) -> tuple[int, bool, list[tuple[bytes, bytes]]]:
    """Parse a response head ending in CRLFCRLF into (status, is_http11, lowercased headers)."""
    m = _HEAD.fullmatch(raw)
    if m is None:
        bad_status = _STATUS.match(raw) is None
        raise UpstreamProtocolError("malformed status line" if bad_status else "malformed response header")
    headers = []
    if block := m.group(3):
        for line in block[:-2].split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers.append((name.lower(), value.strip(b" \t")))
    return int(m.group(2)), m.group(1) == b"1", headers


def _body_error(e: BaseException, what: str) -> UpstreamError | None:
    """Map a low-level failure while reading a body to an UpstreamError (None: re-raise as is)."""
    if isinstance(e, TimeoutError):
        return UpstreamTimeout(f"timed out {what}")
    if isinstance(e, asyncio.IncompleteReadError):
        return UpstreamProtocolError("connection closed mid-body")
    if isinstance(e, asyncio.LimitOverrunError):
        return UpstreamProtocolError("chunk header too large")
    if isinstance(e, OSError):
        return UpstreamProtocolError("connection lost mid-body")
    return None
