"""Normalisation for matching: NFKC, invisible characters removed, confusables folded, case-folded.

ASCII text (the common case) only needs lower-casing. Whitespace is not collapsed: every space in a
pattern matches any run of whitespace (`\\s+`, which also covers Unicode spaces and separators).
"""

# ruff: noqa: RUF001 - lookalike letters from other scripts are the subject matter here

from __future__ import annotations

import re
import unicodedata

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


_CURLY = re.compile("[\u2018\u2019\u201b\u201c\u201d\u2032]")
_STRAIGHT = (("\u2018", "'"), ("\u2019", "'"), ("\u201b", "'"), ("\u2032", "'"), ("\u201c", '"'), ("\u201d", '"'))
_CONFUSABLE = re.compile("[" + "".join(sorted(chr(c) for c in CONFUSABLES)) + "]")


def fold(text: str, non_ascii: str | None = None) -> str:
    """The text as injection patterns see it (offsets are not preserved on the non-ASCII path).

    `non_ascii` (the text's non-ASCII characters alone, if known) lets each step be skipped cheaply.
    """
    if text.isascii():
        return text.lower()
    probe = text if non_ascii is None else non_ascii
    if _INVISIBLE.search(probe):
        text = _INVISIBLE.sub("", text)
    if not unicodedata.is_normalized("NFKC", probe):
        text = unicodedata.normalize("NFKC", text)
        probe = unicodedata.normalize("NFKC", probe)
    if _CONFUSABLE.search(probe):
        text = _CONFUSABLE.sub(lambda m: CONFUSABLES[ord(m.group())], text)
    if _CURLY.search(probe):
        for curly, straight in _STRAIGHT:
            if curly in probe:  # each replace is a pass over the whole text
                text = text.replace(curly, straight)
    # casefold differs from lower only for a few characters (ß, ligatures...): skip it without them.
    # Σ lower-cases by context (final ς), so the probe cannot tell: casefold whenever it is there.
    return text.lower() if "Σ" not in probe and probe.lower() == probe.casefold() else text.casefold()

