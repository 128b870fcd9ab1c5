# ruff: noqa: RUF001 - typographic dashes and quotes are the subject matter here

"""Benign context that lowers an injection score: quoted replies, commit logs and changelogs, and text
about prompt injection itself.

`Context.level(start, end)` says how much a match at that span is discounted:

- 0: none;
- 1 (QUOTED): the match sits on a quoted line of a reply ("> ..." after "On ... wrote:", or below
  "-----Original Message-----"), or on an entry line of a commit log / changelog (or a line it wraps
  onto). One signal there no longer fires alone; an injection with several signals still does.
- 2 (ABOUT): the text talks about prompt injection ("prompt injection", "an attacker may write") and,
  within `_NEAR` characters of those words, the match is an example of it: inside quotation marks, in
  a sentence that introduces an example ("such as", "for example", "an attacker could write"), under
  such a sentence ending in ":", or in a fenced code block. Such a match is not counted. (A payload
  far from such words, say in a résumé that mentions the field, still counts.)

Everything is computed lazily, once per text, and only for texts in which something matched.
"""

from __future__ import annotations

import bisect
from functools import cached_property

import re2
import regex

from proxy.content.prefilter import translate

NONE, QUOTED, ABOUT = 0, 1, 2
_SPAN = 300  # how far around a match quotation marks and cues are looked for (same line only)
_NEAR = 600  # how far from words about prompt injection an example of it may be
_MAX_CONTINUATION = 8  # lines of one changelog entry wrapped below its bullet

_REPLY_HEADER = regex.compile(
    r"^[ \t>]*(?:on\b[^\n]{0,200}?\bwrote\s*:|am\b[^\n]{0,200}?\bschrieb[^\n]{0,60}?:|le\b[^\n]{0,200}?\ba "
    r"écrit\s*:|el\b[^\n]{0,200}?\bescribió\s*:|il\b[^\n]{0,200}?\bha scritto\s*:|em\b[^\n]{0,200}?\bescreveu\s*:"
    r"|[^\n]{0,60}?\d{4}[^\n]{0,80}?(?:пишет|написал\w*)\s*:|[^\n]{0,120}?(?:写道|のメッセージ:|さんは書きました))",
    regex.MULTILINE)
_FORWARD_HEADER = regex.compile(
    r"^[ \t>]*(?:-{2,}\s*(?:original message|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht|"
    r"message d'origine|message transféré|mensaje original|mensaje reenviado|messaggio originale|messaggio "
    r"inoltrato|mensagem original|mensagem encaminhada|исходное сообщение|пересылаемое сообщение|原始邮件|"
    r"元のメッセージ)\s*-{2,}|from:[^\n]{1,200}\n[ \t]*(?:sent|date):)", regex.MULTILINE)
_CHANGELOG = regex.compile(  # commit logs, Keep-a-Changelog / NEWS / HISTORY files, Debian changelogs
    r"^[ \t]*(?:commit [0-9a-f]{7,40}\b|signed-off-by:|co-authored-by:|merge (?:pull request|branch|remote-tracking)|"
    r"revert\b|(?:fix|feat|chore|docs|refactor|revert|test|tests|build|ci|perf|style|deps)(?:\([^)\n]{1,40}\))?!?:\s|"
    r"#{1,4}\s*\[?v?\d+\.\d+(?:\.\d+)?\b|#{1,4}\s*(?:changelog|change log|release notes|unreleased|what's new|"
    r"fixed|added|changed|removed|deprecated|security|bug ?fixes|features|improvements|breaking changes)\b|"
    r"(?:version\s+|release\s+|v)?\d+\.\d+(?:\.\d+){0,3}[a-z0-9.+~-]*\s*(?:\(|\[|-|–|:|$)|"
    r"[a-z0-9][a-z0-9.+-]* \([^()\s]+\) [a-z-]+(?: [a-z-]+)*; urgency=|-- [^\n<]{1,80}<[^\n>]{1,80}>|"
    r"[0-9a-f]{7,12}\s+(?:\([^)\n]*\)\s+)?[a-z]|"
    # GNU ChangeLog: a dated header with a version or an author ("2023-04-09 Version 1.1.2", "2019-12-31  Jane
    # Doe  <jane@example.org>")
    r"\d{4}-\d\d-\d\d[ \t]+(?:version[ \t]+v?\d+\.\d+|[^\n<]{1,80}<[^\s@>]{1,64}@[^\s>]{1,100}>)|"
    # reStructuredText: an underlined version ("pytest 7.3.0 (2023-04-08)" over "====") or section of one
    r"(?:[a-z][\w.-]{0,40} )?v?\d+\.\d+(?:\.\d+){0,3}[^\n]{0,40}\r?\n[ \t]*(?:={3,}|-{3,}|~{3,}|\^{3,})[ \t]*\r?$|"
    r"(?:bug ?fixes|features|improvements|deprecations|removals|breaking changes|trivial/internal changes|"
    r"improved documentation|security|misc)\r?\n[ \t]*(?:-{3,}|~{3,}|\^{3,})[ \t]*\r?$)|"
    r"\b(?:changelog|change log|release notes)\b", regex.MULTILINE)
# A piece of a changelog without its version headings: entries that cite issues or pull requests, two or more
# (`(#4123)`, `:issue:`4321``, `gh-123`, `bpo-4567`, `Closes: #987`, `(LP: #1888583)`); RE2, linear.
_REFERENCE = (r"(?:\(#\d{1,6}\)|\[#\d{1,6}\]|\(gh-\d{1,6}\)|"
              r":(?:issue|pr|gh|bug|user|commit|ghissue|ghpull|cve):`[^`\n]{1,60}`|\bbpo-\d{3,6}|\(lp: ?#\d{3,9}\)|"
              r"\bcloses:? #\d{1,7}|\bfixes #\d{1,7})")
_REFERENCED_ENTRIES = re2.compile(rf"(?sm)^[ \t]*(?:[-*+]|\d+\.)[ \t].*?{_REFERENCE}.*?{_REFERENCE}".encode())
_ENTRY_LINE = regex.compile(
    r"[ \t]*(?:[-*+]\s|\d+\.\s|revert\b|(?:fix|feat|chore|docs|refactor|revert|test|tests|build|ci|perf|style|deps)"
    r"(?:\([^)\n]{1,40}\))?!?:|[0-9a-f]{7,12}\s|\s{3}\S|merge\b)")
_ABOUT = regex.compile(  # words that only text about prompt injection uses (not "attack" alone: injections say it)
    r"prompt[ -]?injections?|(?:indirect|direct) (?:prompt )?injections?|injection attacks?|jailbreak (?:attacks?|"
    r"attempts?|prompts?)|adversarial (?:prompts?|instructions?)|malicious (?:prompts?|instructions?)|injected "
    r"(?:instructions?|prompts?)|\battackers? (?:may|might|could|can|would|often|typically|usually|try to|tries to)\b|"
    r"prompt[- ]?hacking|\bllm01\b|injection de prompt|injections? d'invite|inyecci[oó]n de (?:prompts?|"
    r"instrucciones)|iniezione di prompt|inje[cç][aã]o de prompt|提示(?:词)?注入|プロンプトインジェクション|"
    r"промпт-инъекц\w*|инъекци\w* (?:промпт|подсказ)\w*")
_CUE = regex.compile(
    r"\b(?:for example|for instance|e\.g\.|such as|examples? (?:include|are|is|of)|example:|known as|(?:phrases?|"
    r"strings?|text|instructions?|commands?|prompts?|payloads?) like|(?:an? |the |malicious )?attackers? (?:may|might|"
    r"could|can|would|will|often|typically|usually|try|tries|use|uses|write|writes|insert|inserts|hide|hides|embed|"
    r"embeds|include|includes|add|adds)|z\.b\.|zum beispiel|beispielsweise|par exemple|por ejemplo|per esempio|ad "
    r"esempio|por exemplo|например)(?!\w)|例如|比如|例えば|たとえば")
_FENCE = regex.compile(r"```")
_PAIRED = (('"', '"'), ("`", "`"), ("«", "»"), ("„", '"'), ("「", "」"), ("『", "』"))
_SINGLE_OPEN = regex.compile(r"(?:^|(?<=[^\w]))'(?=\w)")
_SINGLE_CLOSE = regex.compile(r"(?<=[\w.!?])'(?!\w)")


class _Search:
    """A pattern searched with RE2 first (its superset, on UTF-8): most texts have no match at all."""

    def __init__(self, pattern: regex.Pattern[str]) -> None:
        self.pattern = pattern
        translated = translate(pattern.pattern, utf8=True)
        if translated is None:  # pragma: no cover - the patterns here all translate
            raise ValueError(f"cannot translate {pattern.pattern!r}")
        options = re2.Options()
        options.max_mem = 16 << 20
        self._gate = re2.compile(f"(?sm){translated}".encode(), options)

    def __call__(self, low: str, data: bytes) -> regex.Match[str] | None:
        if self._gate.search(data) is None:
            return None
        return self.pattern.search(low)


class Context:
    """The benign context of one folded text (see the module notes)."""

    def __init__(self, low: str) -> None:
        self.low = low

    @cached_property
    def _data(self) -> bytes:
        return self.low.encode("utf-8", "surrogatepass")

    @cached_property
    def _reply_at(self) -> int:
        m = _SEARCH_REPLY(self.low, self._data)
        return m.end() if m else -1

    @cached_property
    def _forward_at(self) -> int:
        m = _SEARCH_FORWARD(self.low, self._data)
        return m.end() if m else -1

    @cached_property
    def _changelog(self) -> bool:
        return (_SEARCH_CHANGELOG(self.low, self._data) is not None
                or _REFERENCED_ENTRIES.search(self._data) is not None)

    @cached_property
    def _about(self) -> bool:
        return _SEARCH_ABOUT(self.low, self._data) is not None

    @cached_property
    def _about_at(self) -> list[int]:
        """Where the text speaks about prompt injection (start offsets)."""
        return [m.start() for m in _ABOUT.finditer(self.low)] if self._about else []

    @cached_property
    def _fences(self) -> list[int]:
        return [m.start() for m in _FENCE.finditer(self.low)] if self._about else []

    @cached_property
    def active(self) -> bool:
        """Is there any benign context at all? (If not, every level is NONE.)"""
        return self._about or self._reply_at >= 0 or self._forward_at >= 0 or self._changelog

    def _line_start(self, pos: int) -> int:
        return self.low.rfind("\n", 0, pos) + 1

    def level(self, start: int, end: int) -> int:
        """How much a match at [start, end) is discounted: NONE, QUOTED or ABOUT."""
        if not self.active:
            return NONE
        if self._about and self._about_example(start, end):
            return ABOUT
        line = self._line_start(start)
        if self._reply_at >= 0 and start >= self._reply_at and self.low.startswith(">", line + _indent(self.low, line)):
            return QUOTED
        if 0 <= self._forward_at <= start:
            return QUOTED
        if self._changelog and (_ENTRY_LINE.match(self.low, line) is not None or self._continues_entry(line)):
            return QUOTED
        return NONE

    def _continues_entry(self, line: int) -> bool:
        """Is the line an indented continuation of a changelog entry ("- Fix ...\n  ... wrapped text")?"""
        low = self.low
        for _ in range(_MAX_CONTINUATION):
            if not low.startswith(("  ", "\t"), line) or line == 0:
                return False
            above = low.rfind("\n", 0, line - 1) + 1
            if not low[above:line].strip():
                return False  # a blank line ends the entry
            if _ENTRY_LINE.match(low, above) is not None:
                return True
            line = above
        return False

    def _about_example(self, start: int, end: int) -> bool:
        low = self.low
        near = bisect.bisect_left(self._about_at, start - _NEAR)
        if near >= len(self._about_at) or self._about_at[near] > end + _NEAR:
            return False  # an example is given next to the words that say what it is
        line = self._line_start(start)
        begin = max(line, start - _SPAN)
        stop = low.find("\n", end)
        stop = min(len(low) if stop < 0 else stop, end + _SPAN)
        if _quoted(low, begin, start, end, stop) or _CUE.search(low, begin, end) is not None:
            return True
        before = bisect.bisect_left(self._fences, start)
        if before % 2 == 1 and before < len(self._fences):  # inside a ``` fenced block
            return True
        # the line above (skipping blank ones) introduces an example: "... for example:"
        above_end = line - 1
        while above_end > 0 and low[above_end - 1] == "\n":
            above_end -= 1
        if above_end <= 0:
            return False
        above = low.rfind("\n", 0, above_end) + 1
        text = low[max(above, above_end - _SPAN):above_end].rstrip()
        return text.endswith(":") and _CUE.search(text) is not None


def _indent(low: str, line: int) -> int:
    i = line
    while i < len(low) and low[i] in " \t":
        i += 1
    return i - line


def _quoted(low: str, begin: int, start: int, end: int, stop: int) -> bool:
    """Is [start, end) inside quotation marks on its line?"""
    before, after = low[begin:start], low[end:stop]
    for opening, closing in _PAIRED:
        if opening == closing:
            if before.count(opening) % 2 == 1 and closing in after:
                return True
        elif before.rfind(opening) > before.rfind(closing) and closing in after:
            return True
    opened = [m.start() for m in _SINGLE_OPEN.finditer(low, begin, start)]
    if not opened:
        return False
    closed = [m.start() for m in _SINGLE_CLOSE.finditer(low, begin, start)]
    if closed and closed[-1] > opened[-1]:
        return False
    return _SINGLE_CLOSE.search(low, max(begin, end - 1), stop) is not None


_SEARCH_REPLY, _SEARCH_FORWARD, _SEARCH_CHANGELOG, _SEARCH_ABOUT = (
    _Search(_REPLY_HEADER), _Search(_FORWARD_HEADER), _Search(_CHANGELOG), _Search(_ABOUT))
