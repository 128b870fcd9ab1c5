"""Benign e-mail: real messages and replies, with quoted text, signatures, forwarded headers and
HTML parts, as a mail tool returns them (headers and the plain body) and as raw RFC 822 source.

- `email-stdlib`: the messages of CPython's own e-mail test suite (`test/test_email/data`, PSF
  licence) from the running Python's standard library, where the distribution ships it.
- `email-replies`: the fixtures of Mailgun's talon (PyPI sdist, Apache-2.0), collected from real
  mail clients (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, AOL replies; signatures; HTML
  replies), and the replies quoted in the tests of talon and of quotequail (PyPI sdist, MIT).
"""

from __future__ import annotations

import ast
import email
import email.policy
import sysconfig
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from bench.detection import records as rec
from bench.detection.cache import pip_sdist
from bench.detection.records import BENIGN, Record, chunks, fair_sample, record

TALON = "talon==1.4.4"
QUOTEQUAIL = "quotequail==0.5.4"
MAX_CHARS = 4000


def rendered(raw: bytes) -> str:
    """What a mail tool returns: the main headers, then the plain body (or the HTML one)."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        head = [f"{name}: {msg[name]}" for name in ("From", "To", "Cc", "Date", "Subject") if msg[name]]
        body = msg.get_body(preferencelist=("plain", "html"))
        content = body.get_content() if body is not None else ""
    except Exception:
        return raw.decode("utf-8", "replace")
    return "\n".join(head) + "\n\n" + str(content)


def _messages(paths: list[Path]) -> list[str]:
    texts = []
    for n, path in enumerate(paths):
        raw = path.read_bytes()
        text = rendered(raw) if n % 2 == 0 and raw.lstrip()[:1].isalpha() else raw.decode("utf-8", "replace")
        texts += list(chunks(text.splitlines(), size=MAX_CHARS))
    return [t for t in texts if t.strip()]


def _stdlib() -> dict[str, list[str]]:
    data = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    paths = sorted(p for p in data.glob("*.txt")) if data.is_dir() else []
    return {"stdlib": _messages(paths)} if paths else {}


def _quoted_replies(tests: Path) -> list[str]:
    """Multi-line string constants of talon's tests: the replies its quotation parser is tested on."""
    out: list[str] = []
    for path in sorted(tests.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.count("\n") >= 2:
                out.append(node.value.strip("\n"))
    return list(dict.fromkeys(out))


def _replies() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    quotequail = pip_sdist(QUOTEQUAIL)
    if quotequail is not None:
        groups["quotequail-tests"] = _quoted_replies(quotequail / "tests")
    root = pip_sdist(TALON)
    if root is None:
        return {k: v for k, v in groups.items() if v}
    fixtures = root / "tests" / "fixtures"
    files = sorted(p for p in fixtures.rglob("*") if p.is_file() and p.suffix not in (".npy", ".pyc"))
    html = [p for p in files if p.suffix == ".html"]
    mail = [p for p in files if p.suffix != ".html"]
    groups["talon-fixtures"] = _messages(mail)
    groups["talon-html"] = [t for p in html for t in chunks(p.read_text("utf-8", "replace").splitlines(), MAX_CHARS)]
    groups["talon-tests"] = _quoted_replies(root / "tests")
    return {k: v for k, v in groups.items() if v}


def records() -> Iterator[Record]:
    for source, groups in (("email-stdlib", _stdlib()), ("email-replies", _replies())):
        for group, text in fair_sample(groups, rec.PER_SOURCE, seed=source):
            yield record(source, f"email.{source.removeprefix('email-')}.{group}", BENIGN, None, "tool_result",
                         text)
