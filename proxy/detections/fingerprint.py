"""Bounded fingerprints of tool results, and the search for them in later tool-call arguments.

A result's fingerprint is a small set of 64-bit hashes of its lines (trimmed; long lines cut into
64-character pieces from their start), never the data itself. A later call's argument strings are hashed the same
way, as written and after undoing the encodings an agent would use to smuggle them out: base64 (standard
and URL-safe), hex, percent-encoding, and zlib/gzip compression inside those. Shared lines betray a copy.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from typing import Any
from urllib.parse import unquote

MIN_LINE = 16  # shorter lines ("{", "OK", headings) are too common to mean anything
PIECE = 64
MAX_TEXT = 256 * 1024  # of a result or of an argument string, the part that is read
MAX_PIECES = 2048  # hashed per text
FINGERPRINT_SIZE = 48  # pieces kept per result, spread evenly over it
MAX_DECODED = 1024 * 1024
_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){12,}")
_SEED = 0x5BD1E995


def strings_in(value: Any, budget: int = MAX_TEXT) -> list[str]:
    """The string leaves of a JSON value, depth first, up to `budget` characters in all."""
    out: list[str] = []
    stack = [value]
    while stack and budget > 0:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item[:budget])
            budget -= len(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return out


def _pieces(texts: list[str]) -> list[str]:
    """Trimmed lines of at least MIN_LINE characters, long ones cut into PIECE-character pieces from their start."""
    out: list[str] = []
    for text in texts:
        for raw in text.splitlines():
            line = raw.strip()
            if len(line) <= PIECE:
                if len(line) >= MIN_LINE:
                    out.append(line)
            else:
                out.extend(piece for i in range(0, len(line), PIECE) if len(piece := line[i:i + PIECE]) >= MIN_LINE)
        if len(out) >= MAX_PIECES:
            return out[:MAX_PIECES]
    return out


def _hashes(pieces: list[str]) -> set[int]:
    """64-bit hashes (two seeded CRC-32s: cheap, and the same on every replica)."""
    crc = zlib.crc32
    return {crc(data) << 32 | crc(data, _SEED) for data in (p.encode("utf-8", "surrogatepass") for p in pieces)}


def line_hashes(texts: list[str]) -> set[int]:
    return _hashes(_pieces(texts))


def fingerprint(result: Any) -> tuple[int, ...]:
    """The kept hashes of a result: at most FINGERPRINT_SIZE pieces, spread evenly over it (a copy of any
    large part of the result holds some of them), or none when no line is worth remembering."""
    lines = [line for text in strings_in(result) for line in text.splitlines()]
    if len(lines) < 8:  # a few (long) lines: every piece of them
        pieces = _pieces(lines)
    else:  # many lines: the first piece of lines spread over the text (what a copy's lines begin with)
        stripped = (line.strip() for line in _spread(lines, 2 * FINGERPRINT_SIZE))
        pieces = [line[:PIECE] for line in stripped if len(line) >= MIN_LINE]
    return tuple(sorted(_hashes(_spread(pieces, FINGERPRINT_SIZE))))


def _spread(items: list[str], most: int) -> list[str]:
    if len(items) <= most:
        return items
    step = len(items) / most
    return [items[int(i * step)] for i in range(most)]


def _text(data: bytes) -> str | None:
    for attempt in (data, _inflate(data)):
        if attempt:
            try:
                return attempt.decode("utf-8")
            except UnicodeDecodeError:
                continue
    return None


def _inflate(data: bytes) -> bytes | None:
    """zlib, gzip or raw deflate content, at most MAX_DECODED bytes of it."""
    for wbits in (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS):  # 32: zlib or gzip header, detected
        try:
            return zlib.decompressobj(wbits).decompress(data, MAX_DECODED)
        except zlib.error:
            continue
    return None


def decoded_variants(text: str) -> list[str]:
    """`text` as written and the texts hidden in it by the usual encodings."""
    out = [text]
    if "%" in text:
        out.append(unquote(text))
    for match in _BASE64.finditer(text[:MAX_TEXT]):
        token = match.group()
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                data = decode(token + "=" * (-len(token) % 4))
            except (binascii.Error, ValueError):
                continue
            decoded = _text(data)
            if decoded:
                out.append(decoded)
                break
    for match in _HEX.finditer(text[:MAX_TEXT]):
        decoded = _text(bytes.fromhex(match.group()))
        if decoded:
            out.append(decoded)
    return out


def argument_hashes(arguments: Any) -> set[int]:
    """Line hashes of every argument string, as written and decoded."""
    texts = [variant for text in strings_in(arguments) for variant in decoded_variants(text)]
    return line_hashes(texts)


def copied(found: set[int], kept: tuple[int, ...]) -> int:
    """How many of a result's kept hashes appear in the arguments; 0 when too few to mean a copy."""
    shared = len(found.intersection(kept))
    return shared if shared >= min(2, len(kept)) and shared > 0 else 0
