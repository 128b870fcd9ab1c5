"""Incremental Server-Sent Events codec (WHATWG HTML "event stream" parsing rules), built for relaying.

A *block* is a run of non-blank lines ended by a blank line. :meth:`SSEParser.feed` returns one
:class:`SSEEvent` per block, including blocks a browser would not dispatch:

* blocks with fields (``data:``, ``event:``, ``id:``, ``retry:`` or unknown ones), e.g. a priming
  event with an empty ``data:`` or only an ``id:``;
* comment-only blocks (``: keep-alive``), flagged ``comment_only=True``.

So a relay can forward ``raw`` unchanged for every block it does not rewrite. ``raw`` is the exact
bytes of the block from its first line through its terminating blank line, except that:

* a UTF-8 BOM at stream start is not part of any ``raw``;
* extra blank lines between blocks belong to no block (they are dropped);
* if a chunk ends on the CR of a CRLF that terminates a block, the block is returned at once
  (never held back) and its ``raw`` ends in that CR; the LF that follows is dropped. Both forms
  decode to the same events.

Lines may end in CRLF, LF or CR; chunks may split anywhere (inside a CRLF or a UTF-8 character).
Text is decoded per block as UTF-8 with replacement. An incomplete block at end of stream is never
returned (as WHATWG discards it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEEventTooLarge", "SSEParser", "encode_event"]

_BOM = b"\xef\xbb\xbf"
_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One block of an event stream.

    ``event`` is None when absent or empty (meaning "message"); ``data`` joins the ``data`` lines
    with "\\n"; ``id`` is the last ``id`` value ("" resets the last event id; None when absent or
    ignored for containing NUL); ``retry`` is set only for an all-ASCII-digit value. ``has_data``
    is True when the block has a ``data`` field (a WHATWG client would dispatch it);
    ``comment_only`` is True when the block holds only comment lines.
    """

    event: str | None
    data: str
    id: str | None
    retry: int | None
    raw: bytes
    has_data: bool = False
    comment_only: bool = False


_SET_EVENT, _SET_DATA, _SET_ID, _SET_RETRY, _SET_RAW, _SET_HAS_DATA, _SET_COMMENT = (
    SSEEvent.__dict__[f].__set__ for f in SSEEvent.__slots__)


def _new_event(event: str | None, data: str, id: str | None, retry: int | None, raw: bytes,
               has_data: bool, comment_only: bool) -> SSEEvent:
    """Build an SSEEvent through its slot descriptors: ~3x cheaper than the frozen dataclass ``__init__``."""
    ev = object.__new__(SSEEvent)
    _SET_EVENT(ev, event)
    _SET_DATA(ev, data)
    _SET_ID(ev, id)
    _SET_RETRY(ev, retry)
    _SET_RAW(ev, raw)
    _SET_HAS_DATA(ev, has_data)
    _SET_COMMENT(ev, comment_only)
    return ev


class SSEEventTooLarge(Exception):
    """A block (finished or not) exceeds the parser's ``max_event_bytes``."""


class SSEParser:
    """Feed raw stream bytes in any chunking; get back completed blocks as :class:`SSEEvent`.

    After :class:`SSEEventTooLarge` the stream must be abandoned.
    """

    __slots__ = ("_bom", "_data", "_event", "_fields", "_head", "_id", "_lines", "_max", "_retry",
                 "_size", "_skip_lf", "_tail", "bytes_handled")

    def __init__(self, max_event_bytes: int = 4 * 1024 * 1024) -> None:
        self._max = max_event_bytes
        self._bom = True  # a BOM may still start the stream
        self._head = b""  # possible partial BOM
        # trailing line without its line ending yet; a bytearray so that a long line arriving in many
        # chunks is appended in amortized linear time (never re-copied or re-scanned per chunk)
        self._tail = bytearray()
        self._skip_lf = False  # the last line ended in CR: a leading LF completes that CRLF
        self._lines: list[bytes] = []  # lines (with endings) of the pending block
        self._size = 0
        self.bytes_handled = 0  # bytes scanned or copied so far: a bounded multiple of those fed (tests count it)
        self._reset()

    def _reset(self) -> None:
        self._data: list[bytes] = []
        self._event: bytes | None = None
        self._id: bytes | None = None
        self._retry: int | None = None
        self._fields = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk``; return the blocks it completed, in order."""
        if self._bom:
            chunk = self._head + chunk
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._bom, self._head = False, b""
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                if self._lines:
                    self._lines.append(b"\n")
                    self._size += 1
                chunk = chunk[1:]
        # Only the new bytes are scanned: the pending tail holds no CR or LF, so the first line of
        # ``tail + chunk`` is the tail followed by the first line of ``chunk``.
        lines = chunk.splitlines(keepends=True)
        self.bytes_handled += len(chunk)
        events: list[SSEEvent] = []
        if not lines:
            return events
        last = lines[-1][-1]
        if last == 10 or last == 13:
            self._skip_lf = last == 13
            if self._tail:
                lines[0] = self._join_tail(lines[0])
        else:
            partial = lines.pop()
            if lines and self._tail:
                lines[0] = self._join_tail(lines[0])
            self._tail += partial
        for line in lines:
            c = line[0]
            if c == 10 or c == 13:  # blank line (splitlines never starts a longer line with CR/LF)
                if self._lines:
                    events.append(self._dispatch(line))
                continue
            self._lines.append(line)
            self._size += len(line)
            if c == 58:  # ":" comment
                continue
            end = -2 if line[-2:] == b"\r\n" else -1
            if line.startswith(b"data:"):  # fast path for the common field
                self._data.append(line[6:end] if line[5] == 32 else line[5:end])
                self._fields = True
            else:
                self._field(line[:end])
        if self._size + len(self._tail) > self._max:
            raise SSEEventTooLarge("unfinished SSE event exceeds the size limit")
        return events

    def _join_tail(self, rest: bytes) -> bytes:
        """Complete the pending partial line with ``rest`` (which holds its line ending); empty the tail."""
        tail = self._tail
        tail += rest
        self._tail = bytearray()
        self.bytes_handled += len(tail)
        return bytes(tail)

    def _field(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        self._fields = True
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value
        elif name == b"id":
            if b"\0" not in value:
                self._id = value
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, blank: bytes) -> SSEEvent:
        self._lines.append(blank)
        raw = b"".join(self._lines)
        if len(raw) > self._max:
            raise SSEEventTooLarge("SSE event exceeds the size limit")
        ev = _new_event(
            self._event.decode("utf-8", "replace") if self._event else None,
            b"\n".join(self._data).decode("utf-8", "replace"),
            self._id.decode("utf-8", "replace") if self._id is not None else None,
            self._retry,
            raw,
            bool(self._data),
            not self._fields,
        )
        self._lines = []
        self._size = 0
        self._reset()
        return ev


def encode_event(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    """Serialize one event (LF line endings); multi-line ``data`` becomes several ``data:`` lines."""
    out = []
    if event is not None:
        if "\n" in event or "\r" in event:
            raise ValueError("SSE event name must not contain CR or LF")
        out.append(f"event: {event}\n")
    if id is not None:
        if "\n" in id or "\r" in id or "\0" in id:
            raise ValueError("SSE id must not contain CR, LF or NUL")
        out.append(f"id: {id}\n")
    for line in _NEWLINE.split(data) if ("\n" in data or "\r" in data) else (data,):
        out.append(f"data: {line}\n" if line else "data:\n")
    out.append("\n")
    return "".join(out).encode("utf-8")
