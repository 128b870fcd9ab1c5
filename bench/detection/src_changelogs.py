"""Benign changelogs and ticket text: what an agent reads when it looks at a project's history or
files an issue.

- CHANGELOG / CHANGES / NEWS / HISTORY files of popular projects' sdists (PyPI), full of issue and
  pull-request references, version numbers, code and deprecation notices;
- the GitHub issue and pull-request templates those sdists ship (`.github/`), whose HTML comments
  tell the reporter what to write (instructions in comments, addressed to a person);
- Debian changelogs (`changelog.Debian.gz`, with their "Closes: #NNN" bug references) of the
  Debian packages the gettext and manual-page sources download.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator

from bench.detection import records as rec
from bench.detection.cache import deb_package, pip_sdist
from bench.detection.records import BENIGN, Record, chunks, fair_sample, record
from bench.detection.src_gettext import GNOME_DEBS

SDISTS = ("requests==2.34.2", "pip==26.3", "setuptools==84.2.1", "pytest==9.2.0", "click==8.5.1", "flask==3.1.3",
          "black==26.10.1", "attrs==26.1.0")
DEBS = (*GNOME_DEBS, "manpages-de")
_CHANGELOG = re.compile(r"(CHANGES|CHANGELOG|HISTORY|NEWS)(\.(md|rst|txt))?$", re.IGNORECASE)


def _pieces(text: str) -> list[str]:
    return [p for p in chunks(text.splitlines(), size=1800) if p.strip()]


def _sdist_texts() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    templates: list[str] = []
    for spec in SDISTS:
        root = pip_sdist(spec)
        if root is None:
            continue
        name = spec.split("==")[0]
        pieces = [t for p in sorted(root.iterdir()) if p.is_file() and _CHANGELOG.match(p.name)
                  for t in _pieces(p.read_text("utf-8", "replace"))]
        if len(pieces) < 5:  # a stub pointing at the documentation's changelog (pytest)
            pieces += [t for p in sorted((root / "doc").rglob("*")) + sorted((root / "docs").rglob("*"))
                       if p.is_file() and _CHANGELOG.match(p.name) for t in _pieces(p.read_text("utf-8", "replace"))]
        groups[f"changelog.{name}"] = pieces
        github = root / ".github"
        for path in sorted(github.glob("ISSUE_TEMPLATE/*")) + sorted(github.glob("PULL_REQUEST_TEMPLATE*")):
            if path.is_file():
                templates += _pieces(path.read_text("utf-8", "replace"))
    if templates:
        groups["github-templates"] = templates
    return groups


def _debian_texts() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in DEBS:
        root = deb_package(name)
        for path in sorted(root.glob("usr/share/doc/*/changelog.Debian.gz")) if root else []:
            text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
            groups.setdefault(f"debian.{name}", []).extend(_pieces(text))
    return groups


def records() -> Iterator[Record]:
    groups = {k: v for k, v in {**_sdist_texts(), **_debian_texts()}.items() if v}
    for group, text in fair_sample(groups, rec.PER_SOURCE, seed="changelogs"):
        yield record("changelogs", f"changelogs.{group}", BENIGN, None, "tool_result", text)
