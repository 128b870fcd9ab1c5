"""One linear-time pass that tells which detector patterns can possibly match a text.

The patterns are written for the `regex` module (lookbehinds, Unicode classes) and are tried at
known positions. Before that, an RE2 set (a DFA: one pass, no backtracking) runs over the whole text
with each pattern translated to an RE2 pattern matching a *superset* of what the original matches:

- lookarounds and word boundaries are dropped, except that a lookbehind opening the pattern becomes
  a plain prefix (the same texts then contain a match);
- counted repeats `{m,n}` become `*` or `+` (small ones may be kept: RE2 unrolls them, which makes
  a gate selective but a large pattern set's DFA much bigger);
- the text is given as ASCII bytes with every non-ASCII character replaced by `?` (one byte per
  character, as `str.encode("ascii", "replace")` does in C), and the translated `\\w`, `\\s`, `\\d`
  and negated classes accept `?` wherever the original could have accepted a non-ASCII character.

A pattern the translation does not understand is always a candidate, so the prefilter can only make
the exact matching do less work, never miss a match.

A second mode (`utf8=True`) reads the text as UTF-8 instead: non-ASCII letters are then themselves,
so vocabularies in other scripts (Cyrillic, CJK) stay selective. There `\\w`, `\\s` and `\\d` accept
any non-ASCII character (RE2's classes are ASCII-only; a superset again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import re2

_HIGH = "?"  # what every non-ASCII character of the text becomes
_HIGH_UTF8 = r"\x{80}-\x{10ffff}"  # in UTF-8 mode: every non-ASCII character, as a class range
_WORD, _SPACE, _DIGIT = "0-9A-Za-z_", r"\t\n\v\f\r\x1c-\x1f ", "0-9"
_CLASS_ESCAPES = {"w": _WORD, "s": _SPACE, "d": _DIGIT}
_NEGATED_ESCAPES = {"W": f"[^{_WORD}]", "S": f"[^{_SPACE}]", "D": f"[^{_DIGIT}]"}
_PLAIN_ESCAPES = frozenset("ntrfvx")  # \xHH: its digits follow as plain characters
_REPEAT = re.compile(r"\{(\d*)(?:,(\d*))?\}\??")  # {m}, {m,}, {m,n}, {,n}, lazy or not
_LOOKAROUNDS = ("(?<=", "(?<!", "(?=", "(?!")
MAX_MEMORY = 256 << 20  # RE2's budget for the compiled set and its lazily built DFA


def prefilter_bytes(text: str) -> bytes:
    """The text as the set sees it: one byte per character, offsets kept, non-ASCII as `?`."""
    return text.encode("ascii", "replace")


def translate(source: str, max_kept_repeat: int = 0, utf8: bool = False) -> str | None:
    """An RE2 pattern matching a superset of what `source` matches, or None if it cannot tell.

    `utf8`: for a set that reads UTF-8 text (non-ASCII literals are kept; see the module notes).
    """
    high = _HIGH_UTF8 if utf8 else _HIGH
    out: list[str] = []
    groups: list[bool] = []  # for each open group: did it open where a match starts?
    at_start = True  # nothing consumed yet on this branch of the match
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if not ch.isascii() and not utf8:
            return None
        if source.startswith(_LOOKAROUNDS, i):
            end = _closing(source, i)
            if end < 0:
                return None
            if at_start and source.startswith("(?<=", i):  # context before the match: same texts match
                inner = translate(source[i + 4:end], max_kept_repeat, utf8)
                if inner is None:
                    return None
                out.append(f"(?:{inner})")
            i = end + 1
            continue
        if ch == "(":
            if source.startswith("(?", i) and not source.startswith(("(?:", "(?P<"), i):
                return None  # inline flags, atomic groups, conditionals...
            groups.append(at_start)
            out.append(ch)
            i += 1
            continue
        if ch == "|":
            at_start = groups[-1] if groups else True
            out.append(ch)
            i += 1
            continue
        if ch == ")":
            if not groups:
                return None
            groups.pop()
        at_start = False
        if ch == "\\":
            piece = _escape(source[i + 1:i + 2], in_class=False, negated=False, high=high)
            if piece is None:
                return None
            out.append(piece)
            i += 2
        elif ch == "[":
            i, piece = _class(source, i, high)
            if piece is None:
                return None
            out.append(piece)
        elif ch == "{" and (m := _REPEAT.match(source, i)) is not None:
            out.append(_repeat(m, max_kept_repeat))
            i = m.end()
        else:
            out.append(r"\{" if ch == "{" else ch)
            i += 1
    return "".join(out)


def _repeat(m: re.Match[str], max_kept: int) -> str:
    """`{m,n}` as RE2 text: kept when its bound is at most `max_kept`, else widened to `*` or `+`."""
    low, comma, high = m.group(1), "," in m.group(), m.group(2)
    bound = int(high) if comma and high else int(low) if not comma and low else None
    if bound is not None and bound <= max_kept:
        return f"{{{low or 0},{high}}}" if comma else f"{{{low}}}"
    return "+" if low not in ("", "0") else "*"


def _escape(letter: str, in_class: bool, negated: bool, high: str = _HIGH) -> str | None:
    if letter == "":
        return None
    if letter in _CLASS_ESCAPES:
        body = _CLASS_ESCAPES[letter] + ("" if negated else high)
        return body if in_class else f"[{body}]"
    if letter in _NEGATED_ESCAPES:
        return None if in_class else _NEGATED_ESCAPES[letter]
    if letter in "bB":
        return None if in_class else ""
    if letter.isalnum() and letter not in _PLAIN_ESCAPES:
        return None  # \u...., \p{..}, \A, back-references: not worth translating
    return "\\" + letter


def _class(source: str, start: int, high: str = _HIGH) -> tuple[int, str | None]:
    """Translate the character class opening at `start`; (index after it, RE2 text or None).

    A negated class must keep accepting `?` (it may stand for a character the class accepts); in
    UTF-8 mode non-ASCII characters are themselves, and may appear in the class.
    """
    utf8 = high != _HIGH
    i = start + 1
    negated = source.startswith("^", i)
    i += negated
    parts = ["[^" if negated else "["]
    if source.startswith("]", i):
        parts.append(r"\]")
        i += 1
    while i < len(source) and source[i] != "]":
        ch = source[i]
        if (not ch.isascii() and not utf8) or ch == "[":
            return i, None
        if ch == "\\":
            piece = _escape(source[i + 1:i + 2], in_class=True, negated=negated, high=high)
            if piece is None:
                return i, None
            parts.append(piece)
            i += 2
        else:
            parts.append(ch)
            i += 1
    if i >= len(source):
        return i, None
    parts.append("]")
    text = "".join(parts)
    if negated and not utf8 and re.fullmatch(text, "?") is None:
        text = f"(?:{text}|\\?)"
    return i + 1, text


def _closing(source: str, start: int) -> int:
    """Index of the parenthesis closing the group opened at `start`, or -1."""
    depth, i, in_class = 0, start, False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


class Prefilter:
    """An RE2 set over translated patterns: `candidates(data)` names the ones that may match."""

    def __init__(self, sources: Mapping[str, str], flags: str = "sm",
                 exact_repeats: Mapping[str, int] | None = None, utf8: bool = False) -> None:
        """`exact_repeats`: for some ids, the largest repeat bound to keep (see `translate`).

        `utf8`: the set reads UTF-8 bytes (`text.encode("utf-8", "surrogatepass")`), not `prefilter_bytes`.
        """
        options = re2.Options()
        options.encoding = re2.Options.Encoding.UTF8 if utf8 else re2.Options.Encoding.LATIN1
        options.max_mem = MAX_MEMORY
        options.log_errors = False
        self._set = re2.Set.SearchSet(options)
        self._set.Add("")  # matches every text: an answer without it means RE2 gave up (out of memory)
        self._ids: list[str] = [""]
        always: set[str] = set()
        for pid, source in sources.items():
            translated = translate(source, (exact_repeats or {}).get(pid, 0), utf8)
            if translated is None:
                always.add(pid)
                continue
            try:
                self._set.Add(f"(?{flags}){translated}")
            except re2.error:
                always.add(pid)
                continue
            self._ids.append(pid)
        self.always = frozenset(always)
        self.every = frozenset(sources)
        self._set.Compile()

    def candidates(self, data: bytes) -> frozenset[str]:
        """The ids of the patterns that may match the text `data` (see `prefilter_bytes`).

        If RE2 could not answer, every id is a candidate: the exact matching then does all the work.
        """
        found = self._set.Match(data)
        if not found or 0 not in found:
            return self.every
        return self.always.union(self._ids[i] for i in found if i)
