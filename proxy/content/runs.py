"""A byte view of a text that the detectors share, built with C-speed `bytes` operations.

`view` maps each code point to one byte (non-ASCII becomes `?`), so offsets in it are offsets in
the text. One `translate` classifies every byte: token characters (where keys and base64/hex/base32
payloads live), C0 controls and DEL, and "special" bytes that start other encodings (`%`, `&#`,
backslash escapes). Runs of token characters are then found with `bytes.find`, not a regex per byte.
"""

from __future__ import annotations

import re
from functools import cached_property

TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
CONTROL_CHARS = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"
MIN_RUN = 16
TOKEN, CONTROL = 1, 2
_TABLE = bytes(TOKEN if c in TOKEN_CHARS else CONTROL if c in CONTROL_CHARS else 0 for c in range(256))
_NEEDLE = bytes([TOKEN]) * MIN_RUN
_EXTEND = re.compile(rb"\x01+")
_ASCII = bytes(range(128))


class TextView:
    """Lazily computed views of one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.is_ascii = text.isascii()

    @cached_property
    def view(self) -> bytes:
        return self.text.encode("ascii") if self.is_ascii else self.text.encode("ascii", "replace")

    @cached_property
    def classes(self) -> bytes:
        return self.view.translate(_TABLE)

    @cached_property
    def non_ascii(self) -> str:
        """Only the non-ASCII characters of the text, in order (a short string for mostly-ASCII text)."""
        if self.is_ascii:
            return ""
        return self.text.encode("utf-8", "surrogatepass").translate(None, _ASCII).decode("utf-8", "surrogatepass")

    @cached_property
    def has_c0_controls(self) -> bool:
        return bytes([CONTROL]) in self.classes

    @cached_property
    def runs(self) -> list[tuple[int, int]]:
        """(start, end) of each maximal run of token characters at least MIN_RUN long."""
        classes = self.classes
        find, extend = classes.find, _EXTEND.match
        out: list[tuple[int, int]] = []
        pos = find(_NEEDLE)
        while pos >= 0:
            m = extend(classes, pos)  # find returns the leftmost hit, so pos is where the run starts
            end = m.end() if m else pos + MIN_RUN
            out.append((pos, end))
            pos = find(_NEEDLE, end)
        return out
