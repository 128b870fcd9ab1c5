"""The older binary-to-text encodings in their standard framing: uuencode (`begin 644 name` and lines
whose first character gives their length in bytes) and Adobe Ascii85 (`<~...~>`), decoded with the
standard library.

Both use punctuation as digits, so a bare line of either cannot be told from other punctuation-heavy
text without a pass over every line; only the framed forms are looked for (the RE2 gates see `begin`
and `<~`), and a uuencoded line must have the length its first character announces and no lower-case
letter. What decodes is judged like any other encoding (`encoded`): binary data or bytes that read as
no text are dropped there.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Container, Iterator

MAX_BLOCKS = 64  # candidates decoded per text
# `begin <mode> <name>`, then uuencoded lines (a length character, `!` to `M`, and groups of four).
_UU_BLOCK = re.compile(r"^begin [0-7]{3,4} [^\n]{1,255}\r?\n((?:[!-M][ -`]{4,64}\r?\n)+)", re.MULTILINE)
_A85_DELIMITED = re.compile(r"<~([!-uz\s]{10,65536}?)~>")
TRIGGERS = {"encoded.uu": r"(?:^|\n)begin [0-7]{3,4} ", "encoded.ascii85": r"<~[!-uz\s]{10}"}


def candidates(text: str, fired: Container[str]) -> Iterator[tuple[str, int, int, bytes]]:
    """(kind, start, end, decoded bytes) for uuencoded blocks and Ascii85 runs (`fired`: the gates)."""
    found = 0
    if "encoded.uu" in fired:
        for m in _UU_BLOCK.finditer(text):
            data = _uu(m.group(1))
            if data is not None:
                yield "uu", m.start(1), m.end(1), data
                found += 1
                if found >= MAX_BLOCKS:
                    return
    if "encoded.ascii85" in fired:
        for m in _A85_DELIMITED.finditer(text):
            try:
                yield "ascii85", m.start(1), m.end(1), base64.a85decode("".join(m.group(1).split()))
            except (ValueError, binascii.Error):
                continue
            found += 1
            if found >= MAX_BLOCKS:
                return


def _uu(block: str) -> bytes | None:
    """The bytes of uuencoded lines, if every line has the length it announces and no lower-case letter."""
    out = bytearray()
    for line in block.splitlines():
        expected = 1 + 4 * ((((ord(line[0]) - 32) & 63) + 2) // 3)  # mailers may trim trailing spaces
        if any(c.islower() for c in line) or not expected - 3 <= len(line) <= expected + 1:
            return None
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            return None
    return bytes(out) if out else None
