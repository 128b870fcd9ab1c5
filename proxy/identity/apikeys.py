"""Static API keys: stored as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import TextIO

from .config import ApiKeyEntry

__all__ = ["ApiKeyStore", "generate_api_key", "hash_api_key", "hash_key_command"]

#: Prefix of generated keys, so leaked keys are easy to recognise in secret scanners.
KEY_PREFIX = "dbk_"


def hash_api_key(key: str) -> str:
    """Return the lowercase SHA-256 hex digest of ``key`` (what goes in the config)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_api_key() -> str:
    """Return a new random API key (256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key_command(stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Body of ``drawbridge hash-key``: read a key from stdin, print its config entry hash.

    The key is read from stdin (never argv, which leaks into shell history and ``ps``).
    With empty input a new key is generated and printed once, followed by its hash.
    Returns the process exit code.
    """
    key = stdin.readline().strip()
    if not key:
        key = generate_api_key()
        stderr.write("generated a new API key; store it now, it is not shown again:\n")
        stdout.write(f"key: {key}\n")
    stdout.write(f"sha256: {hash_api_key(key)}\n")
    return 0


class ApiKeyStore:
    """Looks up presented API keys among the configured hashed entries."""

    __slots__ = ("_by_hash",)

    def __init__(self, entries: Iterable[ApiKeyEntry]) -> None:
        self._by_hash: dict[str, ApiKeyEntry] = {entry.sha256: entry for entry in entries}

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def __repr__(self) -> str:
        return f"ApiKeyStore(<{len(self._by_hash)} keys>)"

    def lookup(self, presented: str) -> ApiKeyEntry | None:
        """Return the entry for ``presented``, or None if the key is unknown."""
        return self.lookup_hash(hash_api_key(presented))

    def lookup_hash(self, digest: str) -> ApiKeyEntry | None:
        """Return the entry whose hash equals ``digest`` (confirmed with compare_digest)."""
        entry = self._by_hash.get(digest)
        if entry is not None and hmac.compare_digest(entry.sha256, digest):
            return entry
        return None
