"""Encoded payloads: base64, base32, hex, URL-encoding, HTML entities, quoted-printable, backslash
escapes, Base2048 and Ecoji (`unicode_codecs`), uuencode and Ascii85 (`legacy_codecs`; ROT13 is in
`rot13`). Candidate runs are decoded (bounded depth and size) and the decoded text is scanned again;
the finding shows the decoding chain.

A run is reported when it decodes to readable text (binary data such as images or hashes does not),
or when the decoded text itself trips a detector. Percent-encoding, entities, quoted-printable and
escapes are only suspicious when they encode plain ASCII letters and digits, which never need it.
Declared and everyday encodings are reported only when what they decode to trips a detector: a MIME
body under `Content-Transfer-Encoding: base64` (decoded whole, from the charset its part declares), a
header's RFC 2047 encoded word (`=?UTF-8?B?...?=`), base64 or hex as a URL query value
(`?package_id=UGFja2FnZS01NzA4OTExNg%3D%3D`), percent-escaped tokens and spaced hex bytes.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import html
import quopri
import re
from collections.abc import Callable, Container, Iterator
from urllib.parse import unquote

import orjson
import re2

from proxy.content import legacy_codecs, unicode_codecs
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
# An RFC 2231 extended MIME parameter (`filename*0*=utf-8''%6D%61...`): percent-encoding declared by its `*`.
_RFC2231_VALUE = re.compile(r"[\w.-]{1,40}\*(?:\d{1,3}\*)?=(?:[\w.-]{0,40}'[\w-]{0,20}')?\Z")
# Markup whose attribute assignments are written `=3D`: quoted-printable by construction (HTML mail). Everyday
# (HTML mail is sent so), reported only when its markup is active content, which mail clients never run (a
# script, an event handler, a `javascript:` URL), or tags written as entities, or when what it decodes to
# trips a detector.
_QP_MARKUP = re.compile(r"(?:<|&lt;)/?[A-Za-z][^<>\n]{0,200}?[A-Za-z-]=3D[^\n]*(?:(?<==)\n[^\n]*){0,64}")
_ACTIVE_MARKUP = re.compile(rb"(?i)<\s*/?\s*(?:script|iframe|object|embed)\b|\bon[a-z]{3,20}\s*=|"
                            rb"(?:java|vb)script\s*(?::|&#0*58;?|&colon;)|\bexpression\s*\(|"
                            rb"data:(?:text/html|text/javascript|application/(?:x-)?javascript)\b")
TRIGGERS["encoded.qp_markup"] = r"[A-Za-z-]=3[Dd]"
# A MIME part's header declaring base64, the blank line that ends its header block (within 4 KiB), and
# its body: lines of base64 up to the next blank line or boundary (in a quoted reply, after its `>`).
_MIME_BASE64 = re.compile(r"(?im)^[ \t>]*content-transfer-encoding:[ \t]*base64[ \t]*\r?$")
_HEADER_END = re.compile(r"\r?\n[ \t>]*\r?\n")
_CHARSET = re.compile(r"(?i)\bcharset[ \t]*=[ \t]*\"?([\w.:-]{1,40})")
MAX_HEADER = 4096
_BODY_LINES = re.compile(r"(?:[ \t>]*\r?\n){0,4}(?:[ \t>]*[A-Za-z0-9+/]+={0,2}[ \t]*(?:\r?\n|\Z))+")
TRIGGERS["encoded.mime_base64"] = r"content-transfer-encoding:[ \t]*base64"
# Base64 wrapped into lines of one width (a MIME body whose header is not in the text: a forwarded or quoted
# mail, `> ` prefixes and all; a PEM body): two lines or more, the last no longer; decoded as a whole and
# reported, like a declared body, only if what it decodes to trips a detector.
_WRAPPED = re.compile(r"(?m)^[ \t>]*[A-Za-z0-9+/]{40,}={0,2}[ \t]*\r?\n"
                      r"(?:[ \t>]*[A-Za-z0-9+/]{4,}={0,2}[ \t]*(?:\r?\n|\Z))+")
_WRAPPED_LINE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
TRIGGERS["encoded.wrapped"] = r"(?:^|\n)[ \t>]*[a-z0-9+/]{40}[a-z0-9+/]*={0,2}[ \t]*\r?\n[ \t>]*[a-z0-9+/]{4}"
# The last line(s) of a MIME body whose header is not in the text, closed by the part's boundary line
# (`--000000000000a1b2c3`): decoded as a whole and judged like a declared body.
_BOUNDARY_LINE = re.compile(r"(?m)^[ \t>]*--(?=[^\n]{0,69}[0-9A-Za-z])[0-9A-Za-z'()+_,./:=?-]{1,70}[ \t]*\r?$")
_B64_LINE = re.compile(r"[ \t>]*[A-Za-z0-9+/]{4,}={0,2}[ \t]*\r?")
TRIGGERS["encoded.mime_tail"] = r"[a-z0-9+/]{4}={0,2}[ \t]*\r?\n(?:[ \t>]*\r?\n){0,4}[ \t>]*--[0-9a-z'()+_,./:=?-]"
# A data URI declares its base64 (`data:image/svg+xml;base64,...`): everyday, like a MIME body.
_DATA_URI = re.compile(r"data:[\w.+-]{1,80}/[\w.+-]{1,80}(?:;[\w.+-]{1,40}=[^;,\s]{1,80}){0,4};base64,\Z",
                       re.IGNORECASE)
# A program decoding a literal: a base64/hex decoding function or argument on the literal's line.
_DECODE_CALL = re.compile(r"(?i)base64|b64decode|\batob\s*\(|fromhex|unhexlify|['\"]hex['\"]")
# Decoded data that is one link or address: how redirects and tracking links carry their target.
_LINK_ONLY = re.compile(r"(?:https?://|mailto:)?[\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+|(?:\.[\w-]+)+)(?:[/?#]\S*)?")
# Decoded data that is (a piece of) a URL query string: a tracking link's parameters written in hex or base64.
_QUERY_ONLY = re.compile(r"[^\s&=]*=[^\s&=]*(?:&[^\s&=]+=[^\s&=]*)+")
# An RFC 2047 encoded word of a mail header (`Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?=`), base64 form.
_ENCODED_WORD = re.compile(r"=\?(?P<charset>[\w.:-]{1,40})(?:\*[\w-]{1,20})?\?[Bb]\?"
                           r"(?P<b64>[A-Za-z0-9+/]{1,1024}={0,2})\?=")
TRIGGERS["encoded.encoded_word"] = r"=\?[\w.:-]{1,40}(?:\*[\w-]{1,20})?\?b\?"
# A URL query parameter's name right before a run (`?id=`, `&node=`): the run is its value.
_QUERY_NAME = re.compile(r"[?&][\w.~-]{1,64}=\Z")
_JUNK_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")  # not tab, newlines, form feed, ESC
_NOT_LATIN1_TEXT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # controls: binary, not text


def _textual(data: bytes) -> str | None:
    """The decoded bytes as text if they read as text (UTF-8, printable, mostly letters)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4 or _JUNK_CONTROL.search(text) is not None:
        return None  # too short, or a control no text holds (random bytes: an identifier read as base64)
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
            if kind == "url" and _RFC2231_VALUE.search(text, max(0, m.start() - 80), m.start()):
                continue  # a MIME parameter's declared percent-encoding: everyday (`_percent_tokens`)
            if len(alnum.findall(m.group())) >= minimum:
                yield kind, m.start(), m.end(), _decode_special(kind, m.group())


def _not_mail_markup(text: str, decoding: tuple[str, int, int, bytes]) -> bool:
    """Quoted-printable markup that no HTML mail is made of: active content, or tags written as entities."""
    return text.startswith("&lt;", decoding[1]) or _ACTIVE_MARKUP.search(decoding[3]) is not None


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
            data = _b64(cand)
            if data is not None and ("/" not in cand or _readable(data)):
                yield "base64", m.start(), m.end(), data
            elif "/" in cand and _DATA_URI.search(text, max(0, m.start() - 300), m.start()) is None:
                yield from _path_pieces(cand, m.start())  # (a data URI's binary payload is no URL path)


def _readable(data: bytes) -> bool:
    """Text, or printable ASCII (perhaps another encoding inside): what `_judge` looks into."""
    return _textual(data) is not None or (data.isascii() and data.replace(b"\n", b"").decode().isprintable())


def _b64(cand: str) -> bytes | None:
    body = cand.rstrip("=")
    if len(body) % 4 == 1:
        body = body[:-1]
    try:
        return base64.b64decode((body + "=" * (-len(body) % 4)).replace("-", "+").replace("_", "/"))
    except (binascii.Error, ValueError):
        return None


def _path_pieces(cand: str, start: int) -> Iterator[tuple[str, int, int, bytes]]:
    """A run that does not decode whole may be a URL path ending in base64 (`example/c/SWdub3Jl...`):
    its `/`-separated pieces of 16+ characters, in mixed case, decoded on their own."""
    offset = 0
    for piece in cand.split("/"):
        if len(piece) >= 16 and not piece.islower() and not piece.isupper() and not piece.isalpha():
            data = _b64(piece)
            if data is not None:
                yield "base64", start + offset, start + offset + len(piece), data
        offset += len(piece) + 1


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
    bodies = list(_mime_bodies(text)) if "encoded.mime_base64" in fired else []
    bodies += list(_encoded_words(text)) if "encoded.encoded_word" in fired else []
    if "encoded.wrapped" in fired or "encoded.mime_tail" in fired:
        # a wrapped body under its own MIME header is decoded once, as declared
        within = _Spans(sorted((start, end) for _, start, end, _ in bodies))
        found = list(_wrapped_bodies(text)) if "encoded.wrapped" in fired else []
        wrapped = _Spans(sorted((start, end) for _, start, end, _ in found))
        found += [b for b in _mime_tails(text) if not wrapped.covers(b[1])] if "encoded.mime_tail" in fired else []
        bodies += [b for b in found if not within.covers(b[1]) and not within.covers(b[2] - 1)]
    declared = _Spans(sorted((start, end) for _, start, end, _ in bodies))
    qp_markup = list(_qp_markup(text)) if "encoded.qp_markup" in fired else []
    plain = _chain(_specials(text, fired), (d for d in qp_markup if _not_mail_markup(text, d)),
                   (d for d in _short_tokens(view) if not declared.covers(d[1])) if "encoded.short" in fired
                   else iter(()),
                   (d for s, e in runs if not declared.covers(s) for d in _run_decodings(text, s, e)),
                   unicode_codecs.candidates(view), legacy_codecs.candidates(text, fired))
    everyday = _chain(_percent_tokens(text) if "encoded.percent_run" in fired else iter(()),
                      (d for d in qp_markup if not _not_mail_markup(text, d)),
                      _spaced_hex(text) if "encoded.spaced_hex" in fired else iter(()), iter(bodies))
    for candidates, needs_finding in ((plain, False), (everyday, True)):
        for kind, start, end, data in candidates:
            budget -= len(data)
            if budget < 0:
                return hits
            needs = (needs_finding or (kind in _RUN_KINDS and (_query_value(text, start, end)
                                                               or _decoded_in_code(text, start, end)
                                                               or _declared_data(text, start, data)
                                                               or _document(data)))
                     or (kind == "hex" and end - start in _DIGEST_LENGTHS))
            hit = _judge(text, kind, data, start, end, rescan, depth, needs)
            if hit is not None:
                hits.append(hit)
    return hits


_RUN_KINDS = frozenset({"base64", "base32", "hex"})
# A run decoding to a document this long, with this many lines, is judged like a declared body.
DOCUMENT_BYTES, DOCUMENT_LINES = 1024, 8
# Hex of a digest's length (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512) is a hash by its form: reported
# only if what it decodes to trips a detector (some random digests are valid UTF-8 that reads as letters).
_DIGEST_LENGTHS = frozenset({32, 40, 56, 64, 96, 128})


def _query_value(text: str, start: int, end: int) -> bool:
    """A run that is a URL query parameter's value: an id or state written in base64 for the URL's sake
    (`?package_id=UGFja2FnZS01NzA4OTExNg%3D%3D`), everyday like the percent-escapes around it."""
    return _QUERY_NAME.search(text, max(0, start - 66), start) is not None


def _document(data: bytes) -> bool:
    """A whole document in one run (a mail body or a file as an API returns it, unwrapped): many lines, long."""
    return len(data) >= DOCUMENT_BYTES and data.count(b"\n") >= DOCUMENT_LINES


def _declared_data(text: str, start: int, data: bytes) -> bool:
    """A run that is a data URI's payload (`data:image/svg+xml;base64,...`), unless it is active content."""
    return _DATA_URI.search(text, max(0, start - 300), start) is not None and _ACTIVE_MARKUP.search(data) is None


def _decoded_in_code(text: str, start: int, end: int) -> bool:
    """A string literal that the code around it decodes (`Buffer.from('b25l...', 'base64')`,
    `base64.b64decode("...")`, `atob('...')`): data the program carries, declared as such."""
    if not (start > 0 and end < len(text) and text[start - 1] in "'\"`" and text[end] == text[start - 1]):
        return False
    line = text.rfind("\n", 0, start) + 1
    stop = text.find("\n", end)
    return _DECODE_CALL.search(text[max(line, start - 80):min(len(text) if stop < 0 else stop, end + 80)]) is not None


def _mime_bodies(text: str) -> Iterator[tuple[str, int, int, bytes]]:
    """The bodies of MIME parts declared `Content-Transfer-Encoding: base64`, each decoded as a whole."""
    for m in _MIME_BASE64.finditer(text):
        blank = _HEADER_END.search(text, m.end() - 1, m.end() + MAX_HEADER)
        if blank is None:
            continue
        body = _BODY_LINES.match(text, blank.end())
        if body is None:
            continue
        header_start = max(text.rfind("\n\n", max(0, m.start() - MAX_HEADER), m.start()),
                           text.rfind("\n\r\n", max(0, m.start() - MAX_HEADER), m.start()), m.start() - MAX_HEADER, 0)
        charset = _CHARSET.search(text, header_start, blank.start())
        data = _b64_body(body.group(), charset.group(1) if charset else None, apart=True)
        if data is not None:
            yield "base64", body.start(), body.end(), data


def _wrapped_bodies(text: str) -> Iterator[tuple[str, int, int, bytes]]:
    """Blocks of base64 lines decoded as a whole: lines of one width (the last no longer), or lines of any
    width that together decode to text (a body re-wrapped when a reply quoted it)."""
    for m in _WRAPPED.finditer(text):
        lines = _WRAPPED_LINE.findall(m.group())
        width = len(lines[0])
        even = all(len(line) == width for line in lines[:-1]) and len(lines[-1]) <= width
        data = _b64_body("\n".join(lines)) if even else _b64_text(lines)
        if data is not None:
            yield "base64", m.start(), m.end(), data


def _b64_text(lines: list[str]) -> bytes | None:
    """Base64 lines decoded together, if that gives text."""
    data = _b64_body("\n".join(lines))
    return data if data is not None and _textual(data) is not None else None


def _mime_tails(text: str) -> Iterator[tuple[str, int, int, bytes]]:
    """Base64 lines right above a MIME boundary line (a body's end, its header elsewhere), decoded whole.

    Each boundary walks up at most to the previous one, so every line is looked at once."""
    floor = 0
    for boundary in _BOUNDARY_LINE.finditer(text):
        pos, start, end, blanks = boundary.start(), -1, -1, 0
        while pos > floor:
            above = text.rfind("\n", floor, pos - 1) + 1
            line = text[above:pos - 1]
            if start < 0 and blanks < 4 and not line.strip(" \t>\r"):
                blanks += 1
            elif _B64_LINE.fullmatch(line) is not None:
                start, end = above, end if end >= 0 else pos - 1
            else:
                break
            pos = above
        floor = boundary.end()
        if start >= 0:
            data = _b64_body("".join(_WRAPPED_LINE.findall(text[start:end])))
            if data is not None:
                yield "base64", start, end, data


def _encoded_words(text: str) -> Iterator[tuple[str, int, int, bytes]]:
    """RFC 2047 encoded words in base64, decoded from their charset to UTF-8."""
    for m in _ENCODED_WORD.finditer(text):
        b64 = m.group("b64")
        try:
            data = base64.b64decode(b64 + "=" * (-len(b64) % 4))
        except (binascii.Error, ValueError):
            continue
        with contextlib.suppress(LookupError, ValueError):  # an unknown or wrong charset: bytes as they are
            data = data.decode(m.group("charset")).encode("utf-8")
        yield "base64", m.start("b64"), m.end("b64"), data


def _b64_body(body: str, charset: str | None = None, apart: bool = False) -> bytes | None:
    """A MIME body's bytes, as UTF-8: text in the charset its part declares (`koi8-r`, `iso-2022-jp`) is
    transcoded, as a mail client shows it; else a Latin-1 text part is; binary stays as it is. Bytes that are
    UTF-8 without escapes stay as they are whatever the label says (a label cannot hide such text). `apart`: a
    declared body may hold parts encoded apart, each line with its own padding."""
    lines = body.replace(">", " ").split()
    joined = "".join(lines)
    try:
        if "=" in joined.rstrip("="):  # padding inside: parts encoded apart (decoding would stop at the first)
            if not apart or not all(len(line) % 4 == 0 for line in lines):
                return None
            data = b"".join(base64.b64decode(line) for line in lines)
        else:
            data = base64.b64decode(joined)
    except (binascii.Error, ValueError):
        return None
    if charset is not None and (b"\x1b" in data or not _is_utf8(data)):
        with contextlib.suppress(LookupError, ValueError):  # an unknown or wrong charset: decided below
            return data.decode(charset).encode("utf-8")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if _NOT_LATIN1_TEXT.search(data) is None:
            return data.decode("latin-1").encode("utf-8")
    return data


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Spans:
    """Sorted, disjoint spans; `covers(i)` tells whether offset i lies in one."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]

    def covers(self, i: int) -> bool:
        k = bisect.bisect_right(self.starts, i) - 1
        return k >= 0 and i < self.ends[k]


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


LOOKALIKE = "unicode.confusable"


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
    # a lookalike letter among decoded bytes is what random bytes (a commit hash) look like as UTF-8
    inner = [h for h in (rescan(decoded, depth + 1) if depth + 1 < MAX_DEPTH else []) if h.detector != LOOKALIKE]
    needs_finding = (needs_finding or _LINK_ONLY.fullmatch(decoded.strip()) is not None
                     or _QUERY_ONLY.fullmatch(decoded.strip()) is not None)
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
