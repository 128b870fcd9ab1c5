"""Deterministic payloads shared by the bench upstream (what it answers) and the load client (what it checks)."""

from __future__ import annotations

import functools

_CHUNKS = (
    "Revenue for the quarter rose 11.8% on the year, led by renewals in the mid-market segment. ",
    '{"order": 90412, "customer": "c.ramos@example.org", "items": [3, 17, 42], "paid": true, "total": 129.5}\n',
    "async def fetch(session, url):\n    async with session.get(url) as r:\n        return await r.json()\n",
    "2026-03-14T09:26:53.589Z WARN [pool-2] req=5be1d0 route=/v1/search status=429 retry_after=2\n",
    "| host | p50 ms | p99 ms |\n|------|-------:|-------:|\n| api-1 | 3.1 | 18.7 |\n",
    "Café déjà vu in Kraków and Malmö — “smart quotes”, a ✓ and → arrows, as real tool output has.\n",
    "UPDATE accounts SET status = 'frozen' WHERE last_login < now() - interval '90 days';\n",
    "\tPATH=/usr/local/bin:/usr/bin; C:\\Temp\\report.csv; https://example.net/q?a=1&b=two <b>x</b>\n",
)


@functools.lru_cache(maxsize=32)
def make_blob(size: int) -> str:
    """Mixed prose/JSON/code/log/non-ASCII text of exactly `size` UTF-8 bytes."""
    if size <= 0:
        return ""
    pieces, total, i = [], 0, 0
    while total < size:
        chunk = _CHUNKS[i % len(_CHUNKS)]
        pieces.append(chunk)
        total += len(chunk.encode())
        i += 1
    text = "".join(pieces).encode()[:size].decode(errors="ignore")  # drop a split multi-byte character
    return text + "." * (size - len(text.encode()))


@functools.lru_cache(maxsize=32)
def echo_text(size: int) -> str:
    """ASCII text of exactly `size` bytes for `echo` calls (sent as the argument, answered back)."""
    base = "the quick brown fox jumps over the lazy dog; {\"n\": [1, 2, 3]} 0123456789 "
    return (base * (size // len(base) + 1))[:size]
