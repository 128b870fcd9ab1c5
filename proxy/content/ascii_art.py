"""Text drawn in big letters (ASCII-art / FIGlet banners) too wide to be a logo: a sentence hidden from
every word-based detector by drawing it.

Render-free: the drawing is not read. A banner is a block of at least `MIN_LINES` consecutive lines
made of strokes (`_|/\\#*.:` and the like, letters and digits used as ink) with hardly any word in them.
A program's logo or a heading drawn by `figlet` (which wraps at 80 columns) stays under `MIN_WIDTH`
columns; a drawn sentence runs to hundreds. Tables, separators, progress bars and numbers are told
apart by their words, by repeating one line or one stroke in long runs, and by their digits.

Cost: the RE2 gate (`TRIGGERS`, in `triggers`' one pass) wants a stretch of `GATE_RUN` characters
without a letter, bounded by strokes; only then are the lines around such stretches looked at.
"""

from __future__ import annotations

import re
from collections.abc import Container
from itertools import pairwise

import re2

from proxy.content.model import ATLAS_OBFUSCATION, Hit
from proxy.types import Severity

MIN_LINES = 3
MIN_WIDTH = 150  # columns of the widest line of the block
MIN_INK = 100  # non-blank characters in the block
MAX_WORDS = 0.05  # share of the ink that spells words
MAX_DIGITS = 0.5  # share of the ink that is digits of many kinds (a table of numbers, not strokes of "8")
MIN_CHANGES = 0.15  # strokes change often along a line of drawn letters
MAX_BLOCKS = 16
MAX_REACH = 40  # lines looked at above and below a gate's match
GATE_RUN = 48  # characters without a letter, the first and last of them strokes
REMOVED = "[ASCII-art banner removed by Drawbridge]"
# (in pieces of 16: the one pass keeps bounded repeats up to 16 exact, and relaxes longer ones)
TRIGGERS = {"encoded.ascii_art": r"[^a-z\s](?:[^a-z\n]{16}){2}[^a-z\n]{14}[^a-z\s]"}
# on UTF-8: a byte of a non-ASCII character (a letter of another script, mostly) is no stroke
_BYTES = re2.Options()
_BYTES.encoding = re2.Options.Encoding.LATIN1
_RUN = re2.compile(f"[^A-Za-z\\s\\x80-\\xff][^A-Za-z\\n\\x80-\\xff]{{{GATE_RUN - 2}}}[^A-Za-z\\s\\x80-\\xff]"
                   .encode("latin-1"), _BYTES)
_WORD = re.compile(r"[A-Za-z][a-z]{2,}")
_VOWEL = re.compile(r"[aeiouy]")
_STUTTER = re.compile(r"(.)\1\1")  # "sss", "888": strokes of a letter, not a word


def scan(text: str, fired: Container[str]) -> list[Hit]:
    """Findings for wide banners of drawn letters (`fired`: the gates of `triggers`)."""
    if "encoded.ascii_art" not in fired:
        return []
    ascii_only = text.isascii()
    data = text.encode("ascii") if ascii_only else text.encode("utf-8", "surrogatepass")
    hits: list[Hit] = []
    done = -1
    at_byte = at_char = 0  # the last offset converted (matches come in order: linear)
    for m in _RUN.finditer(data):
        pos = m.start()
        if not ascii_only:
            at_char += len(data[at_byte:pos].decode("utf-8", "surrogatepass"))
            at_byte, pos = pos, at_char
        if pos < done:
            continue
        block = _block(text, pos)
        done = block[1]
        if _is_banner(text[block[0]:block[1]]):
            lines = text[block[0]:block[1]].split("\n")
            width = max(len(line) for line in lines)
            hits.append(Hit("encoded.ascii_art", Severity.SEV3,
                            f"text drawn as an ASCII-art banner ({len(lines)} lines, {width} columns): too wide "
                            "for a logo, unreadable to word-based checks", f"{lines[0][:60].strip()}…",
                            ATLAS_OBFUSCATION, (block,), replacement=REMOVED))
            if len(hits) >= MAX_BLOCKS:
                break
    return hits


def _block(text: str, pos: int) -> tuple[int, int]:
    """The span of the non-blank lines around `pos` (up to a blank line, the text's edges or MAX_REACH lines)."""
    start = text.rfind("\n", 0, pos) + 1
    for _ in range(MAX_REACH):
        if start == 0:
            break
        above = text.rfind("\n", 0, start - 1) + 1
        if not text[above:start - 1].strip():
            break
        start = above
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    for _ in range(MAX_REACH):
        if end >= len(text):
            break
        below = text.find("\n", end + 1)
        below = len(text) if below < 0 else below
        if not text[end + 1:below].strip():
            break
        end = below
    return start, end


def _is_banner(block: str) -> bool:
    lines = [line.rstrip() for line in block.split("\n")]
    if len(lines) < MIN_LINES or len(set(lines)) < MIN_LINES or max(map(len, lines)) < MIN_WIDTH:
        return False
    ink = [ch for ch in block if not ch.isspace()]
    gaps = sum(len(line.strip()) for line in lines) - len(ink)  # blanks between strokes
    if len(ink) < MIN_INK or (len(set(ink)) < 2 and gaps < 0.15 * len(ink)):
        return False  # a rule of one stroke ("=====") drawn over a few lines
    changes = sum(a != b for line in lines for a, b in pairwise(line))
    if changes < MIN_CHANGES * (len(ink) + gaps):
        return False  # long runs of one character: progress bars, rules, fills
    words = sum(len(w) for w in _WORD.findall(block) if _VOWEL.search(w) and not _STUTTER.search(w))
    digits = [ch for ch in ink if ch.isdigit()]
    numbers = len(digits) > MAX_DIGITS * len(ink) and len(set(digits)) >= 5
    return words <= MAX_WORDS * len(ink) and not numbers
