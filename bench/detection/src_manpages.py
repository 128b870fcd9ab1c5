"""Benign translated manual pages: Debian's manpages-<lang> packages (`apt-get download`), rendered
the three ways an agent meets them: plain text (`man | col -b`, groff with `-P-cbou`), with SGR
bold/underline as a terminal shows them (groff with `GROFF_SGR=1`), and as roff source.

A seeded sample of pages per language; the first few paragraphs-sized pieces of each page. Without
groff the roff source is reduced to text by a crude macro stripper.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bench.detection import records as rec
from bench.detection.cache import CACHE, deb_package
from bench.detection.records import BENIGN, Record, chunks, fair_sample, record

LANGUAGES = {"manpages-dev": ("de", "ru", "ja", "pl"), "manpages-heldout": ("fr", "es", "uk", "zh", "vi", "cs")}
PAGES_PER_LANGUAGE = 40
PIECES_PER_PAGE = 3
MODES = ("plain", "sgr", "roff")
RENDER_VERSION = 2  # bump when rendering changes: the rendered sample is cached


def _pages(lang: str) -> list[Path]:
    root = deb_package(f"manpages-{lang}")
    if root is None:
        return []
    pages = []
    for page in sorted((root / "usr" / "share" / "man").glob("*/man[1-8]/*.gz")):
        if page.is_symlink() or page.stat().st_size < 300:
            continue
        pages.append(page)
    rng = random.Random(f"manpages|{lang}")  # noqa: S311 - reproducible sampling
    return sorted(rng.sample(pages, min(PAGES_PER_LANGUAGE, len(pages))))


def _groff(source: str, sgr: bool) -> str:
    cmd = ["groff", "-t", "-k", "-mandoc", "-Tutf8"] + ([] if sgr else ["-P-cbou"])
    env = {**os.environ, "GROFF_SGR": "1"} if sgr else {k: v for k, v in os.environ.items() if k != "GROFF_SGR"}
    try:
        result = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True, timeout=30, env=env,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.decode("utf-8", "replace")


_FONT = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)")
_SPECIAL = {r"\-": "-", r"\(aq": "'", r"\(em": "\u2014", r"\(en": "\u2013", r"\(lq": "\u201c", r"\(rq": "\u201d",
            r"\&": "", r"\e": "\\", r"\(bu": "\u2022", r"\ ": " ", r"\~": " ", r"\|": "", r"\^": "", r"\,": "",
            r"\/": "", r"\(co": "\u00a9"}


def strip_roff(source: str) -> str:
    """Crude text of a roff page: drops comments and requests, keeps the text of font macros."""
    out = []
    for line in source.splitlines():
        if line.startswith((".\\\"", "'\\\"", '.\\"')):
            continue
        if line.startswith("."):
            parts = line.split(None, 1)
            macro, rest = parts[0], parts[1] if len(parts) > 1 else ""
            if macro in (".SH", ".SS"):
                out += ["", rest.strip('"').upper()]
            elif macro in (".B", ".I", ".BR", ".IR", ".RB", ".RI", ".BI", ".IB", ".SM", ".UR", ".MT"):
                out.append(rest.replace('"', ""))
            elif macro in (".PP", ".P", ".LP", ".TP", ".IP", ".sp", ".br"):
                out.append("")
            continue
        out.append(line)
    text = _FONT.sub("", "\n".join(out))
    for escape, char in _SPECIAL.items():
        text = text.replace(escape, char)
    return re.sub(r"\n{3,}", "\n\n", text)


_OVERSTRIKE = re.compile(r"[^\n]\x08")  # what `col -b` (run by man-db on a pipe) removes: keep the last character


def _render(page: Path, mode: str) -> str:
    source = gzip.decompress(page.read_bytes()).decode("utf-8", "replace")
    if mode == "roff":
        return source
    if shutil.which("groff"):
        return _OVERSTRIKE.sub("", _groff(source, mode == "sgr"))
    return strip_roff(source)


def _pieces(text: str, size: int = 1500) -> list[str]:
    """The first pieces of a page, cut at line ends."""
    return [p for p in chunks(text.splitlines(), size=size) if p.strip()][:PIECES_PER_PAGE]


def _language_texts(lang: str) -> list[str]:
    """Rendered pieces of one language's sample, cached (rendering is the slow part)."""
    cached = CACHE / "manpages" / f"{lang}-{PAGES_PER_LANGUAGE}-{PIECES_PER_PAGE}-v{RENDER_VERSION}.json"
    if cached.exists():
        return list(json.loads(cached.read_text(encoding="utf-8")))
    texts: list[str] = []
    for n, page in enumerate(_pages(lang)):
        texts += _pieces(_render(page, MODES[n % len(MODES)]))
    if texts:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return texts


def records() -> Iterator[Record]:
    for source, languages in LANGUAGES.items():
        by_language = {lang: _language_texts(lang) for lang in languages}
        for lang, text in fair_sample(by_language, rec.PER_SOURCE, seed=source):
            yield record(source, f"manpages.{lang}", BENIGN, None, "tool_result", text)
