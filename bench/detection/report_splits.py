"""The dev / held-out part of the report: per family, kind of text, surface and source, and the
benign false positives by detector (excerpts for dev sources only: held-out text stays unseen)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.detection.evaluate import FPR_TARGETS, TARGETS, FalsePositive, Results, Tally, sources, summary
from bench.detection.splits import DEV, HELD_OUT, HELD_OUT_SOURCES, KIND_TARGETS, MULTILINGUAL_TERMINAL, TOOL_TEXT

SPLITS = (DEV, HELD_OUT)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _rate(t: Tally | None) -> str:
    return "—" if t is None or not t.total else f"{_pct(t.rate)} ({t.flagged}/{t.total})"


def _top(counter: Counter[str], n: int = 3) -> str:
    return ", ".join(f"{d} x{k}" for d, k in counter.most_common(n))


def show(text: str, start: int, end: int) -> str:
    """Printable excerpt: the flagged characters (when not ASCII) and any invisible or control
    character written as \\uXXXX / \\xNN escapes; backticks made quotes for Markdown."""
    out = []
    for i, ch in enumerate(text):
        code = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code >= 0x80 and (start <= i < end or not ch.isprintable()):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out).replace("`", "'")


def excerpt(fp: FalsePositive, width: int = 50) -> str:
    if fp.hit.spans:
        start, end = fp.hit.spans[0]
        end = min(end, start + 60)
    else:  # a whole-text finding: centre on its excerpt where it can be found in the text
        needle = (fp.hit.excerpt or "").strip("…. ").lower()
        start = fp.text.lower().find(needle) if needle else -1
        start, end = (start, start + len(needle)) if start >= 0 else (0, 0)
    lo, hi = max(0, start - width), min(len(fp.text), end + width)
    return ("…" if lo else "") + show(fp.text[lo:hi], start - lo, end - lo) + ("…" if hi < len(fp.text) else "")


def split_sections(splits: dict[str, Results]) -> list[str]:
    dev, held = splits[DEV], splits[HELD_OUT]
    sums = {name: summary(splits[name]) for name in SPLITS}
    lines = [
        "## Dev and held-out splits",
        "",
        "Whole sources are assigned to a split (`bench/detection/splits.py`, listed in",
        "`bench/detection/SOURCES.md`): *held-out* sources are ones the detector authors must not look at",
        f"while tuning ({', '.join(sorted(HELD_OUT_SOURCES))}). This report prints excerpts of dev",
        "sources only; held-out sources appear as counts.",
        "",
        "### Per family",
        "",
        "| family | split | attacks | recall (any) | recall (family) | target | benign flagged by family "
        "| FPR target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    families = sorted({f for name in SPLITS for f in sums[name] if not f.startswith("_")})
    for family in families:
        for name in SPLITS:
            row = sums[name].get(family)
            if row is None:
                continue
            benign = sums[name]["_benign"]["records"]
            lines.append(f"| {family} | {name} | {row['attacks']} | {_pct(row['recall'])} | "
                         f"{_pct(row['recall_family'])} | {_pct(TARGETS.get(family))} | "
                         f"{_pct(row['fpr_family'])} ({row['benign_flagged']}/{benign}) | "
                         f"{_pct(FPR_TARGETS.get(family))} |")
    lines += ["", "### False positives by kind of text", "",
              "Real multilingual and coloured-terminal text (gettext catalogues, manual pages, OSC 8 and other",
              "coloured CLI output) against benign tool text (tool descriptions, READMEs, e-mail, tickets,",
              "changelogs, the benign documents of the attack corpora). *Other* is synthetic text (Faker word",
              "salad, generated emoji) and our hand-written cases. FPR: any finding.", "",
              "| kind | target | dev | held-out | all | met |", "|---|---|---|---|---|---|"]
    for kind in (MULTILINGUAL_TERMINAL, TOOL_TEXT, "other"):
        target = KIND_TARGETS.get(kind)
        every = splits["all"].benign_kind.get(kind)
        met = "—" if target is None or every is None else "yes" if every.rate <= target else "**no**"
        lines.append(f"| {kind} | {_pct(target) if target else '—'} | {_rate(dev.benign_kind.get(kind))} | "
                     f"{_rate(held.benign_kind.get(kind))} | {_rate(every)} | {met} |")
    lines += ["", "### Per surface", "", "| family / surface | dev attacks | dev recall | held-out attacks | "
              "held-out recall |", "|---|---|---|---|---|"]
    for key in sorted(set(dev.attacks) | set(held.attacks)):
        d, h = dev.attacks.get(key), held.attacks.get(key)
        lines.append(f"| {key[0]} / {key[1]} | {d.total if d else 0} | {_pct(d.rate) if d else '—'} | "
                     f"{h.total if h else 0} | {_pct(h.rate) if h else '—'} |")
    lines += ["", "| benign surface | dev FPR | held-out FPR |", "|---|---|---|"]
    for surface in sorted(set(dev.benign_surface) | set(held.benign_surface)):
        lines.append(f"| {surface} | {_rate(dev.benign_surface.get(surface))} | "
                     f"{_rate(held.benign_surface.get(surface))} |")
    lines += ["", "### Per source", "", "Where false positives come from (benign records of the source flagged) and",
              "what each attack source's recall is (any finding).", "",
              "| source | split | kind | benign FPR | attack recall | top detectors |", "|---|---|---|---|---|---|"]
    whole = splits["all"]
    for name, row in sources(whole).items():
        benign, attack = whole.source_benign.get(name), whole.source_attack.get(name)
        counter: Counter[str] = Counter()
        for t in (benign, attack):
            if t is not None:
                counter.update(t.detectors)
        lines.append(f"| {name} | {row['split']} | {row['kind'] if benign else 'attack'} | {_rate(benign)} | "
                     f"{_rate(attack)} | {_top(counter)} |")
    lines += ["", "### Benign false positives by detector", "",
              "Records flagged per detector; for dev sources an excerpt around the first flagged span, invisible",
              "and flagged non-ASCII characters written as `\\uXXXX`.", ""]
    for name, res in ((DEV, dev), (HELD_OUT, held)):
        counts = Counter(d for t in res.benign.values() for d in t.detectors.elements())
        lines.append(f"**{name}:** " + (_top(counts, 20) if counts else "none") + "")
        lines.append("")
        if name == DEV:
            for detector, n in counts.most_common(20):
                by_source = Counter({s: t.detectors[detector] for s, t in res.source_benign.items()
                                     if t.detectors[detector]})
                lines.append(f"- `{detector}` x{n} ({_top(by_source, 4)})")
                for fp in res.false_positives.get(detector, [])[:3]:
                    lines.append(f"  - {fp.category}: `{excerpt(fp)}`")
            lines.append("")
        else:
            for detector, n in counts.most_common(20):
                by_source = Counter({s: t.detectors[detector] for s, t in res.source_benign.items()
                                     if t.detectors[detector]})
                lines.append(f"- `{detector}` x{n} ({_top(by_source, 4)})")
            lines.append("")
    return lines


def split_json(splits: dict[str, Results]) -> dict[str, Any]:
    return {name: {"summary": summary(res), "sources": sources(res)} for name, res in splits.items()}
