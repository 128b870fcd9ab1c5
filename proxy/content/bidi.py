"""Bidi controls judged in context: flagged when they can make a reader see something else than what is
stored.

Suspicious: overrides (LRO/RLO) anywhere; runs of three or more controls; embeddings and isolates in text
with no right-to-left letters, except balanced LRI/FSI…PDI pairs around content that is not code (Fluent
and ICU wrap every placeholder of a left-to-right message this way); an opener left open at the end of
its line, or a closer with no opener, next to code-like ASCII (quotes, comment markers, operators,
calls); a balanced pair whose content looks like code (the Trojan Source patterns); a mark inside an
ASCII word. Both ends of a pair, and controls side by side, are flagged together so that stripping
keeps the rest balanced.

Normal: LRM/RLM marks on their own, and in text with right-to-left letters the ALM mark and balanced
embeddings/isolates around numbers, placeholders (%s, {0}, %(name)d), Latin words, file names, URLs
and punctuation.

Work: a constant amount per control (windows of `WINDOW` characters), plus one search of the text for
right-to-left letters when an embedding or isolate is found.
"""

from __future__ import annotations

import re

from proxy.content.model import Span

MARKS = frozenset("\u061c\u200e\u200f")
OVERRIDES = frozenset("\u202d\u202e")
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")  # LRE RLE LRO RLO, closed by PDF
_ISOLATES = frozenset("\u2066\u2067\u2068")  # LRI RLI FSI, closed by PDI
_NEUTRAL_ISOLATES = frozenset("\u2066\u2068")  # LRI FSI: in left-to-right text they reorder nothing around them
_PDF, _PDI, _ALM = "\u202c", "\u2069", "\u061c"
RUN_LIMIT = 3  # this many controls side by side are never formatting
WINDOW = 24  # characters looked at on each side of a control

_PARAGRAPH = re.compile("[\n\r\x1c-\x1e\x85\u2029]")  # bidi class B: ends every embedding and isolate
_RTL_LETTER = re.compile(
    "[\u05d0-\u05f2\u0620-\u064a\u066e-\u06d5\u06fa-\u06ff\u0710-\u072f\u074d-\u07a5\u07ca-\u07ea"
    "\u0800-\u0815\u0840-\u0858\u0860-\u086a\u0870-\u08c9\ufb1d-\ufdff\ufe70-\ufefc"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]")  # Hebrew, Arabic, Syriac, Thaana, NKo and kin
_STRONG_CODE = (r"(?<![:/])//|/\*|\*/|<!--|-->|[=!<>]=|&&|\|\||\b(?:if|while|for|switch)\s*\(|\breturn\b")
_CODE_INSIDE = re.compile(_STRONG_CODE + r"|;(?=\s|$)", re.ASCII)
_CODE_NEAR = re.compile(_STRONG_CODE + r"|[;\"'`]|[A-Za-z_]\w*(?:\(|\s*=(?!=))", re.ASCII)


def judge(text: str, groups: list[Span]) -> list[Span]:
    """The suspicious spans among `groups`, the stretches of bidi controls in `text` (in text order)."""
    flagged: list[Span] = []
    positions: list[int] = []
    group_of: list[int] = []
    for g, (start, end) in enumerate(groups):
        if end - start >= RUN_LIMIT:
            flagged.append((start, end))
        else:
            positions.extend(range(start, end))
            group_of.extend([g] * (end - start))
    partner = _pairs(text, positions)
    bad = [False] * len(positions)
    has_rtl: bool | None = None
    for k, i in enumerate(positions):
        ch = text[i]
        if ch in OVERRIDES:
            bad[k] = True
            continue
        if ch in MARKS and ch != _ALM:
            bad[k] = _inside_ascii_word(text, i)
            continue
        if has_rtl is None:
            has_rtl = _RTL_LETTER.search(text) is not None
        if ch == _ALM:
            bad[k] = not has_rtl or _inside_ascii_word(text, i)
        elif not has_rtl:
            opener = k if partner[k] > k else partner[k]
            bad[k] = not (opener >= 0 and text[positions[opener]] in _NEUTRAL_ISOLATES
                          and not _code_inside(text, positions[opener], positions[partner[opener]]))
        elif partner[k] < 0:
            bad[k] = _code_near(text, i)
        elif partner[k] > k:
            bad[k] = _code_inside(text, i, positions[partner[k]])
    for _ in range(2):  # contagion: pairs, then neighbours, twice (a neighbour may have a partner)
        for k, other in enumerate(partner):
            if other >= 0 and (bad[k] or bad[other]):
                bad[k] = bad[other] = True
        for k in range(1, len(positions)):
            if group_of[k] == group_of[k - 1] and (bad[k] or bad[k - 1]):
                bad[k] = bad[k - 1] = True
    flagged.extend((i, i + 1) for k, i in enumerate(positions) if bad[k])
    return flagged


def _pairs(text: str, positions: list[int]) -> list[int]:
    """For each control, the index of the other end of its balanced pair on the same line, or -1.

    As the Unicode bidi algorithm pairs them: a PDF closes the innermost embedding or override unless an
    isolate is open inside it, a PDI closes the innermost isolate (and leaves the embeddings inside it
    unclosed), and a paragraph separator ends everything.
    """
    partner = [-1] * len(positions)
    stack: list[int] = []
    isolates = 0
    prev = -1
    for k, i in enumerate(positions):
        if stack and _PARAGRAPH.search(text, prev + 1, i):
            stack.clear()
            isolates = 0
        prev = i
        ch = text[i]
        if ch in _EMBEDDINGS or ch in _ISOLATES:
            stack.append(k)
            isolates += ch in _ISOLATES
        elif ch == _PDF and stack and text[positions[stack[-1]]] in _EMBEDDINGS:
            opener = stack.pop()
            partner[k], partner[opener] = opener, k
        elif ch == _PDI and isolates:
            while text[positions[stack[-1]]] not in _ISOLATES:
                stack.pop()
            opener = stack.pop()
            isolates -= 1
            partner[k], partner[opener] = opener, k
    return partner


def _inside_ascii_word(text: str, i: int) -> bool:
    before, after = text[i - 1:i], text[i + 1:i + 2]
    return before.isascii() and before.isalnum() and after.isascii() and after.isalnum()


def _code_near(text: str, i: int) -> bool:
    """Code-like ASCII on the control's line within WINDOW characters on either side."""
    lo = max(0, i - WINDOW)
    window = text[lo:i + 1 + WINDOW]
    if _PARAGRAPH.search(window) is not None:
        left, right = window[:i - lo], window[i - lo + 1:]
        window = f"{_PARAGRAPH.split(left)[-1]} {_PARAGRAPH.split(right, 1)[0]}"
    return _CODE_NEAR.search(window) is not None


def _code_inside(text: str, opener: int, closer: int) -> bool:
    """Code-like content between the two ends of a pair (its first and last WINDOW characters)."""
    if closer - opener <= 2 * WINDOW:
        inner = text[opener + 1:closer]
    else:
        inner = f"{text[opener + 1:opener + 1 + WINDOW]} {text[closer - WINDOW:closer]}"
    return _CODE_INSIDE.search(inner) is not None
