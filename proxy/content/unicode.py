"""Invisible and deceptive characters: tag smuggling, zero-width, bidi controls, variation-selector
channels, private-use and other format characters, each judged by its neighbours.

Legitimate text passes: emoji ZWJ sequences, flags (including subdivision tag sequences), keycaps;
ZWJ/ZWNJ next to letters of a script that joins (Indic, Arabic/Persian, Syriac, Mongolian, Khmer...);
ZWSP and the word joiner next to letters of a script written without spaces (Thai, Lao, Khmer,
Burmese, Tibetan, Javanese, Balinese, CJK); a soft hyphen between two letters of one script (any script,
Latin included); bidi marks and balanced embeddings/isolates in right-to-left text (see `bidi`); a lone
variation selector after an emoji or ideograph; a leading BOM; single icon-font glyphs. Zero-width
characters between ASCII letters or digits (inside words, identifiers, host names), in runs, or carrying
a payload are reported.

Judged by what they touch, not by presence (the sloppiness of real catalogues and manual pages):
- in text of a script written without spaces, ZWSP/WJ at a word boundary: next to whitespace, a line
  end, a bracket, a comma, or the script's own punctuation (Khmer "។", Thai "ฯ", Burmese "။", "。");
- a lone invisible character with whitespace or a line boundary on both sides (a character table
  listing U+00AD between tabs): it splits no word and carries no payload;
- ZWJ/ZWNJ between a joining-script letter and a digit (a Persian ordinal: digits, ZWNJ, suffix), or
  at a word boundary in text of a joining script; ZWNJ between an ASCII word and an Arabic-script
  suffix (PDF, ZWNJ, -ha);
- up to MAX_REPEAT copies of one character where one copy would pass and no ASCII letter or digit is
  next to the run (a doubled ZWNJ in a Malayalam word): a repeated key, no more than one copy means.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from proxy.content import bidi
from proxy.content.model import ATLAS_OBFUSCATION, Hit, Span, clip
from proxy.types import Severity

_SUSPECT = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\u3164\ue000-\uf8ff\ufdd0-\ufdef\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\ufffe\uffff"
    "\U000e0000-\U000e0fff\U000f0000-\U0010ffff\U0001bca0-\U0001bca3\U0001d173-\U0001d17a]+"
)
TAG, VS, BIDI, ZW, PUA, FORMAT = "tag", "variation_selector", "bidi", "zero_width", "private_use", "format"
_FLAG_BLACK = "\U0001f3f4"
MAX_CLASSIFIED = 4096  # suspicious characters judged one by one before the rest is taken in bulk
# A run of one repeated invisible character carries no text (a binary channel needs two symbols and
# 16+ of them); doubled or tripled is a repeated key in an editor or input method. Longer runs are
# padding or token splitting, and stay reported.
MAX_REPEAT = 3
PADDING = 3  # copies of one invisible, each beside a blank, that make a padding run
_CONTEXT = 8  # characters looked at on each side of a word-break character for its script
_ASCII_BREAKS = frozenset(" \t\n\r\f\v()[]{},;!?\"'")  # no host name or identifier goes on past these


def _category(code: int) -> str:
    if 0xE0000 <= code <= 0xE007F:
        return TAG
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return VS
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069 or code in (0x061C, 0x200E, 0x200F):
        return BIDI
    if 0xE000 <= code <= 0xF8FF:
        return PUA
    if code >= 0xF0000:
        return PUA
    if code in (0xFFF9, 0xFFFA, 0xFFFB, 0xFFFE, 0xFFFF) or 0xFDD0 <= code <= 0xFDEF or code > 0x1B000:
        return FORMAT
    return ZW


def _in(ch: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    if not ch:
        return False
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in ranges)


_EMOJI = ((0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x3299), (0xFE0F, 0xFE0F), (0x1F000, 0x1FAFF),
          (0xE0020, 0xE007F))
_HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))
_MONGOLIAN = ((0x1800, 0x18AF),)
_KHMER = ((0x1780, 0x17FF),)
# Scripts (first word of a letter's Unicode name) whose words ZWJ/ZWNJ shape, and that are written
# without spaces, so that ZWSP marks word breaks; the word joiner goes with both.
JOINING_SCRIPTS = frozenset({"DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU",
                             "KANNADA", "MALAYALAM", "SINHALA", "ARABIC", "SYRIAC", "NKO", "MONGOLIAN",
                             "KHMER", "MYANMAR", "TIBETAN", "VEDIC"})
UNSPACED_SCRIPTS = frozenset({"THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN", "JAVANESE", "BALINESE", "CJK",
                              "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL", "BOPOMOFO", "YI"})


def script(ch: str) -> str:
    """The script of a letter or mark (LATIN, DEVANAGARI, THAI, CJK...), or '' for anything else."""
    if not ch or unicodedata.category(ch)[0] not in "LM":
        return ""
    return unicodedata.name(ch, "").split(" ", 1)[0]


def _letter_before(text: str, i: int) -> str:
    """The character before index i, skipping up to 4 generic combining marks (an accent on a base)."""
    j = i - 1
    while j >= 0 and i - j <= 4 and unicodedata.category(text[j]) == "Mn" and script(text[j]) == "COMBINING":
        j -= 1
    return text[j] if j >= 0 else ""


def _joins(prev: str, nxt: str, scripts: frozenset[str]) -> bool:
    """One side is a letter of one of `scripts`; the other is of the same script or not a letter (a digit,
    punctuation, space: Persian puts ZWNJ between a number and its suffix)."""
    for side, other in ((prev, nxt), (nxt, prev)):
        name = script(side)
        if name in scripts and (script(other) == name or not other or unicodedata.category(other)[0] not in "LM"):
            return True
    return False


def _zero_width_is_legit(text: str, start: int, end: int) -> bool:
    """Whether text[start:end], one zero-width character or a short run of copies of it, is legitimate
    where it stands."""
    code = ord(text[start])
    prev = text[start - 1] if start else ""
    nxt = text[end] if end < len(text) else ""
    if end - start > 1 and not _mere_repeat(text[start:end], prev, nxt):
        return False
    if _line_boundary(prev) and _line_boundary(nxt):
        return True  # alone between whitespace: splits no word
    if end - start == 1 and code in (0x200B, 0x2060, 0xFEFF) and prev.isspace() and nxt.isalpha():
        return True  # one stray space or BOM before a word ("- \ufeffFixed", a pasted "\u200bsupported")
    if end - start == 1 and _in_padding(text, start):
        return True  # in a padding run (an e-mail preheader's "\u200c\u00a0" x 40): one symbol, no channel
    if code == 0x200D and _in(prev, _EMOJI) and _in(nxt, _EMOJI):
        return True
    if code in (0x200C, 0x200D):
        return (_joins(prev, nxt, JOINING_SCRIPTS) or (code == 0x200C and _half_space(prev, nxt))
                or _at_word_break_in(text, start, end, JOINING_SCRIPTS))
    if code in (0x200B, 0x2060):  # ZWSP, word joiner
        unspaced = script(prev) in UNSPACED_SCRIPTS or script(nxt) in UNSPACED_SCRIPTS
        return (unspaced or (code == 0x2060 and _joins(prev, nxt, JOINING_SCRIPTS))
                or _at_word_break_in(text, start, end, UNSPACED_SCRIPTS))
    if code == 0xFEFF:
        return start == 0
    if code == 0x00AD:
        before = script(_letter_before(text, start))
        return bool(before) and before != "COMBINING" and before == script(nxt) and nxt.isalpha()
    if 0x180B <= code <= 0x180F:
        return _in(prev, _MONGOLIAN) or _in(nxt, _MONGOLIAN)
    if code in (0x17B4, 0x17B5):
        return _in(prev, _KHMER)
    if code in (0x115F, 0x1160, 0x3164, 0xFFA0):
        return _in(prev, _HANGUL) or _in(nxt, _HANGUL)
    if code == 0x034F:
        return prev.isalpha()
    return False


def _in_padding(text: str, i: int) -> bool:
    """Is text[i] one of PADDING or more copies of one invisible, each next to the same blank (a run's first
    may follow a word, its last precede markup)?"""
    ch = text[i]
    blank = text[i + 1] if i + 1 < len(text) and text[i + 1].isspace() else text[i - 1] if i > 0 else ""
    if not blank.isspace():
        return False
    count, j = 1, i
    while count < PADDING and j >= 2 and text[j - 1] == blank and text[j - 2] == ch:
        count, j = count + 1, j - 2
    j = i
    while count < PADDING and j + 2 < len(text) and text[j + 1] == blank and text[j + 2] == ch:
        count, j = count + 1, j + 2
    return count >= PADDING


def _mere_repeat(run: str, prev: str, nxt: str) -> bool:
    """Up to MAX_REPEAT copies of one character, with no ASCII letter or digit next to them (a doubled
    invisible inside an ASCII word or identifier stays reported)."""
    return (len(run) <= MAX_REPEAT and not run.strip(run[0])
            and not _ascii_alnum(prev) and not _ascii_alnum(nxt))


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _line_boundary(ch: str) -> bool:
    """The start or end of the text, or whitespace (line ends, tabs, no-break spaces)."""
    return not ch or ch.isspace()


def _word_break(ch: str) -> bool:
    """Whitespace, a text edge, ASCII punctuation that ends a word, or any non-ASCII punctuation (the
    danda-like stops of Khmer, Thai, Burmese, Tibetan, CJK full stops and commas, quotes)."""
    if _line_boundary(ch) or ch in _ASCII_BREAKS:
        return True
    return not ch.isascii() and unicodedata.category(ch)[0] == "P"


def _at_word_break_in(text: str, start: int, end: int, scripts: frozenset[str]) -> bool:
    """At a word boundary (a break on one side), with the nearest letter on either side, on the same
    line, in one of `scripts`: Khmer or Thai translators put a ZWSP after every phrase, Persian ones a
    ZWNJ next to punctuation; there it splits no word."""
    prev = text[start - 1] if start else ""
    nxt = text[end] if end < len(text) else ""
    if not (_word_break(prev) or _word_break(nxt)):
        return False
    return (_nearest_letter_script(text, start - 1, -1) in scripts
            or _nearest_letter_script(text, end, 1) in scripts)


def _half_space(prev: str, nxt: str) -> bool:
    """ZWNJ between an ASCII word, number or placeholder and an Arabic-script letter: the Persian
    half-space sets a suffix (-ha, -haye) off any stem, a Latin word or a placeholder too; no ASCII
    word is split."""
    return (_ascii_alnum(prev) and script(nxt) == "ARABIC") or (script(prev) == "ARABIC" and _ascii_alnum(nxt))


def _nearest_letter_script(text: str, i: int, step: int) -> str:
    """The script of the first letter from i in direction step, within _CONTEXT characters of the line."""
    for _ in range(_CONTEXT):
        if not 0 <= i < len(text) or text[i] in "\n\r":
            return ""
        name = script(text[i])
        if name:
            return name
        i += step
    return ""


def _groups(text: str, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(category, start, end) for each same-category stretch of one suspect run."""
    i = start
    while i < end:
        cat = _category(ord(text[i]))
        j = i + 1
        while j < end and _category(ord(text[j])) == cat:
            j += 1
        yield cat, i, j
        i = j


def _suspicious_spans(text: str) -> dict[str, list[Span]]:
    found: dict[str, list[Span]] = {}
    bidi_groups: list[Span] = []  # judged together at the end: a pair's ends can be far apart
    kept = 0
    for m in _SUSPECT.finditer(text):
        if kept > MAX_CLASSIFIED:  # plainly adversarial: the rest is taken in bulk, at C speed
            bulk = found.setdefault(_category(ord(m.group()[0])), [])
            bulk.append(m.span())
            bulk.extend(x.span() for x in _SUSPECT.finditer(text, m.end()))
            break
        start, end = m.span()
        stretches = ((_category(ord(text[start])), start, end),) if end - start == 1 else _groups(text, start, end)
        for cat, start, end in stretches:
            if cat == BIDI:
                bidi_groups.append((start, end))
                continue
            span = _judge(text, cat, start, end)
            if span:
                found.setdefault(cat, []).extend(span)
                kept += len(span)
    if bidi_groups:
        spans = bidi.judge(text, bidi_groups)
        if spans:
            found.setdefault(BIDI, []).extend(spans)
    return found


def _judge(text: str, cat: str, start: int, end: int) -> list[Span]:
    """The spans of one same-category stretch that are not legitimate in their context."""
    prev = text[start - 1] if start else ""
    if cat == TAG:
        if prev == _FLAG_BLACK and _is_subdivision_flag(text[start:end]):
            return []
    elif cat == VS:
        if end - start == 1 and not (prev.isascii() and prev.isalpha()) and prev not in " \n\t":
            return []
    elif cat == PUA:
        if end - start < 4 and ord(text[start]) < 0xF0000:
            return []  # icon-font glyphs in prompts and CLI output come one at a time
    elif cat == ZW:
        return [] if _zero_width_is_legit(text, start, end) else [(start, end)]
    return [(start, end)]


def _is_subdivision_flag(run: str) -> bool:
    body, last = run[:-1], run[-1:]
    return last == "\U000e007f" and 2 <= len(body) <= 6 and all(
        0xE0030 <= ord(c) <= 0xE0039 or 0xE0061 <= ord(c) <= 0xE007A for c in body)


def decode_tags(chars: str) -> str:
    """The ASCII that tag characters smuggle (U+E0020-U+E007E map to ' '…'~')."""
    return "".join(chr(ord(c) - 0xE0000) for c in chars if 0xE0020 <= ord(c) <= 0xE007E)


def decode_variation_selectors(chars: str) -> str:
    """Bytes hidden as variation selectors (VS1-16 = 0-15, VS17-256 = 16-255), as UTF-8 text."""
    data = bytearray()
    for c in chars:
        code = ord(c)
        if 0xFE00 <= code <= 0xFE0F:
            data.append(code - 0xFE00)
        elif 0xE0100 <= code <= 0xE01EF:
            data.append(code - 0xE0100 + 16)
    return data.decode("utf-8", errors="replace")


def decode_zero_width_bits(chars: str) -> str:
    """Text hidden as a binary stream of two invisible characters, or '' if it does not decode."""
    symbols = sorted(set(chars))
    if len(symbols) != 2 or len(chars) < 16:
        return ""
    for zero, _one in (symbols, symbols[::-1]):
        bits = "".join("0" if c == zero else "1" for c in chars)
        data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits) - 7, 8))
        decoded = data.decode("ascii", errors="replace")
        if sum(ch.isprintable() for ch in decoded) >= 0.9 * len(decoded):
            return decoded
    return ""


def _printable(text: str) -> bool:
    return bool(text.strip()) and sum(ch.isprintable() for ch in text) >= 0.8 * len(text)


def worth_scanning(non_ascii: str) -> bool:
    """Cheap prefilter on the text's non-ASCII characters alone."""
    return _SUSPECT.search(non_ascii) is not None


def scan(text: str) -> list[Hit]:
    """Findings for invisible and deceptive characters (the caller skips ASCII-only text)."""
    found = _suspicious_spans(text)
    hits = []
    for cat, spans in found.items():
        if not spans:
            continue
        chars = "".join(text[s:e] for s, e in spans)
        count = len(chars)
        severity, hidden = Severity.SEV3, ""
        if cat == TAG:
            hidden = decode_tags(chars)
            severity = Severity.SEV2 if hidden.strip() else Severity.SEV3
        elif cat == VS:
            hidden = decode_variation_selectors(chars)
            severity = Severity.SEV2 if _printable(hidden) else Severity.SEV3
            hidden = hidden if _printable(hidden) else ""
        elif cat == BIDI:
            severity = Severity.SEV2 if any(c in bidi.OVERRIDES for c in chars) else Severity.SEV3
        elif cat == ZW:
            hidden = decode_zero_width_bits(chars)
            severity = Severity.SEV2 if hidden else Severity.SEV3
        message = f"{count} {cat.replace('_', ' ')} character(s)"
        if hidden:
            message += f" hiding text: {clip(hidden, 120)!r}"
            excerpt = clip(hidden, 120)
        else:
            s0 = spans[0][0]
            excerpt = clip(text[max(0, s0 - 20):s0 + 20])
        hits.append(Hit(f"unicode.{cat}", severity, message, excerpt, ATLAS_OBFUSCATION, _merge(spans)))
    return hits


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return tuple(merged)
