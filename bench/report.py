"""Turn hop-benchmark rows into the Markdown table and the saved results (JSON + latest.md)."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


def _f(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def direct_baseline(rows: list[dict[str, Any]]) -> dict[tuple[int, int], dict[str, float]]:
    """Per (size, conc): the mean p50/p99/calls/s of the `direct` runs (first and last)."""
    cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in rows:
        if r["target"] == "direct" and r.get("calls"):
            cells.setdefault((r["size"], r["concurrency"]), []).append(r)
    return {k: {m: mean(r[m] for r in v) for m in ("p50_ms", "p99_ms", "calls_per_s")} for k, v in cells.items()}


def splice_baseline(rows: list[dict[str, Any]]) -> dict[tuple[int, int], float]:
    """Per (size, conc): the bare TCP splice's CPU µs per call (the floor of any Python hop)."""
    return {(r["size"], r["concurrency"]): r["proxy_cpu_us_per_call"] for r in rows
            if r["target"] == "bare-tcp" and r.get("proxy_cpu_us_per_call")}


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table: one line per (target run, size, concurrency)."""
    base, splice = direct_baseline(rows), splice_baseline(rows)
    out = ["| target | size | conc | calls/s | ÷ direct | p50 ms | p90 ms | p99 ms | added p50 ms vs direct "
           "| hop CPU µs/call | hop CPU ÷ splice | hop CPU ÷ upstream CPU | hop RSS MiB | errors |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cell = (r["size"], r["concurrency"])
        b = base.get(cell)
        hop = r["target"] != "direct"
        added = r["p50_ms"] - b["p50_ms"] if b and r.get("p50_ms") is not None and hop else None
        speed = r.get("calls_per_s", 0) / b["calls_per_s"] if b and b["calls_per_s"] and hop else None
        cpu = r.get("proxy_cpu_us_per_call")
        vs_splice = cpu / splice[cell] if cpu and cell in splice and r["target"] != "bare-tcp" else None
        rss = r["proxy_rss_bytes"] / 2**20 if r.get("proxy_rss_bytes") else None
        name = r["target"] + (f" (run {r['run']})" if r["target"] == "direct" else "")
        out.append(f"| {name} | {_size(r['size'])} | {r['concurrency']} | {r.get('calls_per_s', 0):.0f} | "
                   f"{_f(speed)} | {_f(r.get('p50_ms'))} | {_f(r.get('p90_ms'))} | {_f(r.get('p99_ms'))} | "
                   f"{_f(added, sign=True)} | {_f(cpu, 0)} | {_f(vs_splice, 1)} | "
                   f"{_f(r.get('proxy_vs_upstream_cpu'))} | {_f(rss, 0)} | {r.get('errors', '?')} |")
    return "\n".join(out)


def drift(rows: list[dict[str, Any]]) -> str:
    """How far the second `direct` run moved from the first (noise indicator)."""
    firsts: dict[tuple[int, int], dict[str, Any]] = {}
    lines = []
    for r in rows:
        if r["target"] != "direct" or not r.get("calls"):
            continue
        key = (r["size"], r["concurrency"])
        if key in firsts:
            a = firsts[key]
            change = 100 * (r["calls_per_s"] / a["calls_per_s"] - 1)
            lines.append(f"{_size(key[0])}/c{key[1]}: calls/s {change:+.0f} %, p50 {r['p50_ms'] - a['p50_ms']:+.2f} ms")
        else:
            firsts[key] = r
    return "direct drift (run 2 vs run 1): " + ("; ".join(lines) if lines else "n/a")


def markdown(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The whole report: header, table, drift line, notes."""
    up = meta["upstream"]
    return "\n".join([
        f"# Drawbridge hop benchmark, {meta['date']}",
        "",
        f"{meta['cores']} cores, load average at start {meta['loadavg_start']}, Python {meta['python']}, "
        f"mcp {meta['versions'].get('mcp')}, loop {meta['loop']}. Upstream: bench SDK v2 server, "
        + (f"stateless under {up['workers']} uvicorn workers, " if up.get("workers", 1) > 1 else "stateful, ")
        + f"{'SSE' if up['sse'] else 'JSON'} answers, tool `{meta['tool']}`; drawbridge-guarded-workers runs "
        f"`serve --workers {meta.get('proxy_workers', 2)}`. "
        f"Closed loop, {meta['duration_s']} s per cell after {meta['warmup_s']} s warm-up. "
        f"Drawbridge at {meta.get('git', 'unknown')}.",
        "",
        table(rows),
        "",
        drift(rows),
        "",
        "÷ direct (calls/s) and added p50 are against the mean of the two direct runs of the same cell. Hop CPU is the "
        "hop's processes' utime+stime over the cell (every worker with --workers) divided by every call it "
        "carried (warm-up included): the stable figure on a noisy machine (latency deltas are noisy). "
        "Hop CPU ÷ splice divides it by the bare TCP splice's in the same cell (the issue's target: ≤ 3 at "
        "100 B, ≤ 5 at 64 KiB); ÷ upstream CPU by the SDK upstream's CPU per call in the same cell. Hop RSS "
        "is the resident memory of the hop's processes at the end of the cell.",
        "",
    ])


def save(meta: dict[str, Any], rows: list[dict[str, Any]], results_dir: Path = RESULTS) -> tuple[Path, Path]:
    """Write hop-<date>.json and latest.md; return their paths."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = meta["date"].replace(":", "").replace("-", "").replace("T", "-")[:15]
    js = results_dir / f"hop-{stamp}.json"
    js.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    md = results_dir / "latest.md"
    md.write_text(markdown(meta, rows))
    return js, md
