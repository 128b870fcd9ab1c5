"""Binary-to-text encodings whose alphabet is not ASCII: Base2048 (letters of many scripts, 11 bits per
character; the `base2048` library) and Ecoji (1024 emoji, 10 bits each; its alphabet from the `ecoji`
package, decoded here because that package's decoder mishandles the final group).

Both write a message as one unbroken run of non-ASCII characters, so the candidates are the runs of
`?` in the one-byte view; a run decodes only if every character is in the alphabet, which prose in a
single script (Chinese, Thai) or a row of ordinary emoji fails at once or decodes to bytes that are no
text. What decodes is judged like any other encoding (`encoded`).
"""

from __future__ import annotations

from collections.abc import Iterator

import base2048
import re2
from ecoji.mapping import EMOJI2BYTE, PADDING, PADDING40, PADDING41, PADDING42, PADDING43

from proxy.content.runs import TextView

MIN_RUN = 12  # characters: 16 bytes of Base2048, 15 of Ecoji
MAX_RUNS = 64  # candidates tried per text
_RUN = re2.compile(rb"\?{%d,}" % MIN_RUN)
_QUICK = b"?" * MIN_RUN  # memmem first: most texts have no such run
_ECOJI_LINES = re2.compile(rb"\?+(?:\r?\n\?+)*")  # Ecoji wraps its output into lines of 76 emoji
_FINAL = {PADDING40: 0, PADDING41: 1, PADDING42: 2, PADDING43: 3}


def candidates(view: TextView) -> Iterator[tuple[str, int, int, bytes]]:
    """(kind, start, end, decoded bytes) for each run of the text that decodes as Base2048 or Ecoji."""
    if view.is_ascii or _QUICK not in view.view:
        return
    text = view.text
    for n, m in enumerate(_RUN.finditer(view.view)):
        if n >= MAX_RUNS:
            return
        start, end = m.start(), m.end()
        if text[start] in EMOJI2BYTE:
            lines = _ECOJI_LINES.match(view.view, start)
            end = lines.end() if lines else end
            data = ecoji_decode(text[start:end])
            if data is not None:
                yield "ecoji", start, end, data
            continue
        try:
            yield "base2048", start, end, base2048.decode(text[start:end])
        except (base2048.DecodeError, ValueError):
            continue


def ecoji_decode(run: str) -> bytes | None:
    """The bytes an Ecoji (version 1) run encodes, or None if it is not one."""
    chars = [c for c in run if c not in "\r\n"]
    if len(chars) % 4:
        return None
    out = bytearray()
    for i in range(0, len(chars), 4):
        group = chars[i:i + 4]
        values = [EMOJI2BYTE.get(c) for c in group[:3]]
        if values[0] is None:
            return None
        pads = [c == PADDING for c in group[1:]]
        last = group[3]
        if last in _FINAL:
            fourth, keep = _FINAL[last] << 8, 4
        elif pads[2]:
            fourth, keep = 0, 3
        else:
            value = EMOJI2BYTE.get(last)
            if value is None:
                return None
            fourth, keep = value, 5
        if pads[0]:
            keep = 1
        elif pads[1]:
            keep = 2
        bits = [v or 0 for v in values]
        if any(v is None and not pad for v, pad in zip(values[1:], pads[:2], strict=True)):
            return None
        word = bits[0] << 30 | bits[1] << 20 | bits[2] << 10 | fourth
        out += word.to_bytes(5, "big")[:keep]
        if keep < 5 and i + 4 < len(chars):
            return None  # padding only ends the run
    return bytes(out)
