"""Glob patterns for policy and config: `*` matches any run of characters, everything else is literal.

Deliberately simpler than fnmatch: `[`, `]` and `?` are literal, so patterns such as `[::1]:*`
mean what they look like.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


def glob_regex(pattern: str) -> str:
    """The regular-expression source for one glob (anchored by the caller's fullmatch)."""
    return ".*".join(re.escape(part) for part in pattern.split("*"))


def compile_globs(patterns: Iterable[str], *, ignore_case: bool = False) -> re.Pattern[str]:
    """One compiled alternation of globs; use `.fullmatch`."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("|".join(f"(?:{glob_regex(p)})" for p in patterns), flags)


@lru_cache(maxsize=1024)
def cached_globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """`compile_globs` memoised, for patterns read from live state on the per-message path."""
    return compile_globs(patterns)
