"""Deceptive letters: mixed-script confusables in words, identifiers and host names, and
combining-mark floods ("zalgo"). Pure Cyrillic, Greek or any other single-script text passes.

Terminal escape sequences are word boundaries: in coloured output (manual pages, CLI tools) the final
byte of a CSI sequence (`m` of SGR, `K`, `H`...) or of a short ESC sequence (`ESC ( B`) sits glued to
the next word, but a terminal consumes it, so it is not a Latin letter of that word. OSC bodies need
nothing: their terminator (BEL or ESC \\) is no word character, and a word inside a body (a link
target) is still judged.
"""

from __future__ import annotations

import re

from proxy.content.model import ATLAS_OBFUSCATION, Hit, Span, clip
from proxy.content.normalize import CONFUSABLES
from proxy.types import Severity

_CONFUSABLE_CLASS = "".join(sorted(chr(c) for c in CONFUSABLES))
_HAS_CONFUSABLE = re.compile(f"[{re.escape(_CONFUSABLE_CLASS)}]")
_WORD = re.compile(r"[\w.-]+")
_LATIN = re.compile(r"[A-Za-z]")
_NON_LATIN_LETTER = re.compile(r"[^\W\d_A-Za-z]")
_COMBINING_FLOOD = re.compile("[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{6,}")
_MAX_WORDS = 256
# A CSI sequence (7-bit or C1) or a short ESC sequence, bounded like a terminal parses it.
_ESCAPE = re.compile(r"(?:\x1b\[|\x9b)[0-?]{0,64}[ -/]{0,8}[@-~]|\x1b[ -/]{0,4}[0-~]")
_ESCAPE_REACH = 80  # the longest escape sequence _ESCAPE matches, plus a margin


def skeleton(word: str) -> str:
    """The Latin letters a word imitates (confusables folded)."""
    return word.translate(CONFUSABLES)


def _deceptive(word: str) -> bool:
    """Latin mixed with lookalikes inside one token, or a host name spelled wholly in lookalikes."""
    others = _NON_LATIN_LETTER.findall(word)
    if not others or not all(ord(c) in CONFUSABLES for c in others):
        return False
    if _LATIN.search(word):
        return True
    # A host name ends in an ASCII top-level domain; dotted abbreviations of other scripts
    # (the Russian "t.e." and "t.d.", spelt in Cyrillic) end in a letter of their own script or a bare dot.
    body = word.strip(".")
    tld = body.rsplit(".", 1)[-1]
    return "." in body and tld.isascii() and tld.isalpha()


def worth_scanning(non_ascii: str) -> bool:
    """Cheap prefilter on the text's non-ASCII characters alone."""
    return _HAS_CONFUSABLE.search(non_ascii) is not None or _COMBINING_FLOOD.search(non_ascii) is not None


def scan(text: str) -> list[Hit]:
    """Confusable and combining-mark findings (the caller skips ASCII-only text)."""
    hits: list[Hit] = []
    spans: list[Span] = []
    fixes: list[str] = []
    seen = 0
    pos = 0
    while seen < _MAX_WORDS:
        m = _HAS_CONFUSABLE.search(text, pos)
        if m is None:
            break
        word = _word_around(text, m.start(), pos)
        seen += 1
        pos = word[1]
        token = text[word[0]:word[1]]
        if _deceptive(token):
            spans.append(word)
            fixes.append(skeleton(token))
    if spans:
        first = text[spans[0][0]:spans[0][1]]
        hits.append(Hit("unicode.confusable", Severity.SEV3,
                        f"{len(spans)} word(s) mix Latin with lookalike letters, e.g. {clip(first, 40)!r} "
                        f"reads as {clip(fixes[0], 40)!r}",
                        clip(first), ATLAS_OBFUSCATION, tuple(spans), fixes=tuple(fixes)))
    flood = [m.span() for m in _COMBINING_FLOOD.finditer(text)]
    if flood:
        s = flood[0][0]
        hits.append(Hit("unicode.combining", Severity.SEV3,
                        f"{len(flood)} run(s) of stacked combining marks (zalgo text)",
                        clip(text[max(0, s - 10):s + 10]), ATLAS_OBFUSCATION, tuple(flood)))
    return hits


def _word_around(text: str, index: int, floor: int) -> Span:
    start = index
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
    start = _after_escape(text, start, index)
    m = _WORD.match(text, index)
    end = m.end() if m else index + 1
    return start, max(end, index + 1)


def _after_escape(text: str, start: int, index: int) -> int:
    """Where the word really starts when an escape sequence ends inside text[start:index] (its
    parameters and final byte, `22m` of `ESC [22m`, are not letters of the word)."""
    lo = max(0, start - _ESCAPE_REACH)
    esc = max(text.rfind("\x1b", lo, index), text.rfind("\x9b", lo, index))
    if esc < 0:
        return start
    m = _ESCAPE.match(text, esc)
    return m.end() if m and start < m.end() <= index else start
