"""Benign release notes (dev split): the changelogs of other projects than the held-out `changelogs`
source, so the detectors can be tuned on changelog text without looking at the held-out one.

CHANGES / CHANGELOG / HISTORY / NEWS files and release-note pages of popular PyPI projects' sdists:
security releases that name the vulnerability they fix (SQL injection, XSS, header injection,
denial of service), deprecation notices, code blocks, reStructuredText and Markdown markup, and the
GitHub issue templates the sdists ship (HTML comments addressed to the reporter).
"""

from __future__ import annotations

from collections.abc import Iterator

from bench.detection import records as rec
from bench.detection.cache import pip_sdist
from bench.detection.records import BENIGN, Record, chunks, fair_sample, record

SOURCE = "changelogs-dev"
# sdist -> the files (globs under the unpacked top directory) that hold its release notes
SDISTS: dict[str, tuple[str, ...]] = {
    "django==5.2.19": ("docs/releases/*.txt",),
    "sqlalchemy==2.1.9": ("doc/build/changelog/changelog_*.rst",),
    "werkzeug==3.1.9": ("CHANGES.rst",),
    "httpx==0.29.0": ("CHANGELOG.md",),
    "urllib3==2.8.0": ("CHANGES.rst",),
    "bleach==6.4.0": ("CHANGES",),
    "packaging==26.4": ("CHANGELOG.rst",),
    "wheel==0.48.0": ("docs/news.rst",),
    "twine==7.0.0": ("docs/changelog.rst", ".github/ISSUE_TEMPLATE/*"),
    "markdown==3.11.3": ("docs/change_log/*.md",),
    "coverage==7.18.0": ("CHANGES.rst", ".github/ISSUE_TEMPLATE/*"),
    "docutils==0.23.1": ("HISTORY.rst", "RELEASE-NOTES.rst"),
    "pyyaml==6.0.4": ("CHANGES",),
    "dkimpy==1.1.8": ("ChangeLog",),
    "django-mailbox==4.10.1": ("CHANGELOG.rst",),
    "mail-parser==4.8.0": (".github/ISSUE_TEMPLATE/*",),
    "pylint==4.1.5": ("doc/whatsnew/*/*/*.rst",),
    "aiohttp==3.14.5": ("CHANGES.rst",),
    "scrapy==2.19.0": ("docs/news.rst",),
    "celery==5.7.0": ("docs/history/*.rst",),
    "tornado==6.6.1": ("docs/releases/*.rst",),
    "ipython==9.19.1": ("docs/source/whatsnew/*.rst",),
    "pygments==2.21.0": ("CHANGES",),
    "babel==2.19.0": ("CHANGES.rst",),
    "itsdangerous==2.2.0": ("CHANGES.rst",),
    "blinker==1.9.0": ("CHANGES.rst",),
    "flask-sqlalchemy==3.1.1": ("CHANGES.rst",),
    "pyflakes==4.1.0": ("NEWS.rst",),
    "yapf==0.43.0": ("CHANGELOG.md",),
    "pip-tools==7.7.0": ("CHANGELOG.md",),
    "httpcore==1.0.9": ("CHANGELOG.md",),
    "anyio==4.16.0": ("docs/versionhistory.rst",),
    "trio==0.35.0": ("docs/source/history.rst",),
    "structlog==26.1.0": ("CHANGELOG.md",),
    "pytest-cov==7.1.0": ("CHANGELOG.rst",),
    "pytest-xdist==3.8.0": ("CHANGELOG.rst",),
    "pydantic==2.14.4": ("HISTORY.md",),
}


def _pieces(text: str) -> list[str]:
    return [p for p in chunks(text.splitlines(), size=1800) if p.strip()]


def _groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec, patterns in SDISTS.items():
        root = pip_sdist(spec)
        if root is None:
            continue
        name = spec.split("==")[0]
        for pattern in patterns:
            group = "github-templates" if pattern.startswith(".github") else f"changelog.{name}"
            for path in sorted(root.glob(pattern)):
                if path.is_file():
                    groups.setdefault(group, []).extend(_pieces(path.read_text("utf-8", "replace")))
    return {k: v for k, v in groups.items() if v}


def records() -> Iterator[Record]:
    for group, text in fair_sample(_groups(), rec.PER_SOURCE, seed=SOURCE):
        yield record(SOURCE, f"changelogs.dev.{group}", BENIGN, None, "tool_result", text)
