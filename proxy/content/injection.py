"""Prompt-injection phrasing, matched deterministically on folded text.

Texts up to 64 KiB are matched whole; in longer ones, gate words (a handful of `str.find` passes)
and markup matches open windows. Each pattern is tried only where one of its (deliberately
uncommon) first words occurs, with `regex.match` at that position. Each family that fires becomes one
finding naming its patterns. A text is reported when its families add up to 2: one strong pattern,
or weak signals from two families (a family counts 2 if a strong pattern fired in it, else 1).
"""

from __future__ import annotations

from proxy.content.injection_markup import MARKUP_IDS, MARKUP_REGEX, comment_instructs
from proxy.content.injection_patterns import ALL_FAMILIES, BY_FIRST, CHAINING, CORE_GATES, FIRST_WORDS, GATES
from proxy.content.model import ATLAS_INJECTION, ATLAS_TOOL_INVOCATION, Hit, clip
from proxy.types import Severity

WHOLE_TEXT = 65536  # texts up to this size are matched whole; longer ones in windows around gate words
LARGE_TEXT = 262144  # beyond this only the core gates are searched (see README: throughput vs. coverage)
BEFORE, AFTER = 200, 280  # window around a gate word, in characters
MAX_WINDOWS_PER_GATE = 48  # beyond this the whole text is matched in chunks (still linear)
MAX_MARKUP = 256
CHUNK, OVERLAP = 4096, 400
COMMENT_LIMIT = 1200
NOTICE = "[content removed by Drawbridge: prompt injection]"
GLUED = (("ignor", "ignore"), ("disregard", "disregard"))
_LETTERS_ONLY = bytes(c if 97 <= c <= 122 else 32 for c in range(256))

Matched = dict[str, tuple[str, int, str]]  # pattern id → (family, weight, matched text)


Window = tuple[int, int, frozenset[str]]


def _chunks(n: int) -> list[Window]:
    return [(s, min(n, s + CHUNK + OVERLAP), ALL_FAMILIES) for s in range(0, n, CHUNK)]


def _windows(low: str, matched: Matched) -> list[Window]:
    n = len(low)
    spans: list[Window] = []
    for count, m in enumerate(MARKUP_REGEX.finditer(low)):
        if count >= MAX_MARKUP:
            return _chunks(n)
        pid, family, weight = MARKUP_IDS[int((m.lastgroup or "m0")[1:])]
        if weight == 0:  # an HTML comment: look inside it
            close = low.find("-->", m.end(), m.end() + COMMENT_LIMIT)
            content = low[m.end():close if close >= 0 else m.end() + COMMENT_LIMIT]
            if not comment_instructs(content):
                continue
            pid, weight = "markup.instructing_comment", 2
        matched.setdefault(pid, (family, weight, m.group()))
        spans.append((max(0, m.start() - BEFORE), min(n, m.end() + AFTER), ALL_FAMILIES))
    if n <= WHOLE_TEXT:
        return [(0, n, ALL_FAMILIES)]
    for gate, families in GATES if n <= LARGE_TEXT else GATES[:CORE_GATES]:
        pos = low.find(gate)
        count = 0
        while pos >= 0:
            count += 1
            if count > MAX_WINDOWS_PER_GATE:
                return _chunks(n)
            spans.append((max(0, pos - BEFORE), min(n, pos + AFTER), families))
            pos = low.find(gate, pos + len(gate))
    spans.sort(key=lambda w: w[0])
    merged: list[Window] = []
    for s, e, fams in spans:
        if merged and s <= merged[-1][1]:
            ps, pe, pf = merged[-1]
            merged[-1] = (ps, max(e, pe), pf | fams)
        else:
            merged.append((s, e, fams))
    return merged


def _words(raw: bytes, start: int, end: int) -> list[str]:
    """The a-z words of a window (non-ASCII letters split words, which only ever loses a match)."""
    return raw[start:end].translate(_LETTERS_ONLY).decode("ascii").split()


def match(low: str) -> Matched:
    """Every pattern that matches the folded text, with the text it matched."""
    matched: Matched = {}
    raw = low.encode("ascii") if low.isascii() else low.encode("ascii", "replace")  # offsets kept
    for start, end, families in _windows(low, matched):
        words = set(_words(raw, start, end))
        for word in FIRST_WORDS.intersection(words):
            patterns = [p for p in BY_FIRST[word] if p.family in families and p.id not in matched
                        and not any(group.isdisjoint(words) for group in p.also)]
            pos = low.find(word, start, end)
            while patterns and pos >= 0:
                after = pos + len(word)
                if (pos == 0 or not low[pos - 1].isalpha()) and not low[after:after + 1].isalpha():
                    for pattern in patterns:
                        if pattern.guard and not _guard_holds(low, pos, pattern.guard):
                            continue
                        m = pattern.regex.match(low, pos, end)
                        if m is not None:
                            matched[pattern.id] = (pattern.family, pattern.weight, m.group())
                    patterns = [p for p in patterns if p.id not in matched]
                pos = low.find(word, after, end)
        _glued(low, start, end, matched)
    return matched


def _guard_holds(low: str, pos: int, guard: str) -> bool:
    """Cheap context checks that let most occurrences skip the regex call."""
    if guard == "bracket":
        return low[max(0, pos - 5):pos].rstrip().endswith(("[", "[/"))
    line = low.rfind("\n", max(0, pos - 12), pos) + 1
    return (line > 0 or pos < 12) and not low[line:pos].strip(" \t>*#-")


def _glued(low: str, start: int, end: int, matched: Matched) -> None:
    """Override verbs glued to the previous word ("...USAIgnore your previous...") still count."""
    for stem, word in GLUED:
        pos = low.find(stem, start, end)
        while pos >= 0:
            if pos > 0 and low[pos - 1].isalpha():
                for pattern in BY_FIRST.get(word, ()):
                    if pattern.id not in matched:
                        m = pattern.regex.match(low, pos, end)
                        if m is not None:
                            matched[pattern.id] = (pattern.family, pattern.weight, m.group())
            pos = low.find(stem, pos + len(stem), end)


def score(matched: Matched) -> dict[str, int]:
    """Family → score (2 if a strong pattern fired in it, else 1)."""
    families: dict[str, int] = {}
    for family, weight, _ in matched.values():
        families[family] = max(families.get(family, 0), weight)
    return families


def scan(low: str) -> list[Hit]:
    """Findings for prompt injection in folded text (see `normalize.fold`)."""
    matched = match(low)
    families = score(matched)
    total = sum(families.values())
    if total < 2:
        return []
    severity = Severity.SEV2 if total >= 4 else Severity.SEV3
    hits = []
    for family in families:
        ids = sorted(pid for pid, (fam, _, _) in matched.items() if fam == family)
        first = matched[ids[0]][2]
        atlas = ATLAS_TOOL_INVOCATION if family == CHAINING else ATLAS_INJECTION
        hits.append(Hit(f"injection.{family}", severity,
                        f"prompt injection ({family.replace('_', ' ')}): {', '.join(ids)}; score {total}",
                        clip(" ".join(first.split()), 100), atlas, whole=True, replacement=NOTICE))
    return hits
