"""The hop benchmark: the same tool calls made directly and through each hop, in one run.

Targets, in order: direct, bare-tcp (bench/passthrough.py), drawbridge-permit-all,
drawbridge-guarded (bench/policy/ + an API key), then direct again (drift check). For every
target: each payload size x concurrency, closed loop (bench/load.py, in this process), plus the
hop process's CPU time per call from /proc. Prints a Markdown table; writes
bench/results/hop-<date>.json and bench/results/latest.md.

Usage: python -m bench [--quick] [--sizes 100,4096,65536,1048576] [--concs 1,16,64] [--duration 6] [--warmup 2]
           [--targets direct,drawbridge-guarded,...] [--sse] [--tool blob|echo] [--no-save]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.load import LoadSpec, event_loop_runner, run_load
from bench.targets import REPO, TARGETS, Procs, Target, cpu_seconds, cpu_times, rss_bytes, start_target, start_upstream


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _versions() -> dict[str, str]:
    out = {}
    for name in ("mcp", "mcp-drawbridge", "uvicorn", "uvloop", "httptools", "orjson"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def _git_state() -> str:
    """HEAD and whether proxy/ has uncommitted changes (read-only git commands)."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "proxy"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in proxy/' if dirty else ''}"


def measure(target: Target, upstream: Target, spec: LoadSpec, run: int) -> dict[str, Any]:
    """One cell: load `target` with `spec`; add the hop's, the upstream's and the client's CPU µs per call."""
    hop0 = cpu_times(target.pid) if target.pid else (0.0, 0.0)
    up0 = cpu_seconds(upstream.pid or 0)
    result = event_loop_runner()(run_load(spec))
    hop1 = cpu_times(target.pid) if target.pid else (0.0, 0.0)
    up = cpu_seconds(upstream.pid or 0) - up0
    carried: int = max(result["total_calls"], 1)

    def per_call(seconds: float) -> float:
        return round(seconds / carried * 1e6, 1)

    user, system = hop1[0] - hop0[0], hop1[1] - hop0[1]
    result.update(target=target.name, run=run, upstream_cpu_us_per_call=per_call(up),
                  client_cpu_us_per_call=per_call(result["client_cpu_s"]))
    if target.pid:
        result.update(proxy_cpu_us_per_call=per_call(user + system), proxy_user_us_per_call=per_call(user),
                      proxy_sys_us_per_call=per_call(system), proxy_rss_bytes=rss_bytes(target.pid),
                      proxy_vs_upstream_cpu=round((user + system) / up, 3) if up > 0 else None)
    return result


def run_hop(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every target x size x concurrency; return (meta, rows)."""
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    meta: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()), "python": platform.python_version(),
        "platform": platform.platform(), "versions": _versions(), "loop": "uvloop" if _has_uvloop() else "asyncio",
        "upstream": {"sse": args.sse, "stateful": args.upstream_workers == 1, "workers": args.upstream_workers},
        "proxy_workers": args.proxy_workers, "tool": args.tool, "sizes": args.sizes,
        "concurrency": args.concs, "duration_s": args.duration, "warmup_s": args.warmup, "targets": args.targets,
        "git": _git_state(),
    }
    with tempfile.TemporaryDirectory(prefix="drawbridge-bench-") as tmp, Procs(Path(tmp)) as procs:
        upstream = start_upstream(procs, sse=args.sse, workers=args.upstream_workers)
        for run, name in enumerate(args.targets, 1):
            target = start_target(procs, name, upstream, Path(tmp), proxy_workers=args.proxy_workers)
            try:
                for size in args.sizes:
                    for conc in args.concs:
                        spec = LoadSpec(target.url, conc, size, args.tool, args.duration, args.warmup,
                                        headers=target.headers)
                        row = measure(target, upstream, spec, run)
                        rows.append(row)
                        print(f"[{time.monotonic() - started:5.0f}s] {name:<22} {size:>6} B c={conc:<3} "
                              f"{row['calls_per_s']:>7.0f} calls/s p50 {row['p50_ms']} ms "
                              f"hop CPU {row.get('proxy_cpu_us_per_call', '-')} µs/call errors {row['errors']} "
                              f"{row['error_samples'][:1] or ''}", file=sys.stderr, flush=True)
            finally:
                if target.proc is not None:
                    procs.stop(target.proc)
    meta["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["wall_s"] = round(time.monotonic() - started, 1)
    return meta, rows


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _default_upstream_workers() -> int:
    cpus = len(os.sched_getaffinity(0))
    return min(8, cpus // 2) if cpus >= 4 else 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one size (100 B), one concurrency (1), 3 s per cell")
    ap.add_argument("--sizes", type=_ints, help="payload sizes in bytes (default 100,4096,65536,1048576)")
    ap.add_argument("--concs", type=_ints, help="concurrencies (default 1,16,64)")
    ap.add_argument("--duration", type=float, help="measured seconds per cell (default 6)")
    ap.add_argument("--warmup", type=float, help="unmeasured seconds before each cell (default 2)")
    ap.add_argument("--targets", help=f"comma list of {', '.join(TARGETS)} (default: all, then direct again)")
    ap.add_argument("--sse", action="store_true", help="upstream answers with SSE instead of JSON")
    ap.add_argument("--tool", choices=["blob", "echo"], default="blob",
                    help="blob: size is the answer's size; echo: size is sent and answered back")
    ap.add_argument("--no-save", action="store_true", help="print the table only; do not write bench/results/")
    ap.add_argument("--upstream-workers", type=int, metavar="N",
                    help="run the upstream as N stateless uvicorn workers (JSON), so it is not the bottleneck "
                         "(default: half the usable CPUs, at most 8, on 4 CPUs or more; else 1; 1 with --sse)")
    ap.add_argument("--proxy-workers", type=int, default=min(4, len(os.sched_getaffinity(0))), metavar="N",
                    help="workers of the drawbridge-guarded-workers target (serve --workers N; default: 4, or "
                         "the usable CPUs if fewer)")
    args = ap.parse_args(argv)
    args.sizes = args.sizes or ([100] if args.quick else [100, 4096, 65536, 1048576])
    args.concs = args.concs or ([1] if args.quick else [1, 16, 64])
    args.duration = args.duration or (3.0 if args.quick else 6.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.targets = args.targets.split(",") if args.targets else [*TARGETS, "direct"]
    if args.upstream_workers is None:
        args.upstream_workers = 1 if args.sse else _default_upstream_workers()
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        ap.error(f"unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")
    if args.sse and args.upstream_workers > 1:
        ap.error("--sse needs the single-process upstream (--upstream-workers 1)")
    if not 1 <= args.upstream_workers <= 64 or not 1 <= args.proxy_workers <= 64:
        ap.error("--upstream-workers and --proxy-workers must be in 1..64")
    if not 0 < args.duration <= 60 or not all(0 < c <= 256 for c in args.concs):
        ap.error("--duration must be in (0, 60] s and concurrency in 1..256")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    meta, rows = run_hop(args)
    print(report.markdown(meta, rows))
    if not args.no_save:
        js, md = report.save(meta, rows)
        print(f"wrote {js.relative_to(Path.cwd()) if js.is_relative_to(Path.cwd()) else js} and {md.name}",
              file=sys.stderr)
    return 1 if any(r.get("errors") for r in rows) else 0
