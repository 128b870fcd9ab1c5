"""Binary data shown as text: a file or an 8-bit MIME part read with `errors="replace"` (U+FFFD for every
byte that is no UTF-8, control characters and NULs between them).

Control characters, stray escapes, private-use and lookalike letters, "ASCII art" and ROT13 in such a
stretch are noise of the bytes, not something hidden for a reader: nobody reads it, a terminal shows
garbage. A finding whose every span lies in such a stretch is dropped; anything else stays.
"""

from __future__ import annotations

import bisect

from proxy.content.model import Hit

BLOCK = 256  # characters per block judged
MIN_NOISE = 16  # U+FFFD and control characters in a block, at least
MIN_SHARE = 0.08  # of them in a block (controls: not tab, line feed, carriage return or ESC, which colours use)
NOISE = ("unicode.", "escapes.", "encoded.ascii_art", "encoded.rot13", "encoded.leet")
_CONTROLS = frozenset(chr(c) for c in (*range(0x20), 0x7F)) - {"\t", "\n", "\r", "\x1b"}


def binary_blocks(text: str) -> list[tuple[int, int]]:
    """Merged spans of the blocks of `text` that are binary data shown as text."""
    spans: list[tuple[int, int]] = []
    for start in range(0, len(text), BLOCK):
        block = text[start:start + BLOCK]
        noise = block.count("\ufffd") + sum(block.count(c) for c in _CONTROLS if c in block)
        if noise >= MIN_NOISE and noise >= MIN_SHARE * len(block):
            end = start + len(block)
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return spans


def drop_noise(text: str, hits: list[Hit]) -> list[Hit]:
    """`hits` without the noise findings that lie wholly in binary stretches of `text`."""
    spans = binary_blocks(text)
    if not spans:
        return hits
    starts = [s for s, _ in spans]

    def inside(start: int, end: int) -> bool:
        k = bisect.bisect_right(starts, start) - 1
        return k >= 0 and end <= spans[k][1]

    return [h for h in hits if not (h.detector.startswith(NOISE) and h.spans and all(inside(s, e) for s, e in h.spans))]
