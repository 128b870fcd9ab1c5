"""In-process micro-benchmark of the inspection pipeline: no sockets, no HTTP, just decisions.

Builds `Runtime.build(Config(policy=..., audit={"file": tmp}))` and times, over N iterations with
time.process_time, a fresh Exchange + `await runtime.pipeline.run(exchange)` for a tools/call
request and for its answer (a 4 KiB text result). Also times `pipeline.record` (the audit event,
part of `run`) and `proxy.jsonrpc.parse_body` of both messages' bytes, which the data plane does first.

Usage: python -m bench pipeline [-n 20000] [--result-size 4096]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from bench.payload import echo_text, make_blob
from bench.targets import GUARDED, PERMIT_ALL, PRINCIPAL, REPO
from proxy.config import Config
from proxy.exchange import Exchange
from proxy.jsonrpc import parse_body
from proxy.runtime import Runtime
from proxy.types import Direction, Era, Transport, Verdict

# (label, policy directory, principal, tool, arguments)
CASES: list[tuple[str, Path, str, str, dict[str, Any]]] = [
    ("permit-all", PERMIT_ALL, "alice", "blob", {"size": 4096}),
    ("default", REPO / "policies" / "default", "alice", "get_weather", {"city": "Paris"}),
    ("bench-guarded", GUARDED, PRINCIPAL, "blob", {"size": 4096}),
    ("bench-guarded, echo 4 KiB (regex)", GUARDED, PRINCIPAL, "echo", {"text": echo_text(4096)}),
]


def _exchange(direction: Direction, message: dict[str, Any], size: int, principal: str,
              request: dict[str, Any] | None = None) -> Exchange:
    """An Exchange as the HTTP data plane builds it for a handshake-era session."""
    return Exchange(direction=direction, message=message, raw_size=size, upstream="default", principal=principal,
                    agent="bench-load", session_id="bench-session", era=Era.HANDSHAKE, transport=Transport.HTTP,
                    client_address="127.0.0.1:50000", request=request)


async def _per_call_us(n: int, step: Callable[[], Awaitable[Any]]) -> float:
    for _ in range(min(n // 10, 1000)):  # warm caches (policy target cache, allocator)
        await step()
    t0 = time.process_time()
    for _ in range(n):
        await step()
    return (time.process_time() - t0) / n * 1e6


async def bench_case(policy: Path, principal: str, tool: str, arguments: dict[str, Any], n: int,
                     result_size: int, work: Path) -> dict[str, float]:
    """µs per message for one policy: request and response, run vs decide, plus parse."""
    audit_file = work / f"audit-{policy.name}.jsonl"
    runtime = Runtime.build(Config.model_validate({"policy": policy, "audit": {"file": audit_file}}))
    pipeline = runtime.pipeline
    request = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    answer = {"jsonrpc": "2.0", "id": 7,
              "result": {"content": [{"type": "text", "text": make_blob(result_size)}], "isError": False}}
    req_raw, ans_raw = orjson.dumps(request), orjson.dumps(answer)
    limits = runtime.limits
    store = getattr(runtime, "store", None)  # the containment store (when the runtime has one) must be started
    if store is not None:
        await store.start()
    try:
        decisions = []
        for direction, msg, raw in ((Direction.TO_SERVER, request, req_raw), (Direction.TO_CLIENT, answer, ans_raw)):
            decision = await pipeline.run(_exchange(direction, msg, len(raw), principal, request))
            if decision.verdict is not Verdict.ALLOW:
                raise RuntimeError(f"{policy}: {direction.value} {tool} was not allowed: {decision.reason}")
            decisions.append(decision)

        async def req_run() -> Any:
            return await pipeline.run(_exchange(Direction.TO_SERVER, request, len(req_raw), principal))

        async def ans_run() -> Any:
            return await pipeline.run(_exchange(Direction.TO_CLIENT, answer, len(ans_raw), principal, request))

        async def record_both() -> Any:
            pipeline.record(_exchange(Direction.TO_SERVER, request, len(req_raw), principal), decisions[0])
            return pipeline.record(_exchange(Direction.TO_CLIENT, answer, len(ans_raw), principal, request),
                                   decisions[1])

        async def parse_both() -> Any:
            return parse_body(req_raw, limits), parse_body(ans_raw, limits)

        out = {"request_us": await _per_call_us(n, req_run), "response_us": await _per_call_us(n, ans_run),
               "audit_us": await _per_call_us(n, record_both), "parse_both_us": await _per_call_us(n, parse_both)}
    finally:
        if store is not None:
            await store.close()
        runtime.close()
    out["total_us"] = out["request_us"] + out["response_us"]
    return out


def table(rows: list[tuple[str, dict[str, float]]], n: int, result_size: int) -> str:
    lines = [f"Pipeline µs per message (process CPU, n={n}, result {result_size} B; audit to a file):", "",
             "| policy | request | response | request+response | of which audit (both) | parse both |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        lines.append(f"| {label} | {r['request_us']:.1f} | {r['response_us']:.1f} | {r['total_us']:.1f} | "
                     f"{r['audit_us']:.1f} | {r['parse_both_us']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench pipeline", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20000, help="iterations per measurement (max 1,000,000)")
    ap.add_argument("--result-size", type=int, default=4096)
    args = ap.parse_args(argv)
    n = max(1, min(args.n, 1_000_000))
    rows = []
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="drawbridge-bench-pipeline-") as tmp:
        os.chdir(tmp)  # the runtime's relative state paths (var/...) land in the temporary directory
        try:
            for label, policy, principal, tool, arguments in CASES:
                rows.append((label, asyncio.run(bench_case(policy, principal, tool, arguments, n, args.result_size,
                                                           Path(tmp)))))
        finally:
            os.chdir(here)
    print(table(rows, n, args.result_size))
    return 0
