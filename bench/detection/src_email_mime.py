"""Benign e-mail (dev split): real MIME messages from the test fixtures of mail libraries other than the
held-out `email-replies` source (talon, quotequail).

- `mail-parser` (PyPI sdist, Apache-2.0): `tests/mails`, real messages (Outlook, spam traps, malformed
  ones) with base64 attachments (PDF, images, archives, Office files) and text in several charsets;
- `django-mailbox` (PyPI sdist, MIT): `django_mailbox/tests/messages`, multipart messages with text,
  image and rfc822 attachments, koi8-r and other single-byte charsets, long lines;
- `dkimpy` (PyPI sdist, BSD-like): the signed messages and the mbox of `dkim/tests/data`.

Each message is taken twice: as a mail tool renders it (headers and the plain body) and as raw
RFC 822 source (MIME parts, base64 bodies and all), cut into pieces of at most 4,000 characters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bench.detection import records as rec
from bench.detection.cache import pip_sdist
from bench.detection.records import BENIGN, Record, chunks, fair_sample, record
from bench.detection.src_email import MAX_CHARS, rendered

SOURCE = "email-mime"
FIXTURES: dict[str, tuple[str, ...]] = {
    "mail-parser==4.8.0": ("tests/mails/*",),
    "django-mailbox==4.10.1": ("django_mailbox/tests/messages/*.eml",),
    "dkimpy==1.1.8": ("dkim/tests/data/*.msg", "dkim/tests/data/*.message", "dkim/tests/data/message.mbox"),
}


def _both_ways(path: Path) -> list[str]:
    raw = path.read_bytes()
    texts = list(chunks(raw.decode("utf-8", "replace").splitlines(), size=MAX_CHARS))
    if raw.lstrip()[:1].isalpha():
        texts += list(chunks(rendered(raw).splitlines(), size=MAX_CHARS))
    return [t for t in texts if t.strip()]


def _groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec, patterns in FIXTURES.items():
        root = pip_sdist(spec)
        if root is None:
            continue
        name = spec.split("==")[0]
        for pattern in patterns:
            for path in sorted(root.glob(pattern)):
                if path.is_file():
                    groups.setdefault(name, []).extend(_both_ways(path))
    return {k: list(dict.fromkeys(v)) for k, v in groups.items() if v}


def records() -> Iterator[Record]:
    for group, text in fair_sample(_groups(), rec.PER_SOURCE, seed=SOURCE):
        yield record(SOURCE, f"email.mime.{group}", BENIGN, None, "tool_result", text)
