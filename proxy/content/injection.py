"""Prompt-injection phrasing, matched deterministically on folded text.

One RE2 pass (`prefilter`) names the patterns that can possibly match; only those are tried, each
with `regex.match` where one of its (deliberately uncommon) first words occurs. Texts up to 64 KiB
are matched whole; in longer ones, windows open around those first words and around markup matches.
Each family that fires becomes one finding naming its patterns. A text is reported when its
families add up to 2: one strong pattern, or weak signals from two families (a family counts 2 if a
strong pattern fired in it, else 1).

Beside the phrasing families, `injection_agentic` scores instructions addressed to the agent by their
parts (addressee, action, tool syntax, secrets and destinations, role change, secrecy) in several
languages: family `agent_instruction`, weighed like the others.

Benign context lowers weights (`injection_context`): a match on a quoted reply line or a changelog
entry counts one less, an example inside text about prompt injection not at all; an override whose
object is an ordinary thing ("ignore my previous message", "ignore previous commit") is no override.
"""

from __future__ import annotations

from collections.abc import Container

import regex

from proxy.content import injection_agentic
from proxy.content.injection_context import ABOUT, NONE, Context
from proxy.content.injection_markup import MARKUP_IDS, MARKUP_REGEX, comment_instructs, names_a_tag
from proxy.content.injection_patterns import BY_FIRST, CHAINING, OVERRIDE, PATTERNS, Pattern
from proxy.content.model import ATLAS_INJECTION, ATLAS_TOOL_INVOCATION, Hit, clip
from proxy.content.prefilter import prefilter_bytes
from proxy.types import Severity

WHOLE_TEXT = 65536  # texts up to this size are matched whole; longer ones in windows around first words
BEFORE, AFTER = 200, 280  # window around a first word, in characters
MAX_WINDOWS_PER_WORD = 48  # beyond this the whole text is matched in chunks (still linear)
MAX_MARKUP = 256
CHUNK, OVERLAP = 4096, 400
COMMENT_LIMIT = 1200
NOTICE = "[content removed by Drawbridge: prompt injection]"
GLUED = (("ignor", "ignore"), ("disregard", "disregard"))
MARKUP = "injection.markup"  # the gate name of MARKUP_REGEX in `triggers`
_LETTERS_ONLY = bytes(c if 97 <= c <= 122 else 32 for c in range(256))

Matched = dict[str, tuple[str, int, str]]  # pattern id → (family, weight, matched text)
Window = tuple[int, int]

# "ignore my previous message", "ignore previous commit": an override verb whose object is an ordinary thing
_BENIGN_OBJECT = regex.compile(
    r"(?:ignor(?:e|ing)|disregard(?:ing)?|forget(?:ting)?|neglect|nevermind|never\s+mind|overrid(?:e|ing)|"
    r"bypass(?:ing)?|attention\s+to|heed\s+to)\s+(?:(?:all|any|of|my|our|the|this|that|these|those|your|his|her|"
    r"their)\s+){0,3}(?:previous|prior|last|earlier|above|preceding|former|old|original|initial|other|current|"
    r"existing)\s+(?:[`'\"]?[\w./:=-]+[`'\"]?\s+)??(?:messages?|e-?mails?|mails?|commits?|versions?|releases?|"
    r"repl(?:y|ies)|comments?|values?|options?|arguments?|args|flags?|parameters?|params|outputs?|lines?|tags?|paths?|"
    r"director(?:y|ies)|dirs?|env(?:ironment)?s?|variables?|markers?|definitions?|declarations?|requirements?|hooks?|"
    r"plugins?|fixtures?|tests?|exceptions?|locations?|headers?|cookies?|sessions?|caches?|logs?|installs?|"
    r"installations?|packages?|dependenc(?:y|ies)|wheels?|builds?|"
    r"posts?|notes?|letters?|invoices?|orders?|config(?:uration)?s?|settings?|changes?|patch(?:es)?|drafts?|"
    r"attachments?|links?|calls?|voicemails?|meetings?|invit(?:e|ation)s?|texts?|sms|notifications?|reminders?|"
    r"warnings?|errors?|results?|builds?|runs?|steps?|pages?|slides?|files?|quotes?|estimates?|bills?|statements?|"
    r"payments?|entries|entry|tickets?|issues?|pull requests?|prs?|branch(?:es)?|migrations?|rows?|records?|"
    r"sections?|paragraphs?|chapters?|emails?)\b(?!\s+(?:instructions?|prompts?|rules|directions|directives|"
    r"guidelines|commands?|orders?)\b)")

# "override CSS stylesheet rules", "ignore the lint rules": an object qualified by a technical domain is a
# program's rules or settings, not the reader's instructions
_TECHNICAL_OBJECT = regex.compile(
    r"(?:ignor|disregard|forget|overrid|bypass|neglect)\w*\s+[^.!?\n]{0,30}?\b(?:css|style|stylesheet|html|"
    r"lint(?:er|ing)?|firewall|iptables|routing|url|rewrite|validation|formatting|format|selector|sorting|naming|"
    r"parsing|escaping|quoting|indentation|whitespace|syntax|grammar|mapping|merge|cache|caching|build|"
    r"compiler|import|flake8|pylint|ruff|mypy|eslint|prettier|ssl|tls|cors|csp|proxy|dns|mime|locale|install(?:ation)?|"
    r"setup|packaging|upgrade|migration|deployment|filter|matching|retry|redirect|sandbox)"
    r"\s+(?:[\w-]+\s+)?(?:rules?|settings?|commands?|directives?|polic(?:y|ies)|constraints?|restrictions?|"
    r"instructions?|guidelines?|options?)\b")

class _Matches:
    """What matched so far; a match discounted by its context stays open to a full-weight one later."""

    def __init__(self, low: str, context: Context) -> None:
        self.low = low
        self.context = context
        self.found: Matched = {}
        self.soft: set[str] = set()

    def open(self, pid: str) -> bool:
        return pid not in self.found or pid in self.soft

    def add(self, pid: str, family: str, weight: int, start: int, end: int) -> None:
        level = self.context.level(start, end)
        if level >= ABOUT or weight - level <= 0:
            return
        if level == NONE:
            self.found[pid] = (family, weight, self.low[start:end])
            self.soft.discard(pid)
        elif pid not in self.found or self.found[pid][1] < weight - level:
            self.found[pid] = (family, weight - level, self.low[start:end])
            self.soft.add(pid)


def _chunks(n: int) -> list[Window]:
    return [(s, min(n, s + CHUNK + OVERLAP)) for s in range(0, n, CHUNK)]


def _markup(low: str, matched: _Matches) -> list[Window] | None:
    """Record markup matches; windows around them (None: too many, match the whole text)."""
    n = len(low)
    spans: list[Window] = []
    for count, m in enumerate(MARKUP_REGEX.finditer(low)):
        if count >= MAX_MARKUP:
            return None
        pid, family, weight = MARKUP_IDS[int((m.lastgroup or "m0")[1:])]
        if weight == 0:  # an HTML comment: look inside it
            close = low.find("-->", m.end(), m.end() + COMMENT_LIMIT)
            content = low[m.end():close if close >= 0 else m.end() + COMMENT_LIMIT]
            if not comment_instructs(content):
                continue
            pid, weight = "markup.instructing_comment", 2
        elif names_a_tag(low, m.start(), m.end()):
            continue
        if matched.open(pid):
            matched.add(pid, family, weight, m.start(), m.end())
        spans.append((max(0, m.start() - BEFORE), min(n, m.end() + AFTER)))
    return spans


def _windows(low: str, spans: list[Window], words: set[str]) -> list[Window]:
    """Windows around each occurrence of `words` (and the markup spans), merged."""
    n = len(low)
    for word in sorted(words):
        pos = low.find(word)
        count = 0
        while pos >= 0:
            count += 1
            if count > MAX_WINDOWS_PER_WORD:
                return _chunks(n)
            spans.append((max(0, pos - BEFORE), min(n, pos + len(word) + AFTER)))
            pos = low.find(word, pos + len(word))
    spans.sort()
    merged: list[Window] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _words(raw: bytes, start: int, end: int) -> list[str]:
    """The a-z words of a window (non-ASCII letters split words, which only ever loses a match)."""
    return raw[start:end].translate(_LETTERS_ONLY).decode("latin-1").split()


def match(low: str, fired: Container[str] | None = None, context: Context | None = None) -> Matched:
    """Every pattern that matches the folded text, with the text it matched and its weight in context.

    `fired` names the patterns that can match (from `triggers.fired`); None tries every pattern.
    """
    matched = _Matches(low, context or Context(low))
    markup = _markup(low, matched) if fired is None or MARKUP in fired else []
    candidates = PATTERNS if fired is None else [p for p in PATTERNS if p.id in fired]
    if not candidates:
        return matched.found
    raw = prefilter_bytes(low)  # one byte per character: offsets kept
    n = len(low)
    if n <= WHOLE_TEXT:
        windows: list[Window] = [(0, n)]
    elif markup is None:
        windows = _chunks(n)
    else:
        windows = _windows(low, markup, {word for p in candidates for word in p.first} | {s for s, _ in GLUED})
    ids = {p.id for p in candidates}
    for start, end in windows:
        _match_window(low, raw, start, end, ids, matched)
    return matched.found


def _match_window(low: str, raw: bytes, start: int, end: int, ids: set[str], matched: _Matches) -> None:
    words = set(_words(raw, start, end))
    for word in words.intersection(BY_FIRST):
        patterns = [p for p in BY_FIRST[word] if p.id in ids and matched.open(p.id)
                    and not any(group.isdisjoint(words) for group in p.also)]
        pos = low.find(word, start, end)
        while patterns and pos >= 0:
            after = pos + len(word)
            # a whole word, except that a non-ASCII letter may follow (words are a-z runs: "esque|ça")
            if (pos == 0 or not low[pos - 1].isalpha()) and not "a" <= low[after:after + 1] <= "z":
                _try(low, pos, end, patterns, matched)
                patterns = [p for p in patterns if matched.open(p.id)]
            pos = low.find(word, after, end)
    _glued(low, start, end, ids, matched)


def _try(low: str, pos: int, end: int, patterns: list[Pattern], matched: _Matches) -> None:
    for pattern in patterns:
        if pattern.guard and not _guard_holds(low, pos, pattern.guard):
            continue
        m = pattern.regex.match(low, pos, end)
        if m is None:
            continue
        if pattern.family == OVERRIDE and (_BENIGN_OBJECT.match(low, pos, min(len(low), m.end() + 60)) is not None
                                           or _TECHNICAL_OBJECT.match(low, pos, m.end()) is not None
                                           or m.group().rsplit(None, 1)[-1].startswith(("`", "'", '"'))):
            # (the last: the object opens a code literal, "override the ``Command.autodetector``")
            continue
        if pattern.family == OVERRIDE and _nominal(low, pos, m):
            continue
        matched.add(pattern.id, pattern.family, pattern.weight, m.start(), m.end())


# "in ignore directives", "the ignore list", "``ignore-paths``", "--ignore": the verb named, not said
_NOUN_BEFORE = regex.compile(r"(?:\b(?:the|an?|in|of|for|with|these|those|such|its|their)\s+|[/-])\Z")
_GLUED_AFTER = regex.compile(r"[a-z]+[_-]")
_NEW_DIRECTIVES = regex.compile(r"directives?\b")


def _nominal(low: str, pos: int, m: regex.Match[str]) -> bool:
    """An override verb used as a noun or a name, or "new directives" in the middle of a sentence."""
    if _NOUN_BEFORE.search(low, max(0, pos - 8), pos) is not None or _GLUED_AFTER.match(low, pos) is not None:
        return True
    if _NEW_DIRECTIVES.match(low, m.start()) is not None:
        line = low.rfind("\n", 0, m.start()) + 1
        return len(low[line:m.start()].split()) > 3
    return False


def _guard_holds(low: str, pos: int, guard: str) -> bool:
    """Cheap context checks that let most occurrences skip the regex call."""
    if guard == "bracket":
        return low[max(0, pos - 5):pos].rstrip().endswith(("[", "[/"))
    line = low.rfind("\n", max(0, pos - 12), pos) + 1
    return (line > 0 or pos < 12) and not low[line:pos].strip(" \t>*#-")


def _glued(low: str, start: int, end: int, ids: set[str], matched: _Matches) -> None:
    """Override verbs glued to the previous word ("...USAIgnore your previous...") still count."""
    for stem, word in GLUED:
        pos = low.find(stem, start, end)
        while pos >= 0:
            if pos > 0 and low[pos - 1].isalpha():
                _try(low, pos, end, [p for p in BY_FIRST.get(word, ()) if p.id in ids and matched.open(p.id)],
                     matched)
            pos = low.find(stem, pos + len(stem), end)


def score(matched: Matched) -> dict[str, int]:
    """Family → score (2 if a strong pattern fired in it, else 1)."""
    families: dict[str, int] = {}
    for family, weight, _ in matched.values():
        families[family] = max(families.get(family, 0), weight)
    return families


def scan(low: str, fired: Container[str] | None = None) -> list[Hit]:
    """Findings for prompt injection in folded text (see `normalize.fold`; `fired` as for `match`)."""
    context = Context(low)
    matched = match(low, fired, context)
    agentic = injection_agentic.scan(low, fired, context)
    if agentic is not None:
        for rule in agentic.rules:
            matched[f"agent.{rule}"] = (injection_agentic.FAMILY, agentic.weight, low[agentic.start:agentic.end])
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
