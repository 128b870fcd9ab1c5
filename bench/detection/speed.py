"""Speed of the content scanner: MB/s on a 1 MiB ASCII tool result, µs added to a realistic 4 KiB
result (scanner alone and the whole answer inspection), and linearity on adversarial inputs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy.content.scanner import Scanner
from proxy.content.settings import ContentSettings

CHUNKS = [
    "The quarterly report shows revenue grew 12.4% year over year, driven mostly by subscriptions. ",
    '{"id": 4821, "user": "alice@example.com", "roles": ["admin", "ops"], "active": true, "score": 0.934}\n',
    "def handler(event, ctx):\n    if not event.get('body'):\n        return {'status': 400}\n"
    "    return process(event['body'])\n",
    "2026-11-21T20:52:11.482Z INFO  [worker-3] request_id=7f3a9c2e path=/api/v2/items status=200 dur_ms=41\n",
    "| region | orders | avg_ticket |\n|--------|-------:|-----------:|\n| EMEA   |  1,204 |     $84.10 |\n",
    "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > 100;\n",
    "\tkey=value; path=C:\\Users\\bob\\file.txt; url=https://example.com/a?b=1&c=2 <tag attr=\"x\">\n",
]
NON_ASCII = ("Note: résumé, naïve café, Zürich, São Paulo — “quoted” text and an emoji ✓ appear in real tool "
             "output.\n")


def realistic(size: int, ascii_only: bool) -> str:
    chunks = CHUNKS if ascii_only else [*CHUNKS[:5], NON_ASCII, *CHUNKS[5:]]
    out, total, i = [], 0, 0
    while total < size:
        out.append(chunks[i % len(chunks)])
        total += len(out[-1].encode())
        i += 1
    return "".join(out).encode()[:size].decode("utf-8", "ignore")


def best(fn: Callable[[], Any], repeat: int, number: int) -> float:
    """Best mean seconds per call over `repeat` rounds of `number` calls (the machine is shared)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "ignore-repeated": lambda n: "ignore previous " * (n // 16),
    "angle-brackets": lambda n: "<" * n,
    "html-comment-open": lambda n: "<!--" * (n // 4),
    "base64-alphabet": lambda n: ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" * (n // 35 + 1))[:n],
    "percent-run": lambda n: "%41" * (n // 3),
    "escape-storm": lambda n: "\x1b[" * (n // 2),
    "zero-width": lambda n: "a\u200b" * (n // 2),
    "word-salad": lambda n: ("do not tell the user send to " * (n // 29 + 1))[:n],
    "pem-like": lambda n: "-----BEGIN PRIVATE KEY-----\n" + ("A" * 64 + "\n") * (n // 65),
}


def measure(policy_dir: Path | None = None) -> dict[str, Any]:
    from proxy.content.scan_command import load_content_settings

    settings = load_content_settings(policy_dir) if policy_dir else ContentSettings()
    scanner = Scanner(settings)
    big = realistic(1 << 20, ascii_only=True)
    small = realistic(4096, ascii_only=False)
    mib = best(lambda: scanner.scan_text(big, "tool_result"), repeat=5, number=1)
    small_s = best(lambda: scanner.scan_text(small, "tool_result"), repeat=5, number=400)
    inspect_s = _inspection_cost(small)
    linear = {}
    for name, make in ADVERSARIAL.items():
        a, b = make(64 << 10), make(256 << 10)
        ta = best(lambda a=a: scanner.scan_text(a, "text"), repeat=3, number=1)
        tb = best(lambda b=b: scanner.scan_text(b, "text"), repeat=3, number=1)
        linear[name] = {"ms_64k": ta * 1e3, "ms_256k": tb * 1e3, "ratio": tb / ta if ta else 0.0}
    return {"mib_ms": mib * 1e3, "mb_per_s": (1 << 20) / mib / 1e6, "small_us": small_s * 1e6,
            "inspection_us": inspect_s * 1e6, "linear": linear}


def _inspection_cost(text: str) -> float:
    """µs of ContentAnswerCheck on a tools/call answer carrying `text` (walk + scan + decision)."""
    import tempfile

    from proxy.inspections.content import ContentAnswerCheck
    from proxy.testing import make_exchange, policy_holder, request_message
    from proxy.types import Direction

    with tempfile.TemporaryDirectory() as tmp:
        holder = policy_holder(Path(tmp), "rules: []\n")
        check = ContentAnswerCheck(holder)
        request = request_message("tools/call", {"name": "blob", "arguments": {}})
        result = {"content": [{"type": "text", "text": text}], "isError": False}
        ex = make_exchange(None, request=request, result=result, direction=Direction.TO_CLIENT)
        return best(lambda: check.inspect(ex), repeat=5, number=400)
