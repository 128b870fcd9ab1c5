"""ROT13: English prose or HTML / JavaScript whose letters were rotated by 13.

Rotation keeps spaces and punctuation, so the text keeps its shape. Two signals, each gated by
rotated words in the folded text (see TRIGGERS):

- prose: on a line, the run of words whose letters English frequencies explain far better rotated
  than as written (a log-likelihood ratio per letter) is long enough;
- markup: at least two HTML / JavaScript words (script, onerror, javascript...) appear rotated.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable, Container

from proxy.content.model import ATLAS_OBFUSCATION, Hit, clip
from proxy.types import Severity

Rescan = Callable[[str, int], list[Hit]]
MAX_TEXT = 65536
MIN_LETTERS = 10
PROSE_LETTERS = 0.7  # share of letters among the non-space characters of a rotated run
MIN_GAIN = 0.5  # nats per letter by which the rotated letters must read more like English
REMOVED = "[encoded payload removed by Drawbridge]"

# Relative frequencies of letters in English text (per cent).
_ENGLISH = dict(zip("abcdefghijklmnopqrstuvwxyz", (
    8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4, 6.7, 7.5, 1.9, 0.095, 6.0, 6.3, 9.1, 2.8,
    0.98, 2.4, 0.15, 2.0, 0.074), strict=True))
_GAIN = {c: math.log(_ENGLISH[codecs.encode(c, "rot13")] / p) for c, p in _ENGLISH.items()}

# Rotated English function words (prose) and HTML / JavaScript words (markup); none is an English word.
_PROSE_HINTS = ("gur", "lbh", "naq", "jvgu", "guvf", "gung", "lbhe", "sbe", "abg", "ner", "nyy", "cyrnfr", "gryy",
                "fraq", "cevag", "hfre", "cnffjbeq", "frperg", "uggc", "uggcf", "vtaber", "vafgehpg")
_MARKUP_WORDS = ("script", "javascript", "alert", "onerror", "onload", "onmouseover", "iframe", "img", "src", "href",
                 "html", "body", "div", "style", "expression", "eval", "document", "cookie", "window", "fetch")
_ROTATED_MARKUP = {codecs.encode(w, "rot13"): w for w in _MARKUP_WORDS}
TRIGGERS = {"encoded.rot13": r"\b(?:" + "|".join((*_PROSE_HINTS, *_ROTATED_MARKUP)) + r")\b"}
_HINT = re.compile(TRIGGERS["encoded.rot13"])
_WORD = re.compile(r"[a-z]+")


def _rotated_run(line: str) -> tuple[int, int] | None:
    """The span of the run of words that gains most from being read rotated, if it gains enough.

    A maximum-sum run over the words' gains (Kadane), so rotated text is found next to plain text.
    """
    best, best_span = 0.0, None
    total, letters, start = 0.0, 0, -1
    best_letters = 0
    for m in _WORD.finditer(line):
        gain = sum(_GAIN[ch] for ch in m.group())
        if total <= 0:
            total, letters, start = 0.0, 0, m.start()
        total += gain
        letters += len(m.group())
        if total > best:
            best, best_span, best_letters = total, (start, m.end()), letters
    if best_span is None or best_letters < MIN_LETTERS or best / best_letters < MIN_GAIN:
        return None
    return best_span


def _prose(segment: str) -> bool:
    """Words apart, mostly letters: what rotation leaves of prose (base64, uuencode and binary lines are one
    token or mostly digits and punctuation)."""
    spaces = segment.count(" ")
    return spaces >= 2 and sum(c.isalpha() for c in segment) >= PROSE_LETTERS * (len(segment) - spaces)


def _spans(low: str) -> list[tuple[int, int]]:
    """Spans of rotated prose segments and of lines with rotated markup."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in low.split("\n"):
        words = set(_WORD.findall(line))
        if len(words.intersection(_ROTATED_MARKUP)) >= 2:
            spans.append((pos, pos + len(line)))
        elif _HINT.search(line) and (run := _rotated_run(line)) is not None and _prose(line[run[0]:run[1]]):
            spans.append((pos + run[0], pos + run[1]))
        pos += len(line) + 1
    return spans


def scan(text: str, low: str, rescan: Rescan, fired: Container[str], depth: int, max_depth: int) -> list[Hit]:
    """ROT13 findings in `text` (`low` its folded form, `fired` the gates that fired)."""
    if len(low) > MAX_TEXT or len(low) != len(text) or "encoded.rot13" not in fired:
        return []
    spans = _spans(low)
    if not spans:
        return []
    decoded = "\n".join(codecs.encode(text[s:e], "rot13").strip() for s, e in spans)
    inner = rescan(decoded, depth + 1) if depth + 1 < max_depth else []
    triggered = sorted({h.detector for h in inner})
    message = "ROT13 text; chain: rot13" + (f"; decoded text triggers {', '.join(triggered)}" if triggered else "")
    return [Hit("encoded.rot13", Severity.SEV2 if triggered else Severity.SEV3, message,
                f"decoded: {clip(decoded, 100)}", ATLAS_OBFUSCATION, tuple(spans), replacement=REMOVED)]
