"""Benign translated UI text: gettext catalogues (.mo) in right-to-left, Indic and Southeast-Asian
languages, read with a small standard-library .mo parser.

Real translations carry what hand-written cases only imitate: RLM/LRM and embedding marks around
Latin words in Arabic, Hebrew and Persian, ZWNJ in Persian, ZWJ/ZWNJ in Indic conjuncts, ZWSP as a
word-break hint in Thai, Khmer, Lao and Burmese, soft hyphens, and printf/brace placeholders.

Sources (split in `splits.py`): Django's catalogues (PyPI wheel), Sphinx's (PyPI wheel), and the
GNOME stack's as Debian ships them (`apt-get download`: GTK 3, GLib, Nautilus, GNOME Control Center).
Each record is a run of consecutive translations of one catalogue, either alone, one a line, or
with their msgids in .po syntax (what an agent reading a locale file sees).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from bench.detection import records as rec
from bench.detection.cache import deb_package, pip_package
from bench.detection.records import BENIGN, Record, fair_sample, record

RTL = ("he", "ar", "fa", "ur", "yi", "ps", "ckb", "ug", "dv")
INDIC_SEA = ("hi", "bn", "te", "ml", "ta", "kn", "gu", "pa", "si", "mr", "ne", "or", "as", "th", "km", "lo", "my")
LANGUAGES = frozenset(RTL + INDIC_SEA)
PYPI = {"gettext-django": "django==5.2.19", "gettext-sphinx": "sphinx==9.0.4"}
GNOME_DEBS = ("libgtk-3-common", "libglib2.0-data", "nautilus-data", "gnome-control-center-data")


def read_mo(data: bytes) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a compiled catalogue; plural forms are joined with a newline, the
    header entry is left out."""
    if len(data) < 20:
        return []
    order = {0x950412DE: "<", 0xDE120495: ">"}.get(struct.unpack("<I", data[:4])[0])
    if order is None:
        return []
    count, originals, translations = struct.unpack(order + "III", data[8:20])
    out = []
    for i in range(count):
        olen, ooff = struct.unpack(order + "II", data[originals + 8 * i:originals + 8 * i + 8])
        tlen, toff = struct.unpack(order + "II", data[translations + 8 * i:translations + 8 * i + 8])
        msgid = data[ooff:ooff + olen].decode("utf-8", "replace")
        msgstr = data[toff:toff + tlen].decode("utf-8", "replace")
        if msgid and msgstr:
            out.append((msgid.split("\x04")[-1].replace("\0", "\n"), msgstr.replace("\0", "\n")))
    return out


def _language(folder: str) -> str | None:
    base = folder.split("_")[0].split("@")[0].split("-")[0]
    return folder if base in LANGUAGES else None


def _po(msgid: str, msgstr: str) -> str:
    def quote(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'

    return f"msgid {quote(msgid)}\nmsgstr {quote(msgstr)}\n"


def _catalogues(source: str) -> dict[str, list[tuple[str, Path]]]:
    """language -> [(package label, .mo path)]"""
    found: dict[str, list[tuple[str, Path]]] = {}
    if source in PYPI:
        root = pip_package(PYPI[source])
        for mo in sorted(root.rglob("locale/*/LC_MESSAGES/*.mo")) if root else []:
            lang = _language(mo.parent.parent.name)
            if lang:
                app = mo.parent.parent.parent.parent.name
                found.setdefault(lang, []).append((app, mo))
    else:
        for deb in GNOME_DEBS:
            root = deb_package(deb)
            for mo in sorted(root.glob("usr/share/locale/*/LC_MESSAGES/*.mo")) if root else []:
                lang = _language(mo.parent.parent.name)
                if lang:
                    found.setdefault(lang, []).append((mo.stem, mo))
    return found


def _texts(catalogues: list[tuple[str, Path]], block: int = 14) -> list[str]:
    """Blocks of consecutive entries, rendered alternately as translations one a line and as .po."""
    texts = []
    for _app, mo in catalogues:
        pairs = read_mo(mo.read_bytes())
        for n in range(0, len(pairs), block):
            part = pairs[n:n + block]
            if (n // block) % 2:
                texts.append("\n".join(_po(i, s) for i, s in part))
            else:
                texts.append("\n".join(s for _, s in part))
    return texts


def records() -> Iterator[Record]:
    for source in (*PYPI, "gettext-gnome"):
        by_language = {lang: _texts(cats) for lang, cats in _catalogues(source).items()}
        label = source.removeprefix("gettext-")
        for lang, text in fair_sample(by_language, rec.PER_SOURCE, seed=source):
            yield record(source, f"gettext.{label}.{lang}", BENIGN, None, "tool_result", text)
