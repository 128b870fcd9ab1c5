"""Normalisation for matching: NFKC, invisible characters removed, confusables folded, case-folded.

ASCII text (the common case) only needs lower-casing. Whitespace is not collapsed: every space in a
pattern matches any run of whitespace (`\\s+`, which also covers Unicode spaces and separators).
"""

# ruff: noqa: RUF001 - lookalike letters from other scripts are the subject matter here

from __future__ import annotations

import re
import unicodedata

from confusable_homoglyphs.confusables import confusables_data  # type: ignore[import-untyped]

# Characters that render as nothing (or nearly) and that an attacker sprinkles to split keywords.
_INVISIBLE_CLASS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_CLASS}]+")

# Lookalikes of Latin letters from other scripts (Unicode confusables, the ones seen in attacks).
_CONFUSABLE_PAIRS = {
    "a": "аАαΑɑａ𝖺",
    "b": "ВЬβΒƅ",
    "c": "сСϲϹⅽ",
    "d": "ԁⅾ",
    "e": "еЕεΕҽ",
    "g": "ɡցԍ",
    "h": "һНΗհ",
    "i": "іІιΙıӀⅰ",
    "j": "јЈϳȷ",
    "k": "кКκΚ",
    "l": "ӏⅼǀ",
    "m": "МΜⅿ",
    "n": "ΝոՌ",
    "o": "оОοΟօ",
    "p": "рРρΡ",
    "q": "ԛզ",
    "s": "ѕЅ",
    "t": "тТτΤ",
    "u": "υսʋ",
    "v": "νѵⅴ",
    "w": "ԝѡ",
    "x": "хХχΧⅹ",
    "y": "уУγΥү",
    "z": "ΖᴢZ",
}
CONFUSABLES: dict[int, str] = {ord(ch): latin for latin, chars in _CONFUSABLE_PAIRS.items() for ch in chars
                               if ord(ch) > 0x7F}


def _unicode_lookalikes() -> dict[int, str]:
    """Every single character Unicode's confusables data (`confusable_homoglyphs`) lists as looking like a
    Latin letter: mathematical alphabets, small capitals, IPA, Armenian, Cherokee, Canadian syllabics, Indic
    digits... Cyrillic and Greek letters are left to the curated pairs: Russian is read by the injection
    rules in its own letters, and a Greek or Cyrillic word is no disguise."""
    found: dict[int, str] = {}
    for latin in "abcdefghijklmnopqrstuvwxyz":
        for form in (latin, latin.upper()):
            for entry in confusables_data.get(form) or ():
                ch = entry.get("c", "")
                if (len(ch) == 1 and ord(ch) > 0x7F and not unicodedata.category(ch).startswith(("M", "Z", "C"))
                        and not _CYRILLIC_OR_GREEK.match(ch)):
                    found.setdefault(ord(ch), latin)
    for code in (*range(0x0250, 0x02B0), *range(0x1D00, 0x1DC0), *range(0xA720, 0xA800), *range(0xAB30, 0xAB70),
                 *range(0x1F100, 0x1F200)):
        # small capitals, IPA and phonetic forms; squared, circled and regional-indicator letters (emoji)
        named = _STYLED_LATIN.match(unicodedata.name(chr(code), ""))
        if named:
            found.setdefault(code, named.group(1).lower())
    return found


_STYLED_LATIN = re.compile(r"(?:(?:NEGATIVE )?(?:SQUARED |CIRCLED |PARENTHESIZED )?LATIN (?:LETTER SMALL CAPITAL|"
                           r"SMALL LETTER|CAPITAL LETTER)|REGIONAL INDICATOR SYMBOL LETTER) ([A-Z])(?: WITH .*)?$")
_CYRILLIC_OR_GREEK = re.compile("[\u0370-\u03ff\u0400-\u052f\u1c80-\u1c8f\u1f00-\u1fff\u2de0-\u2dff\ua640-\ua69f]")
# What `fold` maps to Latin letters: the curated pairs, then Unicode's lookalikes; and the one space
# separator NFKC leaves as it is (U+1680, Ogham space mark).
FOLDED: dict[int, str] = {**_unicode_lookalikes(), **CONFUSABLES, 0x1680: " "}


_CURLY = re.compile("[\u2018\u2019\u201b\u201c\u201d\u2032]")
_STRAIGHT = (("\u2018", "'"), ("\u2019", "'"), ("\u201b", "'"), ("\u2032", "'"), ("\u201c", '"'), ("\u201d", '"'))
_FOLDED_CHARS = frozenset(chr(c) for c in FOLDED)  # a set: a regex class this large is slow to search


def fold(text: str, non_ascii: str | None = None) -> str:
    """The text as injection patterns see it (offsets are not preserved on the non-ASCII path).

    `non_ascii` (the text's non-ASCII characters alone, if known) lets each step be skipped cheaply.
    """
    return folding(text, non_ascii)[0]


def folding(text: str, non_ascii: str | None = None) -> tuple[str, bool]:
    """`fold`, and whether it turned compatibility forms or lookalikes into other letters (the text may be
    written in disguise: `lookalikes`)."""
    if text.isascii():
        return text.lower(), False
    probe = text if non_ascii is None else non_ascii
    changed = False
    if _INVISIBLE.search(probe):
        text = _INVISIBLE.sub("", text)
    if not unicodedata.is_normalized("NFKC", probe):
        text = unicodedata.normalize("NFKC", text)
        probe = unicodedata.normalize("NFKC", probe)
        changed = True
    if not _FOLDED_CHARS.isdisjoint(probe):
        text = text.translate(FOLDED)
        changed = True
    if _CURLY.search(probe):
        for curly, straight in _STRAIGHT:
            if curly in probe:  # each replace is a pass over the whole text
                text = text.replace(curly, straight)
    # casefold differs from lower only for a few characters (ß, ligatures...): skip it without them.
    # Σ lower-cases by context (final ς), so the probe cannot tell: casefold whenever it is there.
    low = text.lower() if "Σ" not in probe and probe.lower() == probe.casefold() else text.casefold()
    return low, changed
