"""Instructions in a letter substitution with no key in the text (the bijection-learning attack: the agent
was taught the mapping elsewhere; each letter stands for another letter, or for a two-digit number).

Keyless, the cipher is broken the way cryptogram solvers do it: by the shape of its words. "password" is
written with its 3rd and 4th letters equal, "assistant" with the pattern a-s-s-i-s-t-a-n-t; a word with a
repeated letter fits few words of the same length. The words of an instruction to an agent come from a
small vocabulary (`VOCABULARY`), so a mapping that makes several cipher words into such words at once,
consistently and one-to-one, is the key. The text is then read with it and scanned again: it is reported
only if that reading trips a detector (`respelled.judge`), so text that only looks odd (another language,
identifiers, numbers) passes.

Cost: the RE2 gates (`TRIGGERS`) want words no language writes (five consonants in a row, before a space
or punctuation) or a run of long even-length numbers; then at most `MAX_TEXT` characters are looked at,
`MAX_WORDS` distinct words tried, with a bounded search. Deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable

import re2

from proxy.content.model import Hit, Span
from proxy.content.prefilter import prefilter_bytes
from proxy.content.respelled import Rescan, judge

MAX_TEXT = 16384  # characters of a text looked at (an instruction is short)
MAX_LINES = 8  # lines with a word no language writes, looked at
MIN_ODD = 0.2  # share of a line's words that no language writes (no vowel, or four consonants in a row)
MAX_WORDS = 32  # distinct cipher words with a repeated letter used to find the key
MIN_WORDS = 3  # cipher words the key must make into vocabulary words
MIN_SHARE = 0.5  # of the distinctive cipher words
_CONSONANTS = "bcdfghjklmnpqrstvwxz"
TRIGGERS = {
    "encoded.substitution": rf"[{_CONSONANTS}]{{5}}[a-z]*[ ,.;!?\n]",
    "encoded.digit_substitution": r"(?:(?:^|[ \n])(?:\d\d){3,}){4}",
}
VOCABULARY = frozenset((
    "ignore", "ignoring", "previous", "instructions", "instruction", "disregard", "above", "forget", "everything",
    "anything", "rules", "rule", "system", "prompt", "prompts", "developer", "mode", "reveal", "print", "output",
    "display", "show", "send", "forward", "upload", "email", "mail", "inbox", "password", "passwords", "passcode",
    "contents", "content", "file", "files", "user", "users", "assistant", "answering", "answer", "before", "after",
    "call", "tool", "tools", "function", "important", "tell", "just", "your", "you", "are", "now", "every", "given",
    "were", "from", "with", "this", "that", "into", "secret", "secrets", "token", "tokens", "credentials",
    "credential", "data", "message", "messages", "contacts", "contact", "respond", "reply", "delete", "remove",
    "execute", "command", "commands", "shell", "visit", "link", "admin", "administrator", "account", "accounts",
    "bank", "transfer", "money", "private", "server", "copy", "paste", "nothing", "only", "must", "should", "never",
    "always", "immediately", "first", "then", "also", "please", "translate", "summarize", "summary", "document",
    "documents", "text", "following", "below", "hidden", "confidential", "internal", "access", "grant", "permission",
    "permissions", "browse", "open", "download", "install", "script", "code", "database", "customer", "customers",
    "history", "conversation", "chat", "archive", "relay", "collector", "report", "notes", "note", "attached",
    "attachment", "keys", "address", "addresses", "phone", "number", "numbers", "card", "credit", "wallet",
    "without", "telling", "asking", "the", "and", "for", "what", "which", "when", "where", "there", "their", "them",
    "they", "these", "those", "have", "has", "had", "will", "would", "could", "can", "cannot", "again", "new",
    "task", "goal", "role", "pretend", "act", "acting", "behave", "simulate", "unrestricted", "filter", "filters",
    "restrictions", "policy", "policies", "safety", "guidelines", "override", "bypass", "disable", "enable",
    "access", "approve", "approved", "confirm", "confirmation", "silently", "secretly", "quietly", "directly",
    "instead", "actually", "really", "still", "right", "here",
))
_WORD = re.compile(r"[A-Za-z]+|\d+")
_ODD_WORD = re2.compile(rf"(?i)[{_CONSONANTS}]{{5}}[a-z]*[ ,.;!?\n]".encode())
_ODD = re.compile(rf"^[^aeiouy]+$|[{_CONSONANTS}]{{4}}")
_DIGIT_WORD = re.compile(r"(?:\d\d){2,}")


def _pattern(units: tuple[str, ...]) -> tuple[int, ...]:
    first: dict[str, int] = {}
    return tuple(first.setdefault(u, len(first)) for u in units)


def _index(words: Iterable[str]) -> dict[tuple[int, ...], list[str]]:
    out: dict[tuple[int, ...], list[str]] = {}
    for word in sorted(words):
        out.setdefault(_pattern(tuple(word)), []).append(word)
    return out


_BY_PATTERN = _index(VOCABULARY)


def scan(text: str, rescan: Rescan, fired: Container[str], depth: int) -> list[Hit]:
    """Findings for instructions in a keyless letter (or two-digit) substitution in `text`."""
    hits: list[Hit] = []
    head = text[:MAX_TEXT]
    if "encoded.substitution" in fired:
        words = [(m.start(), m.end(), tuple(m.group().lower())) for start, end in _odd_lines(head)
                 for m in _WORD.finditer(head, start, end) if m.group().isalpha()]
        hit = _judge("substitution", head, words, rescan, depth) if words else None
        if hit is not None:
            hits.append(hit)
    if "encoded.digit_substitution" in fired:
        words = [(m.start(), m.end(), tuple(m.group()[i:i + 2] for i in range(0, len(m.group()), 2)))
                 for m in _WORD.finditer(head) if _DIGIT_WORD.fullmatch(m.group())]
        hit = _judge("digit_substitution", head, words, rescan, depth)
        if hit is not None:
            hits.append(hit)
    return hits


def _odd_lines(text: str) -> list[Span]:
    """The lines (up to MAX_LINES) with a word no language writes where many of the words look so."""
    spans: list[Span] = []
    done = -1
    for m in _ODD_WORD.finditer(prefilter_bytes(text)):
        if m.start() < done:
            continue
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.start())
        done = end = len(text) if end < 0 else end
        words = [w for w in _WORD.findall(text, start, end) if len(w) >= 3 and w.isalpha()]
        odd = sum(_ODD.search(w.lower()) is not None for w in words)
        if len(words) >= 4 and odd >= MIN_ODD * len(words):
            spans.append((start, end))
        if len(spans) >= MAX_LINES:
            break
    return spans


def _judge(name: str, text: str, words: list[tuple[int, int, tuple[str, ...]]], rescan: Rescan,
           depth: int) -> Hit | None:
    key = solve([units for _, _, units in words])
    if key is None or (name == "substitution" and _mostly_plain(key)):
        return None
    start, end = words[0][0], words[-1][1]
    pieces, pos = [], start
    for s, e, units in words:
        pieces.append(text[pos:s])
        pieces.append("".join(key.get(u, u if u.isalpha() else "x") for u in units))  # unknown: kept as letters
        pos = e
    pieces.append(text[pos:end])
    span: Span = (start, end)
    return judge(name, text, [(span, "".join(pieces))], rescan, depth)


def _mostly_plain(key: dict[str, str]) -> bool:
    """A key that leaves most letters as they are found plain text, not a cipher."""
    return sum(cipher == plain for cipher, plain in key.items()) * 2 > len(key)


def solve(words: list[tuple[str, ...]]) -> dict[str, str] | None:
    """A one-to-one key (cipher unit -> plain letter) that makes enough of `words` vocabulary words, or None.

    Words with a repeated unit (selective shapes) find the key; the others then fill it in where exactly one
    vocabulary word fits.
    """
    distinct = list(dict.fromkeys(w for w in words if len(w) >= 4))
    selective = [w for w in distinct if len(set(w)) < len(w) and _pattern(w) in _BY_PATTERN][:MAX_WORDS]
    if len(selective) < 2:
        return None
    candidates = {w: _BY_PATTERN[_pattern(w)] for w in selective}
    order = sorted(selective, key=lambda w: (len(candidates[w]), -len(w), w))
    best: tuple[int, _Key] | None = None
    for start in order[:8]:
        for plain in candidates[start][:8]:
            key = _Key()
            if not key.bind(start, plain):
                continue
            count = 1 + key.extend([w for w in order if w != start], candidates, unique=False)
            if best is None or count > best[0]:
                best = (count, key)
    if best is None or best[0] < 2 or best[0] < MIN_SHARE * len(selective):
        return None
    count, key = best
    rest = [w for w in distinct if w not in candidates and _pattern(w) in _BY_PATTERN]
    count += key.extend(rest, {w: _BY_PATTERN[_pattern(w)] for w in rest}, unique=True)
    return key.plain if count >= MIN_WORDS else None


class _Key:
    """A partial one-to-one key, both ways."""

    def __init__(self) -> None:
        self.plain: dict[str, str] = {}
        self.cipher: dict[str, str] = {}

    def fits(self, word: tuple[str, ...], plain: str) -> bool:
        for unit, letter in zip(word, plain, strict=True):
            known = self.plain.get(unit)
            if known != letter and (known is not None or letter in self.cipher):
                return False
        return True

    def bind(self, word: tuple[str, ...], plain: str) -> bool:
        if not self.fits(word, plain):
            return False
        for unit, letter in zip(word, plain, strict=True):
            self.plain[unit] = letter
            self.cipher[letter] = unit
        return True

    def extend(self, words: list[tuple[str, ...]], candidates: dict[tuple[str, ...], list[str]], unique: bool) -> int:
        """Bind each word to a vocabulary word that fits (the first, or only if it is the only one)."""
        bound = 0
        for word in words:
            fits = [plain for plain in candidates[word] if self.fits(word, plain)]
            if fits and (not unique or len(fits) == 1) and self.bind(word, fits[0]):
                bound += 1
        return bound
