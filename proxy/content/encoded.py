"""Encoded payloads: base64, base32, hex, URL-encoding, HTML entities, quoted-printable and backslash
escapes (ROT13 is in `rot13`). Candidate runs are decoded (bounded depth and size) and the decoded text is
scanned again; the finding shows the decoding chain.

A run is reported when it decodes to readable text (binary data such as images or hashes does not),
or when the decoded text itself trips a detector. Percent-encoding, entities, quoted-printable and
escapes are only suspicious when they encode plain ASCII letters and digits, which never need it.
"""

from __future__ import annotations

import base64
import binascii
import html
import quopri
import re
from collections.abc import Callable, Container, Iterator
from urllib.parse import unquote

import orjson
import re2

from proxy.content.model import ATLAS_OBFUSCATION, Hit, clip
from proxy.content.runs import TextView
from proxy.types import Severity

Rescan = Callable[[str, int], list[Hit]]
MAX_DEPTH = 3
REMOVED = "[encoded payload removed by Drawbridge]"

_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{16,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_B32 = re.compile(r"[A-Z2-7]{16,}=*")
_ALNUM_HEX = r"(?:3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa])"  # hex codes of ASCII letters and digits
# (kind, a run of escapes, the escapes that encode letters or digits, how many of those make it suspicious)
_SPECIAL: tuple[tuple[str, re.Pattern[str], re.Pattern[str], int], ...] = (
    ("url", re.compile(r"%[0-9A-Fa-f]{2}(?:[^\s%<>\"'()]{0,6}%[0-9A-Fa-f]{2}){3,}"),
     re.compile(rf"%{_ALNUM_HEX}"), 4),
    ("html_entities", re.compile(r"&#[xX]?[0-9A-Fa-f]{1,7};(?:[^\s&<>]{0,6}&#[xX]?[0-9A-Fa-f]{1,7};){3,}"),
     re.compile(r"&#(?:(?:4[89]|5[0-7]|6[5-9]|[78][0-9]|9[07-9]|1[01][0-9]|12[0-2]);|[xX]" + _ALNUM_HEX + ";)"), 4),
    ("escapes", re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})(?:[^\s\\]{0,6}\\(?:x[0-9a-fA-F]{2}|"
                           r"u[0-9a-fA-F]{4})){5,}"),
     re.compile(rf"\\(?:x|u00){_ALNUM_HEX}"), 6),
    ("quoted_printable", re.compile(r"=[0-9A-F]{2}(?:[^\s=]{0,6}=[0-9A-F]{2}){3,}"),
     re.compile(r"=(?:3[0-9]|[46][1-9A-F]|[57][0-9A])"), 4),
)
# Gates for the RE2 pass (`triggers`), matched case-insensitively: a kind whose gate did not fire
# cannot match.
TRIGGERS = {f"encoded.{kind}": sequence.pattern for kind, sequence, _, _ in _SPECIAL}
# Standalone tokens shorter than a run that may decode to a word or a few: hex, base64 with its exact
# `=` padding, base32 with its padding. The gate has the same forms, with the boundaries consumed.
_SHORT_FORMS = (r"(?P<hex>[0-9A-Fa-f]{10,15})|(?P<b64>(?:[A-Za-z0-9+/]{4}){1,3}(?:[A-Za-z0-9+/]{2}==|"
                r"[A-Za-z0-9+/]{3}=))|(?P<b32>[A-Z2-7]{5,15}={1,6})")
_SHORT = re.compile(r"(?<![\w+/=.-])(?:(?P<hex>[0-9A-Fa-f]{10,15})|[A-Za-z0-9+/]{5,15}={1,6})(?![\w+/=-])")
_B32_PADDED = re.compile(r"[A-Z2-7]{5,15}={1,6}")
# Where RE2 sees such a token begin: hex of 10-15 with a letter, or a padded form, then a boundary.
_HEX_WITH_LETTER = "|".join(f"[0-9]{{{k}}}[A-Fa-f][0-9A-Fa-f]{{{max(0, 9 - k)},{14 - k}}}" for k in range(15))
_SHORT_STARTS = re2.compile(rf"(?:{_HEX_WITH_LETTER}|[A-Za-z0-9+/]{{5,15}}={{1,6}})(?:[^\w+/=-]|$)".encode())
_B64_PADDED = re.compile(r"(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)")
TRIGGERS["encoded.short"] = rf"(?:^|[^\w+/=.-])(?:{_SHORT_FORMS})(?:[^\w+/=-]|$)"
_WORD = re.compile(rb"[A-Z]?[a-z]+|[A-Z]+")
_SEPARATOR = re.compile(rb"[ '-]")
_SMUGGLED = re.compile("[\U000e0000-\U000e0fff\ufe00-\ufe0f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ESC = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4}))")
# Hex bytes written apart ("49 67 6e 6f", "49:67:6e:6f"; hex dumps, buffers), with a hex letter (not a
# table of numbers): reported if the decoded text trips a detector.
_SPACED_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]){7,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
TRIGGERS["encoded.spaced_hex"] = r"(?:[0-9A-Fa-f]{2}[ :]){7}[0-9A-Fa-f]{2}"
# A token with percent-escapes (`Ignore%20previous%20instructions`): reported if its decoded text trips
# a detector (URLs with escapes are everyday text).
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_TOKEN_BREAK = frozenset(" \t\r\n\f\v<>\"'`")
_TOKEN_END = re.compile(r"[\s<>\"'`]")
MAX_TOKEN = 1 << 16
TRIGGERS["encoded.percent_run"] = r"%[0-9A-Fa-f]{2}[^\s<>\"'`]*%[0-9A-Fa-f]{2}"
# Markup whose attribute assignments are written `=3D`: quoted-printable by construction (HTML mail).
_QP_MARKUP = re.compile(r"(?:<|&lt;)/?[A-Za-z][^<>\n]{0,200}?[A-Za-z-]=3D[^\n]*(?:(?<==)\n[^\n]*){0,64}")
TRIGGERS["encoded.qp_markup"] = r"[A-Za-z-]=3[Dd]"


def _textual(data: bytes) -> str | None:
    """The decoded bytes as text if they read as text (UTF-8, printable, mostly letters)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4:
        return None
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if len(text) < 8 and not text.replace(" ", "").isalpha():
        return None
    return text if printable >= 0.9 * len(text) and letters >= max(3, 0.2 * len(text)) else None


def _decode_special(kind: str, chunk: str) -> bytes:
    if kind == "url":
        return unquote(chunk.replace("+", " ")).encode("utf-8", "surrogatepass")
    if kind == "html_entities":
        return html.unescape(chunk).encode("utf-8", "surrogatepass")
    if kind == "escapes":
        return _ESC.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), chunk).encode("utf-8", "surrogatepass")
    return quopri.decodestring(chunk.encode("ascii", "replace"))


def _specials(text: str, fired: Container[str]) -> Iterator[tuple[str, int, int, bytes]]:
    """Percent-encoding, entities, backslash escapes and quoted-printable that encode plain letters."""
    for kind, sequence, alnum, minimum in _SPECIAL:
        if f"encoded.{kind}" not in fired:
            continue
        for m in sequence.finditer(text):
            if len(alnum.findall(m.group())) >= minimum:
                yield kind, m.start(), m.end(), _decode_special(kind, m.group())


def _qp_markup(text: str) -> Iterator[tuple[str, int, int, bytes]]:
    for m in _QP_MARKUP.finditer(text):
        yield "quoted_printable", m.start(), m.end(), quopri.decodestring(m.group().encode("utf-8", "surrogatepass"))


def _spaced_hex(text: str) -> Iterator[tuple[str, int, int, bytes]]:
    for m in _SPACED_HEX.finditer(text):
        digits = m.group().replace(" ", "").replace(":", "")
        if not digits.isdigit():
            yield "hex", m.start(), m.end(), binascii.unhexlify(digits)


def _percent_tokens(text: str) -> Iterator[tuple[str, int, int, bytes]]:
    """Whitespace-delimited tokens (at most MAX_TOKEN long) with two or more percent-escapes, decoded."""
    floor = 0
    pos = text.find("%")
    while pos >= 0:
        low = max(floor, pos - MAX_TOKEN)
        start = max([low] + [text.rfind(ch, low, pos) + 1 for ch in _TOKEN_BREAK])
        m = _TOKEN_END.search(text, pos, start + MAX_TOKEN)
        end = m.start() if m is not None else min(len(text), start + MAX_TOKEN)
        token = text[start:end]
        if len(_PERCENT.findall(token)) >= 2:
            yield "url", start, end, unquote(token.replace("+", " ")).encode("utf-8", "surrogatepass")
        floor = end
        pos = text.find("%", end)


def _run_decodings(text: str, start: int, end: int) -> Iterator[tuple[str, int, int, bytes]]:
    """Hex, base32 or base64 inside one token run (with its `=` padding)."""
    while end < len(text) and end - start < 1 << 22 and text[end] == "=":
        end += 1
    for m in _B64.finditer(text, start, end):
        cand = m.group()
        if cand.isalpha() and (cand.islower() or cand.isupper() or cand[1:].islower()):
            continue  # a word, not an encoding
        if _HEX.fullmatch(cand):
            if cand.isdigit() and len(cand) < 16:
                continue  # a number

            yield "hex", m.start(), m.end(), binascii.unhexlify(cand)
        elif _B32.fullmatch(cand) and len(cand.rstrip("=")) % 8 in (0, 2, 4, 5, 7):
            body = cand.rstrip("=")
            try:
                yield "base32", m.start(), m.end(), base64.b32decode(body + "=" * (-len(body) % 8))
            except (binascii.Error, ValueError):
                continue
        elif not cand.islower() and not cand.isupper():
            body = cand.rstrip("=")
            if len(body) % 4 == 1:
                body = body[:-1]
            try:
                yield "base64", m.start(), m.end(), base64.b64decode(
                    (body + "=" * (-len(body) % 4)).replace("-", "+").replace("_", "/"))
            except (binascii.Error, ValueError):
                continue


def _wordlike(data: bytes) -> bool:
    """A word or a few: letters in natural case, each word with a vowel (random bytes rarely are)."""
    words = _SEPARATOR.split(data)
    return len(data) >= 3 and all(_WORD.fullmatch(w) and any(v in w for v in b"aeiouyAEIOUY") for w in words)


def _short_matches(view: TextView) -> Iterator[re.Match[str]]:
    """`_SHORT.finditer(view.text)` without all-digit hex (a number, never reported), the slow exact
    pattern being tried only where RE2 finds a start. A token's boundary characters can never be
    inside a candidate, so every token starts one."""
    text = view.text
    for candidate in _SHORT_STARTS.finditer(view.view):
        m = _SHORT.match(text, candidate.start())
        if m is not None:
            yield m


def _short_tokens(view: TextView) -> Iterator[tuple[str, int, int, bytes]]:
    """Tokens too short to be a run that decode to a word or a few: hex with letters in one case, or
    padded base32 / base64 of a valid length. Shorter ones cannot be told from IDs and hashes."""
    for m in _short_matches(view):
        token = m.group()
        if m.group("hex") is not None:
            if len(token) % 2 or token.isdigit() or not (token.isupper() or token.islower()):
                continue
            decodings = [("hex", binascii.unhexlify)]
        else:  # padded: base32 if it can be, else base64
            decodings = [("base32", base64.b32decode)] if len(token) % 8 == 0 and _B32_PADDED.fullmatch(token) else []
            if _B64_PADDED.fullmatch(token):
                decodings.append(("base64", base64.b64decode))
        for kind, decode in decodings:
            try:
                data = decode(token)
            except (binascii.Error, ValueError):
                continue
            if _wordlike(data):
                yield kind, m.start(), m.end(), data
                break


def scan(view: TextView, rescan: Rescan, fired: Container[str], depth: int = 0) -> list[Hit]:
    """Findings for encoded payloads in the view's text; `rescan(decoded, depth)` scans what they decode to.

    `fired` names the gates (see TRIGGERS) that fired on the text.
    """
    text, runs = view.text, view.runs
    hits: list[Hit] = []
    budget = 4 * len(text) + 65536
    plain = _chain(_specials(text, fired), _qp_markup(text) if "encoded.qp_markup" in fired else iter(()),
                   _short_tokens(view) if "encoded.short" in fired else iter(()),
                   (d for s, e in runs for d in _run_decodings(text, s, e)))
    everyday = _chain(_percent_tokens(text) if "encoded.percent_run" in fired else iter(()),
                      _spaced_hex(text) if "encoded.spaced_hex" in fired else iter(()))
    for candidates, needs_finding in ((plain, False), (everyday, True)):
        for kind, start, end, data in candidates:
            budget -= len(data)
            if budget < 0:
                return hits
            hit = _judge(text, kind, data, start, end, rescan, depth, needs_finding)
            if hit is not None:
                hits.append(hit)
    return hits


def _chain(*iterators: Iterator[tuple[str, int, int, bytes]]) -> Iterator[tuple[str, int, int, bytes]]:
    for it in iterators:
        yield from it


def _structured(text: str) -> bool:
    """JSON (a JWT header, a Kubernetes secret's manifest…): encoded data, not a hidden message."""
    if not text.lstrip().startswith(("{", "[")):
        return False
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _judge(text: str, kind: str, data: bytes, start: int, end: int, rescan: Rescan, depth: int,
           needs_finding: bool = False) -> Hit | None:
    """A finding if the decoded data reads as text (or, with `needs_finding`, trips a detector)."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    textual = _textual(data) is not None
    layered = decoded.isascii() and decoded.replace("\n", "").isprintable()  # maybe another encoding inside
    if not textual and not layered and not _SMUGGLED.search(decoded):
        return None  # binary (images, hashes, keys): nothing a model would read as instructions
    inner = rescan(decoded, depth + 1) if depth + 1 < MAX_DEPTH else []
    if needs_finding and not any(h.family != "encoded" or _triggered(h) for h in inner):
        return None  # everyday encodings count only when what they hide trips a detector
    if not inner and (not textual or _structured(decoded) or _shown(decoded, text)):
        return None
    chain = kind
    nested = [h for h in inner if h.family == "encoded"]
    if nested:
        chain = f"{kind} > {nested[0].message.split('chain: ', 1)[-1].split(';')[0]}"
    triggered = sorted({h.detector for h in inner if h.family != "encoded"} |
                       {d for h in nested for d in _triggered(h)})
    secret = next((h for h in inner if h.family == "secrets"), None)
    excerpt = secret.excerpt if secret else clip(decoded, 100)
    message = f"encoded payload decodes to text; chain: {chain}"
    if triggered:
        message += f"; decoded text triggers {', '.join(triggered)}"
    severity = Severity.SEV2 if triggered else Severity.SEV3
    return Hit(f"encoded.{kind}", severity, message, f"decoded: {excerpt}", ATLAS_OBFUSCATION,
               ((start, end),), replacement=REMOVED)


def _shown(decoded: str, text: str) -> bool:
    """The decoded text is also written out plainly (documentation showing an encoding): not hidden."""
    plain = decoded.strip(" \t\n!.?,;:'\"")
    return 0 < len(plain) <= 200 and plain in text


def _triggered(hit: Hit) -> list[str]:
    tail = hit.message.split("decoded text triggers ", 1)
    return tail[1].split(", ") if len(tail) == 2 else []
