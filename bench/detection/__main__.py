"""Build the labelled corpus, scan it, write bench/results/detection.md (and a JSON twin).

    python -m bench.detection [--sources gettext,manpages,...] [--split dev|held-out]
                              [--per-category N] [--per-source N] [--no-speed] [--corpus-out FILE]

A warm run (everything already in the download cache) takes about 20 s plus the speed measurements;
the first run downloads the packages (about 70 MB) and renders the manual pages: about 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import ModuleType

from bench.detection import (
    cases,
    records,
    report,
    speed,
    src_agentdojo,
    src_changelogs,
    src_cli,
    src_code,
    src_docs,
    src_email,
    src_email_mime,
    src_garak,
    src_gettext,
    src_manpages,
    src_osc8,
    src_promptfoo,
    src_pyrit,
    src_pyrit_converters,
    src_release_notes,
    src_scripts,
    src_secrets,
    src_spikee,
)
from bench.detection.cache import CACHE
from bench.detection.evaluate import by_split, scan, summary
from bench.detection.records import Record, capped
from bench.detection.report_splits import split_json
from bench.detection.splits import SPLITS, split_of
from proxy.content.scan_command import load_content_settings
from proxy.content.scanner import Scanner

SOURCES: dict[str, ModuleType] = {
    "garak": src_garak, "agentdojo": src_agentdojo, "spikee": src_spikee, "secrets": src_secrets, "docs": src_docs,
    "scripts": src_scripts, "cli": src_cli, "cases": cases, "gettext": src_gettext, "manpages": src_manpages,
    "osc8": src_osc8, "email": src_email, "changelogs": src_changelogs, "pyrit": src_pyrit,
    "promptfoo": src_promptfoo, "pyrit-converters": src_pyrit_converters, "code": src_code,
    "release-notes": src_release_notes, "email-mime": src_email_mime}
# The record sources each module should yield: one that yields nothing is reported as skipped.
EXPECTED = {"gettext": ("gettext-django", "gettext-sphinx", "gettext-gnome"),
            "manpages": ("manpages-dev", "manpages-heldout"), "osc8": ("osc8-rich", "osc8-cli"),
            "email": ("email-stdlib", "email-replies"), "changelogs": ("changelogs",), "pyrit": ("pyrit",),
            "pyrit-converters": ("pyrit-converters",), "code": ("code-python",),
            "release-notes": ("changelogs-dev",), "email-mime": ("email-mime",)}
RESULTS = Path(__file__).resolve().parents[1] / "results"


def build(names: list[str], per_category: int) -> tuple[list[Record], list[str]]:
    """The capped corpus and the sources that could not be built (download failed, tool missing)."""
    corpus: list[Record] = []
    skipped: list[str] = []
    for name in names:
        started = time.perf_counter()
        try:
            found = list(SOURCES[name].records())
        except Exception as exc:  # a source that cannot be fetched is reported, the rest still run
            print(f"bench: source {name} failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            skipped.append(name)
            continue
        present = {r["source"] for r in found}
        skipped += [s for s in EXPECTED.get(name, ()) if s not in present]
        if not found and name not in EXPECTED:
            skipped.append(name)
        print(f"bench: {name}: {len(found)} records ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        corpus.extend(found)
    return capped(corpus, per_category), skipped


def main() -> int:
    started = time.perf_counter()
    ap = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", "--only-sources", default=",".join(SOURCES),
                    help="comma-separated subset of " + ",".join(SOURCES))
    ap.add_argument("--split", choices=SPLITS, help="keep only the records of one split")
    ap.add_argument("--per-category", type=int, default=400, help="cap of records per category")
    ap.add_argument("--per-source", type=int, default=records.PER_SOURCE,
                    help="cap of records per source, for the sources that sample (gettext, manpages, ...)")
    ap.add_argument("--policy", type=Path, help="policy directory (default: the packaged default policy)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--corpus-out", type=Path, help="also write the corpus as JSON lines (for drawbridge scan)")
    ns = ap.parse_args()
    unknown = [s for s in ns.sources.split(",") if s and s not in SOURCES]
    if unknown:
        ap.error(f"unknown sources {unknown}; known: {', '.join(SOURCES)}")
    records.PER_SOURCE = ns.per_source
    corpus, skipped = build([s for s in ns.sources.split(",") if s], ns.per_category)
    build_seconds = time.perf_counter() - started
    if ns.split:
        corpus = [r for r in corpus if split_of(r["source"]) == ns.split]
    if ns.corpus_out:
        with ns.corpus_out.open("w", encoding="utf-8") as out:
            for r in corpus:
                out.write(json.dumps({**r, "split": split_of(r["source"])}, ensure_ascii=False) + "\n")
    scanner = Scanner(load_content_settings(ns.policy))
    scored, seconds = scan(scanner, corpus)
    splits = by_split(scored, seconds)
    speeds = None if ns.no_speed else speed.measure(ns.policy)
    run = {"seconds": time.perf_counter() - started, "build_seconds": build_seconds, "skipped": skipped,
           "per_source": ns.per_source, "per_category": ns.per_category}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "detection.md").write_text(report.markdown(splits, speeds, CACHE, run), encoding="utf-8")
    data = {"summary": summary(splits["all"]), **split_json(splits), "speed": speeds, "run": run}
    (RESULTS / "detection.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({name: data[name]["summary"] for name in ("dev", "held-out")}, indent=2))
    print(f"bench: wrote {RESULTS / 'detection.md'} ({run['seconds']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
