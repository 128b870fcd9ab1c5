"""Credentials: cloud and platform keys and tokens, private keys, JWTs, connection strings with
passwords, and high-entropy values assigned to secret-sounding names. Excerpts are masked.

Candidates come from the token runs (see `runs`); only connection strings need a pass of their
own (a regex with the literal prefix `://`).

Documentation placeholders are not credentials: a value made of words (`personal-access-token123`,
`xoxb-your-bot-token`), one saying "your", "example", "placeholder", "changeme", "xxx", a `<TOKEN>`,
`${VAR}` or `{{var}}` template, a run of the alphabet or of zeros, or a file path
(`CREDENTIALS_PATH=/srv/credentials.json`: where a secret is, not the secret).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Container

from proxy.content.model import ATLAS_CREDENTIALS, Hit, Span
from proxy.content.secret_formats import START as _START
from proxy.content.secret_formats import TOKEN as _TOKEN
from proxy.types import Severity

_NAMES = ("password", "passwd", "pwd", "pass", "secret", "api_key", "api-key", "apikey", "access_key",
          "access-key", "token", "bearer", "credential", "private_key", "private-key", "client_secret", "auth")
_QUOTED_NAMES = ("secret", "token", "key", "passw", "credential", "aws", "facebook", "fb", "twilio", "twitter",
                 "linkedin", "heroku", "auth")
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z_]*(?:\.[A-Za-z_][A-Za-z_]*)+")  # `auth.CustomUser`, `pkg.mod.Class`
_SLUG = re.compile(r"[a-z]+(?:[-_.][a-z]+)+")
# A URL without a password in it (`"authorizationUrl": "http://..."`; one with a password is a connection
# string) or an e-mail address (`"author": "contact@..."`).
_LINK_OR_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]{1,20}://[^\s:@/]+(?::\d{1,5})?(?:[/?#][^\s@]*)?|"
                              r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_NOT_NAME = re.compile(r"[^\w.-]")
_CONNECTION = re.compile(r"://(?P<user>[^\s:/@'\"<>]{1,64}):(?P<password>[^\s@/'\"<>]{3,128})@[\w.-]{3,}")
# `user:token@host.tld` with no scheme (a clone URL pasted without `https://`)
_BARE_CREDENTIAL = re.compile(r"(?<![\w/:.+-])[\w.+-]{6,64}:(?P<password>[^\s@/'\"<>:]{12,128})@"
                              r"(?:[\w-]+\.)+[A-Za-z]{2,}")
_SCHEME_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.:-]{1,23}$")
_SCHEME = re.compile(r"(?i)(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|"
                     r"oracle|s?ftp|smtps?|ldaps?|https?|jdbc:[a-z]+|clickhouse|snowflake|cockroachdb|cloudinary|"
                     r"nats|kafka|elasticsearch|couchdb|neo4j(?:\+s)?|bolt)")
_PLACEHOLDER = re.compile(r"(?i)^(?:.*(?:example|placeholder|changeme|change_me|your|xxx|\*\*\*|<|>|\{|\}|"
                          r"(?-i:\$[A-Z_]{3,})|dummy|sample|redacted|password|passwd|secret|foobar|test123).*|pass|pw|"
                          r"pwd|user)$")  # `$VAR` is a template; a `$` inside a random string is not
# A word or a camelCase identifier (letters, capitals only where words start), not a random string
_PLAIN_WORD = re.compile(r"[A-Z]{1,16}|(?:[a-z]+|[A-Z][a-z]+)(?:[A-Z][a-z]+)*")
# Words joined by `-`, `_` or `.`, or camelCase words, maybe numbered (`personal-access-token123`,
# `MY_API_TOKEN`, `PersonalAccessToken2`): a name or a sample, not a random string.
_WORD = r"(?:[a-z]{2,}|[A-Z][a-z]+|[A-Z]{2,})"
_WORDS = re.compile(rf"{_WORD}(?:[-_.]{_WORD})+\d{{0,4}}|(?:[a-z]+|[A-Z][a-z]+)(?:[A-Z][a-z]+)+\d{{0,4}}")
# Lower-case letters run together, maybe numbered (`mypersonalaccesstoken123`), read as words when their
# share of vowels is that of English words (about 40 %; random letters have 19 %).
_RUN_TOGETHER = re.compile(r"(?P<letters>[a-z]{8,})\d{0,4}")
WORD_VOWELS = 0.3
# A file path: absolute, home- or dot-relative, or a Windows drive path; with a file extension or in
# lower-case names (a base64 value with slashes has neither).
_PATH = re.compile(r"(?:~|\.{1,2})?/(?:[\w.-]+/)*[\w.-]+/?|[A-Za-z]:\\(?:[\w. -]+\\)*[\w. -]+")
_PATH_LIKE = re.compile(r"(?:~|\.{1,2})/.*|.*\.[A-Za-z][A-Za-z0-9]{0,7}|[a-z0-9/._-]+|[A-Za-z]:\\.*")
_SEQUENCES = ("0123456789", "1234567890", "abcdefghij", "xxxxxx", "XXXXXX", "000000")
LOOKBEHIND = 28  # a credential's prefix may sit before its first long run ("access_token$production$")
_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


def _placeholder(value: str) -> bool:
    """A documentation placeholder, a plain word, words joined, a sample sequence or a file path."""
    return (_PLACEHOLDER.match(value) is not None or _PLAIN_WORD.fullmatch(value) is not None
            or _WORDS.fullmatch(value) is not None or _run_together(value) or any(s in value for s in _SEQUENCES)
            or _path(value))


def _run_together(value: str) -> bool:
    m = _RUN_TOGETHER.fullmatch(value)
    return m is not None and sum(c in "aeiou" for c in m.group("letters")) >= WORD_VOWELS * len(m.group("letters"))


def _path(value: str) -> bool:
    return _PATH.fullmatch(value) is not None and _PATH_LIKE.fullmatch(value) is not None


def mask(secret: str, keep: int = 4) -> str:
    """Enough to recognise the kind of credential and match it against an inventory (its SHA-256), never
    enough to use it."""
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{secret[:keep]}…[{len(secret)} chars sha256:{digest}]"


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _high_entropy(value: str) -> bool:
    value = value.strip("\"'`,;")
    if not 12 <= len(value) <= 256 or _placeholder(value):
        return False
    if _SLUG.fullmatch(value) or _LINK_OR_ADDRESS.fullmatch(value) or _DOTTED_NAME.fullmatch(value):
        return False  # words joined by dashes, a URL, an e-mail address, `app.Model`: a name, not a secret
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                   any(c.isdigit() for c in value), any(not c.isalnum() for c in value)))
    return classes >= 2 and entropy(value) >= 3.3


# A quoted value assigned to a secret-sounding name, punctuation included (`client_secret: 'aZ9$kL2#...'`).
_NAME_ASSIGNED = (r"(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|token|credential|private[_-]?key|"
                        r"auth)[\w-]{0,24}[\"']?\s{0,4}(?::|=|=>|:=)\s{0,4}")
_QUOTED_ASSIGNMENT = re.compile(rf"(?i){_NAME_ASSIGNED}([\"'])(?P<value>[^\s\"']{{12,256}})\1")
# gates for the RE2 pass, matched case-insensitively
TRIGGERS = {"secrets.connection": _CONNECTION.pattern, "secrets.quoted": rf"{_NAME_ASSIGNED}[\"'][^\s\"']{{12}}",
            "secrets.bare_credential": _BARE_CREDENTIAL.pattern}


def scan(text: str, runs: list[tuple[int, int]], fired: Container[str]) -> list[Hit]:
    """Credential findings in `text`, given its token runs and the gates (TRIGGERS) that fired."""
    found: list[tuple[str, Span]] = []
    taken_until = -1
    n = len(text)
    for start, end in runs:
        if end <= taken_until:
            continue
        m = _token_in(text, max(start - LOOKBEHIND, taken_until, 0), end, n)
        if m is not None and not _sample_token(m.group()):
            found.append((m.lastgroup or "token", m.span()))
            taken_until = m.end()
            continue
        pem = _pem_around(text, start, end)
        if pem is not None:
            found.append(("private_key", pem))
            taken_until = pem[1]
            continue
        assigned = _assignment(text, start, end)
        if assigned is not None:
            found.append(("secret_assignment", assigned))
    if "secrets.connection" in fired:
        for m in _CONNECTION.finditer(text):
            scheme = _SCHEME_BEFORE.search(text, max(0, m.start() - 24), m.start())
            if scheme and _SCHEME.fullmatch(scheme.group()) and not _placeholder(m.group("password")):
                found.append(("connection_string", m.span("password")))
    if "secrets.bare_credential" in fired:
        for m in _BARE_CREDENTIAL.finditer(text):
            if _high_entropy(m.group("password")):
                found.append(("connection_string", m.span("password")))
    if "secrets.quoted" in fired:
        spans = [span for _, span in found]
        for m in _QUOTED_ASSIGNMENT.finditer(text):
            start, end = m.span("value")
            if _high_entropy(m.group("value")) and not any(s < end and start < e for s, e in spans):
                found.append(("secret_assignment", (start, end)))
    return _hits(text, found)


# In a credential of a known format: words a sample says (`xoxb-your-bot-token`, `sk-...-EXAMPLE`).
_SAMPLE_WORDS = re.compile(r"(?i:your|example|placeholder|changeme|dummy|redacted)|xxxx|XXXX")
_SEPARATED = re.compile(r"[-_.]")


def _sample_token(token: str) -> bool:
    """A documentation sample: a run of the alphabet or digits, x-padding, a placeholder word, words
    joined after the format's prefix, or far too little entropy."""
    return (any(s in token for s in _SEQUENCES) or _SAMPLE_WORDS.search(token) is not None
            or _words_after_prefix(token) or entropy(token) < 3.0)


def _words_after_prefix(token: str) -> bool:
    """`xoxb-bot-token-here`: after the first separator, lower-case words joined (a random body is not)."""
    body = _SEPARATED.split(token, 1)[-1]
    return _WORDS.fullmatch(body) is not None and body.islower()


def _token_in(text: str, start: int, end: int, n: int) -> re.Match[str] | None:
    """A credential starting inside [start, end) (it may run on past `end`, e.g. a JWT's dots)."""
    pos = start
    for _ in range(8):  # a few candidate starts per run; a padded run cannot make this quadratic
        hit = _START.search(text, pos, end)
        if hit is None:
            return None
        m = _TOKEN.match(text, hit.start(), min(n, hit.start() + 2048))
        if m is not None:
            return m
        pos = hit.start() + 1
    return None


def _pem_around(text: str, start: int, end: int) -> Span | None:
    """A private-key block around a base64 run: from its BEGIN line to its END line (or 16 KiB on)."""
    if end - start < 40:
        return None
    head = _PEM_BEGIN.search(text, max(0, start - 400), start)
    if head is None:
        return None
    tail = _PEM_END.search(text, end, end + 16384)
    return head.start(), tail.end() if tail else min(len(text), end + 16384)


_LOCATION_NAMES = ("_path", "_file", "_dir", "_directory", "_filename", "_location")


def _secret_name(name: str) -> bool:
    """A secret-sounding name; one naming where a secret is kept (`CREDENTIALS_PATH`) is not one."""
    name = name.lower().replace("-", "_")
    return any(n in name for n in _NAMES) and not name.endswith(_LOCATION_NAMES)


def _assignment(text: str, start: int, end: int) -> Span | None:
    """A high-entropy value assigned to a secret-sounding name (`KEY=value` in the run, or before it)."""
    eq = text.find("=", start, end)
    if eq > start:
        value = (eq + 1, end)
        if _secret_name(text[start:eq]) and _high_entropy(text[value[0]:value[1]]):
            return value
        return None
    lead = text[max(0, start - 48):start]
    if lead[-7:].lower().rstrip().endswith("bearer"):
        return (start, end) if _high_entropy(text[start:end]) else None
    if lead[-1:] in ("'", '"') and text[end:end + 1] == lead[-1:]:
        context = lead[-32:].rsplit("\n", 1)[-1].lower()  # a name on the value's own line
        if any(name in context for name in _QUOTED_NAMES) and _high_entropy(text[start:end]):
            return start, end  # aws…"<40 chars>", fb…'<32 hex>'
        return None
    head = lead.rstrip(" \t\"'")
    if head.endswith(("=>", ":=")):
        head = head[:-2]
    elif head.endswith(("=", ":")):
        head = head[:-1]
    else:
        return None
    name = _NOT_NAME.split(head.rstrip(" \t\"'"))[-1]
    if not name or not _secret_name(name):
        return None
    return (start, end) if _high_entropy(text[start:end]) else None


def _hits(text: str, found: list[tuple[str, Span]]) -> list[Hit]:
    by_kind: dict[str, list[Span]] = {}
    for kind, span in found:
        by_kind.setdefault(kind, []).append(span)
    hits = []
    for kind, spans in by_kind.items():
        s, e = spans[0]
        hits.append(Hit(f"secrets.{kind}", Severity.SEV2, f"{len(spans)} credential(s) ({kind.replace('_', ' ')})",
                        mask(text[s:e]), ATLAS_CREDENTIALS, tuple(spans), replacement=f"[REDACTED:{kind}]"))
    return hits
