"""Drawbridge's memory per MCP session, and whether it grows under session churn.

Starts the bench upstream and one Drawbridge target, then reads the RSS of the target's process tree:
  1. warm-up: 50 sessions (initialize, one blob call, DELETE), settle 1 s: the baseline;
  2. idle: N sessions initialized, their connections closed without DELETE (still bound in the proxy);
  3. concurrent: N sessions opened and kept connected, then one blob call on each (the calls last, so the
     proxy's 5 s keep-alive timeout has not closed the connections; any it did close are reopened), RSS;
     then all ended (DELETE, answer checked);
  4. soak: C workers churn sessions (initialize, 3 blob calls, DELETE), RSS sampled every few seconds;
     growth = the max of the last 3 samples vs the sample at 20 % of the soak;
     "no growth" when that is at most max(2 MiB, 2 %).
Every answer is checked; errors are counted (never raised). Loopback only; every phase is time-bounded.
Prints a Markdown report; writes bench/results/sessions-<date>.json and sessions-latest.md. Exit status 1
on any error or on GROWTH.

Usage: python -m bench.sessions [--sessions 1000] [--soak 120] [--soak-concurrency 16] [--sample-every 5]
           [--target drawbridge-guarded|drawbridge-permit-all] [--no-save]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from bench.client import CallError, Session, check_answer
from bench.load import event_loop_runner
from bench.payload import make_blob
from bench.report import RESULTS
from bench.targets import REPO, Procs, Target, rss_bytes, start_target, start_upstream

T = TypeVar("T")
PARAMS, EXPECTED = orjson.dumps({"name": "blob", "arguments": {"size": 100}}), make_blob(100)
MIB, OPEN_CONCURRENCY, WARMUP_SESSIONS, PHASE_S, CALL_TIMEOUT_S = 1 << 20, 32, 50, 120.0, 30.0


@dataclass
class Run:
    """One measured target: its sessions kept open, and the errors seen so far."""

    target: Target
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    kept: list[Session] = field(default_factory=list)

    def rss(self) -> int:
        return rss_bytes(self.target.pid or 0)

    def failed(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{what}: {type(exc).__name__}: {str(exc)[:200]}")

    @contextlib.asynccontextmanager
    async def phase(self, name: str, seconds: float = PHASE_S) -> AsyncIterator[None]:
        """Bound a phase by `seconds`; running over counts as an error, it is not raised."""
        try:
            async with asyncio.timeout(seconds):
                yield
        except TimeoutError as exc:
            self.failed(f"{name} took over {seconds:g} s", exc)

    async def open(self, calls: int, keep: bool) -> Session | None:
        """An initialized session that made `calls` checked blob calls; None (error counted) if it failed."""
        s = Session(self.target.url, self.target.headers, CALL_TIMEOUT_S)
        if keep:
            self.kept.append(s)
        try:
            await s.initialize()
            for _ in range(calls):
                check_answer(await s.call_tool(PARAMS), EXPECTED)
        except Exception as exc:  # (a cancelled request closes its connection itself)
            self.failed("session", exc)
            s.close()
            return None
        return s

    async def call(self, s: Session) -> None:
        """One checked blob call on a kept session (on a new connection if the proxy closed the idle one)."""
        try:
            revive(s)
            check_answer(await s.call_tool(PARAMS), EXPECTED)
        except Exception as exc:
            self.failed("tools/call", exc)

    async def end(self, s: Session) -> bool:
        """DELETE the session (reconnecting if need be) and close it; a failed DELETE is an error."""
        try:
            revive(s)
            status = (await s.request(b"", b"DELETE"))[0]
            if status >= 300:
                raise CallError(f"DELETE answered HTTP {status}")
            return True
        except Exception as exc:
            self.failed("DELETE", exc)
            return False
        finally:
            s.close()

    async def churn(self, calls: int) -> bool:
        """One whole session: open, `calls` blob calls, DELETE."""
        s = await self.open(calls, keep=False)
        return s is not None and await self.end(s)

    def close_all(self) -> None:
        for s in self.kept:
            s.close()
        self.kept.clear()


def connected(s: Session) -> bool:
    return s.reader is not None and not s.reader.at_eof()


def revive(s: Session) -> None:
    """Drop a connection the proxy closed (uvicorn closes an idle keep-alive after 5 s): the next request
    reconnects, and the MCP session carries on, as it is its Mcp-Session-Id, not its connection."""
    if s.reader is not None and s.reader.at_eof():
        s.close()


async def bounded(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run `jobs`, at most `limit` at a time."""
    sem = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with sem:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def settle(run: Run) -> int:
    await asyncio.sleep(1.0)
    return run.rss()


async def warm_up(run: Run) -> int:
    async with run.phase("warm-up"):
        await bounded(8, [lambda: run.churn(1)] * WARMUP_SESSIONS)
    return await settle(run)


async def idle(run: Run, n: int) -> int:
    """Open `n` sessions, then drop their connections without DELETE; the RSS after that."""
    async with run.phase("opening the idle sessions"):
        await bounded(OPEN_CONCURRENCY, [lambda: run.open(0, keep=True)] * n)
    run.close_all()
    return await settle(run)


async def concurrent(run: Run, n: int) -> tuple[int, int, int]:
    """(RSS with `n` sessions that each made a call since all were opened, connections then open, RSS after
    they all ended). The calls come last so that the proxy's keep-alive timeout has not closed the connections."""
    async with run.phase("opening the concurrent sessions"):
        await bounded(OPEN_CONCURRENCY, [lambda: run.open(0, keep=True)] * n)
    live = [s for s in run.kept if s.writer is not None]
    async with run.phase("calling on the concurrent sessions"):
        await bounded(OPEN_CONCURRENCY, [functools.partial(run.call, s) for s in live])
    held, open_now = run.rss(), sum(map(connected, live))
    async with run.phase("ending the concurrent sessions"):
        await bounded(OPEN_CONCURRENCY, [functools.partial(run.end, s) for s in live])
    run.close_all()
    return held, open_now, await settle(run)


async def soak(run: Run, seconds: float, workers: int, every: float) -> tuple[list[tuple[float, int]], int]:
    """Churn sessions with `workers` for `seconds`; ([(t, RSS)] every `every` s from t=0, sessions churned)."""
    start, churned, stop = time.monotonic(), 0, asyncio.Event()
    samples = [(0.0, run.rss())]

    async def worker() -> None:
        nonlocal churned
        while not stop.is_set():
            if await run.churn(3):
                churned += 1
            else:
                await asyncio.sleep(0.01)  # do not spin on a dead target

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        async with run.phase("soak", seconds + PHASE_S):
            at = 0.0
            while at < seconds:
                at = min(at + every, seconds)
                await asyncio.sleep(max(0.0, start + at - time.monotonic()))
                samples.append((at, run.rss()))
            stop.set()
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return samples, churned


def soak_figures(samples: list[tuple[float, int]], seconds: float, churned: int) -> dict[str, Any]:
    ref_t = 0.2 * seconds  # past the warm-up of the bounded caches (evidence buffers, windows)
    ref_at, ref = next((s for s in samples if s[0] >= ref_t), samples[-1])  # the last one if the soak ran over
    end = max(rss for _, rss in samples[-3:])
    growth = end - ref
    ok = growth <= max(2 * MIB, 0.02 * ref)
    return {"soak_ref_at_s": ref_at, "soak_ref_mib": ref / MIB, "soak_end_mib": end / MIB,
            "soak_growth_mib": growth / MIB, "soak_growth_pct": growth / ref * 100 if ref else 0.0,
            "sessions_churned": churned, "sessions_per_s": churned / seconds,
            "verdict": "no growth" if ok else "GROWTH"}


async def measure(target: Target, args: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[float, int]]]:
    """Every phase against `target`; (figures, soak samples). Every session is closed on the way out."""
    run, n = Run(target), args.sessions
    try:
        base = await warm_up(run)
        idle_rss = await idle(run, n)
        held, open_now, after = await concurrent(run, n)
        samples, churned = await soak(run, args.soak, args.soak_concurrency, args.sample_every) \
            if args.soak > 0 else ([], 0)
    finally:
        run.close_all()
    figures: dict[str, Any] = {
        "baseline_mib": base / MIB, "idle_mib": idle_rss / MIB, "idle_kib_per_session": (idle_rss - base) / n / 1024,
        "concurrent_mib": held / MIB, "concurrent_kib_per_session": (held - idle_rss) / n / 1024,
        "concurrent_connected": open_now,
        "after_end_mib": after / MIB, "errors": run.errors, "error_samples": run.error_samples}
    if samples:
        figures.update(soak_figures(samples, args.soak, churned))
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, samples


def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit (children inherit it); the soft limit now."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def git_head() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        return out or "unknown"
    return "unknown"


def markdown(meta: dict[str, Any], f: dict[str, Any], samples: list[tuple[float, int]]) -> str:
    n = meta["sessions"]
    rows = [("baseline RSS (after warm-up)", f"{f['baseline_mib']:.1f} MiB"),
            (f"RSS with {n} idle sessions", f"{f['idle_mib']:.1f} MiB"),
            ("RSS per idle session", f"{f['idle_kib_per_session']:.1f} KiB"),
            (f"RSS with {n} concurrent sessions", f"{f['concurrent_mib']:.1f} MiB"),
            ("RSS per concurrent session (over idle)", f"{f['concurrent_kib_per_session']:.1f} KiB"),
            ("connections open at that reading", f"{f['concurrent_connected']} of {n}"),
            ("RSS after they end", f"{f['after_end_mib']:.1f} MiB")]
    if samples:
        rows += [(f"soak RSS at {f['soak_ref_at_s']:.0f} s", f"{f['soak_ref_mib']:.1f} MiB"),
                 ("soak RSS at the end (max of last 3 samples)", f"{f['soak_end_mib']:.1f} MiB"),
                 ("soak growth", f"{f['soak_growth_mib']:+.2f} MiB ({f['soak_growth_pct']:+.1f} %)"),
                 ("sessions churned", f"{f['sessions_churned']} ({f['sessions_per_s']:.0f}/s)")]
    rows.append(("errors", str(f["errors"])))
    out = ["# Drawbridge memory per session", "",
           f"{meta['date']} · {meta['cores']} cores · git {meta['git']} · target {meta['target']} · N = {n} · "
           + (f"soak {meta['soak_s']:g} s x {meta['soak_concurrency']} workers" if samples else "no soak"), "",
           "| figure | value |", "|---|---:|", *(f"| {k} | {v} |" for k, v in rows), ""]
    if samples:
        out += [f"RSS samples (MiB, every {meta['sample_every_s']:g} s from the soak's start): "
                + ", ".join(f"{rss / MIB:.1f}" for _, rss in samples), "",
                f"**Verdict: {f['verdict']}** (growth limit: max(2 MiB, 2 %))", ""]
    out += [f"- error: {e}" for e in f["error_samples"]]
    return "\n".join(out).rstrip() + "\n"


def save(meta: dict[str, Any], figures: dict[str, Any], samples: list[tuple[float, int]], md: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"sessions-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    doc = {"meta": meta, "figures": figures, "samples": [{"t_s": t, "rss_bytes": rss} for t, rss in samples]}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / "sessions-latest.md").write_text(md)
    return path


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.sessions", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["drawbridge-guarded", "drawbridge-permit-all"], default="drawbridge-guarded")
    ap.add_argument("--sessions", type=int, default=1000, metavar="N", help="idle and concurrent sessions (1..10000)")
    ap.add_argument("--soak", type=float, default=120.0, metavar="SECONDS", help="soak length (0 skips; max 3600)")
    ap.add_argument("--soak-concurrency", type=int, default=16, metavar="C", help="soak workers (1..256)")
    ap.add_argument("--sample-every", type=float, default=5.0, metavar="SECONDS", help="RSS sampling period")
    ap.add_argument("--no-save", action="store_true", help="print the report only; do not write bench/results/")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 10_000 or not 0 <= args.soak <= 3600 or not 1 <= args.soak_concurrency <= 256:
        ap.error("--sessions must be in 1..10000, --soak in 0..3600 s, --soak-concurrency in 1..256")
    if args.sample_every < 0.5:
        ap.error("--sample-every must be at least 0.5 s")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    nofile = raise_nofile()
    if nofile < 2 * args.sessions + 256:  # the proxy may hold an agent and an upstream connection per session
        print(f"bench.sessions: RLIMIT_NOFILE {nofile} is too low for {args.sessions} sessions", file=sys.stderr)
        return 1
    meta = {"date": dt.datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(), "git": git_head(),
            "target": args.target, "sessions": args.sessions, "soak_s": args.soak,
            "soak_concurrency": args.soak_concurrency, "sample_every_s": args.sample_every, "nofile": nofile}
    with tempfile.TemporaryDirectory(prefix="drawbridge-bench-") as tmp, Procs(Path(tmp)) as procs:
        target = start_target(procs, args.target, start_upstream(procs), Path(tmp))
        figures, samples = event_loop_runner()(measure(target, args))
    md = markdown(meta, figures, samples)
    print(md)
    if not args.no_save:
        print(f"wrote {save(meta, figures, samples, md).name} and sessions-latest.md", file=sys.stderr)
    return 1 if figures["errors"] or figures.get("verdict") == "GROWTH" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
