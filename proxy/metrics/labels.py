"""Bounded label values: whatever a client or server sends becomes `other`, never a new time series."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from proxy.mcp_methods import KNOWN_METHODS

OTHER = "other"
NONE = "none"
_NAME = re.compile(r"[a-z0-9_.:/-]{1,48}")


def method(value: object) -> str:
    """A JSON-RPC method the protocol defines; anything else (a client's free text) is `other`."""
    if value is None:
        return NONE
    return value if isinstance(value, str) and value in KNOWN_METHODS else OTHER


@lru_cache(maxsize=4096)  # a few dozen real values; the bound holds if something unexpected varies
def internal(value: object) -> str:
    """An identifier Drawbridge itself chose (a check, detector or action): its stem, `other` if odd."""
    if not value:
        return NONE
    if not isinstance(value, str):
        return OTHER
    stem = value.split(":", 1)[0].lower()
    return stem if _NAME.fullmatch(stem) else OTHER


def upstream(value: object, configured: Collection[str]) -> str:
    """A configured upstream's name (routes are configured, so the set is bounded)."""
    if not value:
        return NONE
    return value if isinstance(value, str) and value in configured else OTHER
