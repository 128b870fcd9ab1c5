"""Text spelled in lookalike characters of many scripts (`pаsswоrd` with Cyrillic, Arabic, Indic or
Osage letters, an Indic visarga for a colon, `rn` for `m`), read back as the ASCII it imitates.

`normalize.fold` already maps the mathematical alphabets, small capitals and the usual Cyrillic and
Greek lookalikes; it keeps the letters of real scripts so that Russian or Arabic text stays itself. This
reading goes further (every character Unicode's confusables data lists as looking like an ASCII one,
every space character as a space), so it is only applied to lines that are clearly disguised Latin: at
least MIN_MIXED words of the folded line mix ASCII letters with other characters, and once read most of
the line's letters are ASCII. `respelled.judge` then reports it only if the reading adds an instruction.
"""

# ruff: noqa: RUF002, RUF003 - lookalike letters from other scripts are the subject matter here

from __future__ import annotations

import re
import string
import unicodedata

import re2
from confusable_homoglyphs.confusables import confusables_data  # type: ignore[import-untyped]

from proxy.content.model import Span

MIN_MIXED = 2  # words of a line that mix ASCII letters with lookalikes
MIN_ASCII_SHARE = 0.8  # of the read line's letters
MAX_FOREIGN_SHARE = 0.3  # of a folded line's characters still not ASCII (Russian, folded, has more)
MAX_LINES = 256  # candidate lines read per text
_MULTI = (("rn", "m"), ("vv", "w"))  # two ASCII letters read as one, the second reading of a line
_MIXED_WORD = re.compile(r"[a-z]+[^\x00-\x7f\s]|[^\x00-\x7f\s][a-z]")
_LETTER = re.compile(r"[^\W\d_]")
# In the folded text's one-byte view (non-ASCII as `?`): a lone character left unfolded among ASCII letters
# (Russian, folded, has its `о`, `е`, `с` in Latin, but its other letters stand together).
_LEFT_OVER = re2.compile(rb"[a-z ]{4}\?[a-z ]{4}")


def _skeleton_table() -> dict[int, str]:
    """Every single character the confusables data lists as looking like a printable ASCII character, and
    every space separator, mapped to that ASCII character."""
    table: dict[int, str] = {}
    for target in string.ascii_letters + string.digits + string.punctuation:
        for entry in confusables_data.get(target) or ():
            ch = entry.get("c", "").strip("\u200e\u200f")
            if len(ch) == 1 and ord(ch) > 0x7F and not unicodedata.category(ch).startswith("M"):
                table.setdefault(ord(ch), target.lower())
    for code in range(0x80, 0x3001):
        if unicodedata.category(chr(code)) == "Zs":
            table[code] = " "
    return table


SKELETON = _skeleton_table()


def read_lines(text: str, folded: str) -> list[tuple[Span, str]]:
    """The lines of `text` that are disguised Latin, each read as the ASCII it imitates (a second reading
    follows on the next line where `rn` may stand for `m`). `folded` is `normalize.fold(text)`: it has
    the same lines, and its one-byte view shows where characters were left unfolded inside words."""
    if text.count("\n") != folded.count("\n"):
        return []
    view = folded.encode("ascii", "replace")
    out: list[tuple[Span, str]] = []
    line, text_at, pos = 0, 0, 0
    while (m := _LEFT_OVER.search(view, pos)) is not None:
        start = view.rfind(b"\n", 0, m.start()) + 1
        stop = view.find(b"\n", m.end())
        stop = len(view) if stop < 0 else stop
        pos = stop + 1  # each line once: linear
        if view.count(b"?", start, stop) > MAX_FOREIGN_SHARE * (stop - start):
            continue
        for _ in range(view.count(b"\n", line, start)):  # the same line of the original text
            text_at = text.index("\n", text_at) + 1
        line = start
        read = _read(folded[start:stop])
        if read is not None:
            end = text.find("\n", text_at)
            out.append(((text_at, len(text) if end < 0 else end), read))
            if len(out) >= MAX_LINES:
                break
    return out


def _read(line: str) -> str | None:
    """A folded line read as the ASCII it imitates, if it is disguised Latin."""
    if len(_MIXED_WORD.findall(line)) < MIN_MIXED:
        return None
    read = line.translate(SKELETON)
    letters = _LETTER.findall(read)
    if not letters or sum(c.isascii() for c in letters) < MIN_ASCII_SHARE * len(letters):
        return None
    second = read
    for pair, single in _MULTI:
        second = second.replace(pair, single)
    return read if second == read else f"{read}\n{second}"
