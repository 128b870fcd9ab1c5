"""Words whose inner letters are swapped or replaced ("ignroe all prevoius insturctions", "ifnore all
previnus instrtctions"): people and models read them as the words they were, word matching does not.

The words an instruction nearly always has (`ciphers.KEYWORDS`, English and five more languages) are
written with one or two pairs of neighbouring inner letters swapped, or one inner letter replaced (keywords
of six letters or more, and not a spelling that is itself a keyword), the common shapes of this trick; the
RE2 pass looks for those spellings (a gate of their own), and only the lines holding one are set right and
scanned again, reported as in `respelled` (only for what the plain reading adds: a typo in ordinary text
is no finding).
"""

from __future__ import annotations

import re
from collections.abc import Container
from itertools import combinations

from proxy.content.ciphers import KEYWORDS
from proxy.content.model import Hit, Span
from proxy.content.respelled import Rescan, judge
from proxy.content.runs import TextView


def _swapped(word: str, pairs: tuple[int, ...]) -> str:
    letters = list(word)
    for i in pairs:
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
    return "".join(letters)


def _variants(word: str) -> set[str]:
    """The word with one pair, or two pairs apart, of neighbouring inner letters swapped."""
    inner = range(1, len(word) - 2)  # a pair (i, i+1) with both inside: first and last letters stay
    out = {_swapped(word, (i,)) for i in inner}
    out |= {_swapped(word, (i, j)) for i, j in combinations(inner, 2) if j > i + 1}
    out.discard(word)
    return out


SCRAMBLED: dict[str, str] = {v: w for w in KEYWORDS for v in _variants(w)}
MIN_REPLACED = 6  # letters of a keyword that may have one inner letter replaced
# Words one letter away from a keyword that are words of their own (English, or German for `assistent`).
_ORDINARY = frozenset({"precious", "forgot", "repeal", "reseal", "assistent"})


def _replaced(word: str, i: int) -> str:
    """`word` with its letter at i replaced by any letter that makes neither it, a keyword nor an ordinary word."""
    taken = {c for c in "abcdefghijklmnopqrstuvwxyz" if f"{word[:i]}{c}{word[i + 1:]}" in _KEYWORDS | _ORDINARY}
    letters = "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in taken)
    return f"{word[:i]}[{letters}]{word[i + 1:]}"


_KEYWORDS = frozenset(KEYWORDS)
# One inner letter replaced (`ifnore`): one pattern per keyword and place; a match is set right by its place.
REPLACED = [_replaced(w, i) for w in KEYWORDS if len(w) >= MIN_REPLACED for i in range(1, len(w) - 1)]
_ALTERNATIVES = "|".join([*sorted(SCRAMBLED, key=len, reverse=True), *REPLACED])
TRIGGERS = {"scrambled": rf"(?:^|[^a-z])(?:{_ALTERNATIVES})(?:[^a-z]|$)"}
_WORD = re.compile(rf"(?<![a-z])(?:{_ALTERNATIVES})(?![a-z])", re.IGNORECASE)


def _set_right(word: str) -> str:
    """The keyword a matched spelling stands for."""
    low = word.lower()
    if low in SCRAMBLED:
        return SCRAMBLED[low]
    for keyword in KEYWORDS:
        if len(keyword) == len(low) and sum(a != b for a, b in zip(keyword, low, strict=True)) == 1 and \
                keyword[0] == low[0] and keyword[-1] == low[-1]:
            return keyword
    return word


def scan(text: str, view: TextView, rescan: Rescan, fired: Container[str], depth: int) -> list[Hit]:
    """A finding if lines with scrambled keywords, set right, read as an instruction they did not."""
    if "scrambled" not in fired:
        return []
    lines: dict[int, list[re.Match[str]]] = {}
    for m in _WORD.finditer(text):
        lines.setdefault(text.rfind("\n", 0, m.start()) + 1, []).append(m)
    found: list[tuple[Span, str]] = []
    for start, words in lines.items():
        stop = text.find("\n", start)
        stop = len(text) if stop < 0 else stop
        plain, at = [], start
        for m in words:
            plain += [text[at:m.start()], _set_right(m.group())]
            at = m.end()
        plain.append(text[at:stop])
        found.append(((start, stop), "".join(plain)))
    hit = judge("scrambled", text, found, rescan, depth)
    return [] if hit is None else [hit]
