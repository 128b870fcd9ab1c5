"""A lean closed-loop load client for a Streamable HTTP MCP endpoint (handshake era).

C sessions (bench/client.py), each on its own keep-alive HTTP/1.1 connection (raw asyncio streams,
no HTTP library): `initialize` + `notifications/initialized` once, then `tools/call` back to back.
Every answer is checked (JSON or SSE body, matching id, no error, and the exact text expected:
`blob` must return bench.payload.make_blob(size), `echo` the text sent); anything else is an error.
Bounded by --duration (or --calls), a hard time cap and a hard call cap. Loopback URLs only.

Usage: python -m bench.load --url http://127.0.0.1:PORT/mcp [-c 16] [--size 65536] [--tool blob|echo]
           [--duration 5 | --calls 2000] [--warmup 1] [--header 'x-api-key: KEY']
Prints one JSON line: calls, errors, calls_per_s, p50_ms, p90_ms, p99_ms, ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson

from bench.client import CallError, Session, check_answer, find_answer, loopback_target
from bench.payload import echo_text, make_blob

__all__ = ["CallError", "LoadSpec", "check_answer", "event_loop_runner", "find_answer", "loopback_target", "run_load"]

HARD_CALL_CAP = 5_000_000
T = TypeVar("T")
MAX_SAMPLES = 5


@dataclass
class LoadSpec:
    """One load run. With `calls` set, the run stops after that many measured calls, not after `duration`."""

    url: str
    concurrency: int = 1
    size: int = 100
    tool: str = "blob"
    duration: float = 5.0
    warmup: float = 1.0
    calls: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 30.0
    max_seconds: float | None = None  # hard cap; default duration + warmup + 30 s


@dataclass
class _State:
    """What the workers of one run share."""

    left: int | None  # measured calls still to make (None: run for the duration)
    measuring: bool = False
    stop: bool = False
    errors: int = 0
    init_errors: int = 0
    total: int = 0  # successful calls, warm-up and tail included (for CPU per call)


def _pct(ordered: list[float], p: float) -> float | None:
    if not ordered:
        return None
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return round((ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)) * 1000, 3)


async def run_load(spec: LoadSpec) -> dict[str, Any]:
    """Run one bounded closed-loop load; return its figures (errors are reported, never raised)."""
    loopback_target(spec.url)
    cap = spec.max_seconds or spec.duration + spec.warmup + 30.0
    expected = make_blob(spec.size) if spec.tool == "blob" else echo_text(spec.size)
    arguments = {"size": spec.size} if spec.tool == "blob" else {"text": expected}
    params = orjson.dumps({"name": spec.tool, "arguments": arguments})
    sessions = [Session(spec.url, spec.headers, spec.timeout) for _ in range(spec.concurrency)]
    latencies: list[float] = []
    samples: list[str] = []
    st = _State(left=spec.calls)

    def failed(what: str, exc: BaseException) -> None:
        if len(samples) < MAX_SAMPLES:
            samples.append(f"{what}: {type(exc).__name__}: {str(exc)[:200]}")

    async def init(s: Session) -> bool:
        try:
            await s.initialize()
            return True
        except Exception as exc:
            st.init_errors += 1
            failed("initialize", exc)
            return False

    async def worker(s: Session) -> None:
        while not st.stop and st.total < HARD_CALL_CAP:
            measuring = st.measuring
            if measuring and st.left is not None:
                if st.left <= 0:
                    return
                st.left -= 1
            t0 = time.perf_counter()
            try:
                check_answer(await s.call_tool(params), expected)
            except Exception as exc:
                st.errors += 1
                failed("tools/call", exc)
                await asyncio.sleep(0.01)  # do not spin on a dead target
                continue
            st.total += 1
            if measuring and st.measuring:
                latencies.append(time.perf_counter() - t0)

    cpu0, t_start = time.process_time(), time.perf_counter()
    outcome = "ok"
    live: list[Session] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(cap):
            ok = await asyncio.gather(*(init(s) for s in sessions))
            live = [s for s, good in zip(sessions, ok, strict=True) if good]
            st.measuring = spec.warmup <= 0
            tasks = [asyncio.create_task(worker(s)) for s in live]
            if tasks:
                await asyncio.sleep(max(spec.warmup, 0))
                st.measuring, t_start = True, time.perf_counter()
                if spec.calls is None:
                    await asyncio.sleep(spec.duration)
                    st.stop = True
                    elapsed = time.perf_counter() - t_start
                else:
                    await asyncio.wait(tasks)
                    elapsed = time.perf_counter() - t_start
                    st.stop = True
                st.measuring = False
                await asyncio.gather(*tasks)
            else:
                elapsed = 0.0
    except TimeoutError:
        outcome, elapsed = f"hard cap of {cap:.0f} s reached", time.perf_counter() - t_start
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(s.end() for s in live), return_exceptions=True)
        for s in sessions:
            s.close()
    latencies.sort()
    calls = len(latencies)
    return {
        "url": spec.url, "tool": spec.tool, "size": spec.size, "concurrency": spec.concurrency,
        "calls": calls, "errors": st.errors + st.init_errors, "init_errors": st.init_errors,
        "error_samples": samples, "outcome": outcome, "seconds": round(elapsed, 3),
        "calls_per_s": round(calls / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": _pct(latencies, 50), "p90_ms": _pct(latencies, 90), "p99_ms": _pct(latencies, 99),
        "mean_ms": round(sum(latencies) / calls * 1000, 3) if calls else None,
        "total_calls": st.total, "client_cpu_s": round(time.process_time() - cpu0, 3),
    }


def event_loop_runner() -> Callable[[Coroutine[Any, Any, T]], T]:
    """uvloop.run when uvloop is installed, else asyncio.run."""
    try:
        import uvloop

        return cast(Callable[[Coroutine[Any, Any, T]], T], uvloop.run)
    except ImportError:
        return asyncio.run


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("-c", "--concurrency", type=int, default=1)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--tool", choices=["blob", "echo"], default="blob")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--calls", type=int, help="stop after this many measured calls instead of --duration")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=30.0, help="per call, seconds")
    ap.add_argument("--max-seconds", type=float, help="hard cap on the whole run")
    ap.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    a = ap.parse_args(argv)
    try:
        loopback_target(a.url)
    except ValueError as exc:
        ap.error(str(exc))
    headers = tuple((k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in a.header))
    spec = LoadSpec(a.url, a.concurrency, a.size, a.tool, a.duration, a.warmup, a.calls, headers, a.timeout,
                    a.max_seconds)
    print(json.dumps(event_loop_runner()(run_load(spec))), flush=True)


if __name__ == "__main__":
    main()
