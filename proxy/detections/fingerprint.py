"""Bounded fingerprints of tool results, and the search for them in later tool-call arguments.

A result's fingerprint is a small set of 64-bit hashes of its lines (long lines cut into 64-character
pieces from their start), never the data itself. A later call's argument strings are hashed the same
way, as written and after undoing the encodings an agent would use to smuggle them out: base64 (standard
and URL-safe), hex, percent-encoding, and zlib/gzip compression inside those. Shared lines betray a copy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

MIN_LINE = 16  # shorter lines ("{", "OK", headings) are too common to mean anything
PIECE = 64
MAX_TEXT = 256 * 1024  # of a result or of an argument string, the part that is read
MAX_PIECES = 2048  # hashed per text
FINGERPRINT_SIZE = 128  # hashes kept per result (every fourth, by value, for long results)
MAX_DECODED = 1024 * 1024
_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){12,}")


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


def _pieces(text: str) -> Iterator[str]:
    count = 0
    for raw in text.splitlines():
        line = " ".join(raw.split())
        for start in range(0, len(line), PIECE):
            piece = line[start:start + PIECE]
            if len(piece) >= MIN_LINE:
                yield piece
                count += 1
                if count >= MAX_PIECES:
                    return


def _hash(piece: str) -> int:
    return int.from_bytes(hashlib.blake2b(piece.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def line_hashes(texts: list[str]) -> set[int]:
    return {_hash(piece) for text in texts for piece in _pieces(text)}


def fingerprint(result: Any) -> tuple[int, ...]:
    """The kept hashes of a result (empty when it has no line worth remembering)."""
    hashes = sorted(line_hashes(strings_in(result)))
    if len(hashes) > FINGERPRINT_SIZE:
        hashes = [h for h in hashes if h % 4 == 0][:FINGERPRINT_SIZE]
    return tuple(hashes)


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
