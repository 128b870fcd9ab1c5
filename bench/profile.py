"""Where a hop spends its CPU: sample the Drawbridge process under the bench load.

Starts the bench upstream and one Drawbridge target (default drawbridge-guarded), pins it to its own
core, warms it up, then samples it while the load client drives it, and prints the top functions by
self and inclusive share of the samples, plus a split by component (proxy module, uvicorn, asyncio...).

Samplers: `cpu` (default) runs Drawbridge under bench/cpuprof.py, which samples on CPU time
(ITIMER_PROF), so waiting for a core on a busy machine is never counted; `py-spy` runs
`py-spy record -f raw --nonblocking` from outside (wall-clock: on a loaded machine it also counts
time the process was runnable but not running). Trust shares, not totals.

Usage: python -m bench profile [--sampler cpu|py-spy] [--target drawbridge-guarded] [--size 100]
           [--conc 16] [--seconds 8] [--rate 997] [--top 20] [--raw FILE] [--sse] [--no-pin]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load import LoadSpec, event_loop_runner, run_load
from bench.targets import TARGETS, Procs, cpu_seconds, start_target, start_upstream

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
COMPONENTS = (  # (label, substring of the frame's file); first match wins
    ("proxy.http", "proxy/http/"), ("proxy.upstream", "proxy/upstream/"), ("proxy.identity", "proxy/identity/"),
    ("proxy.audit", "proxy/audit/"), ("proxy.policy", "proxy/policy/"), ("proxy.inspections", "proxy/inspections/"),
    ("proxy.pipeline/exchange/decision", "proxy/"), ("uvicorn", "uvicorn/"), ("asyncio", "asyncio/"),
    ("json", "json/"), ("enum", "enum.py"), ("logging", "logging/"),
)
# Frames on (nearly) every stack: the program's entry and the event loop's run call.
ROOT_FILES = ("runpy", "proxy/__main__.py", "proxy/cli.py", "proxy/http/server.py", "uvicorn/server.py",
              "uvicorn/_compat.py", "asyncio/runners.py", "uvloop/__init__.py", "bench/passthrough.py")


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for part in stack.split(";"):
        m = FRAME.match(part)
        if m:
            out.append((m["func"], m["file"]))
    return out


def _component(file: str) -> str:
    return next((label for label, key in COMPONENTS if key in file), "other: " + file.rsplit("/", 1)[-1])


def summarise(raw: str, top: int) -> str:
    """Markdown: self and inclusive shares by function, and self share by component."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    comp: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n, frames = int(count), _frames(stack)
        if not frames:
            continue
        total += n
        func, file = frames[-1]
        own[f"{func} ({file})"] += n
        comp[_component(file)] += n
        for name in {f"{f} ({p})" for f, p in frames}:
            incl[name] += n
    if not total:
        return "no samples"

    def rows(counter: collections.Counter[str], skip_roots: bool = False) -> list[str]:
        items = [(k, v) for k, v in counter.most_common() if not (skip_roots and any(r in k for r in ROOT_FILES))]
        return [f"| {100 * v / total:5.1f} % | `{k}` |" for k, v in items[:top]]

    return "\n".join([
        f"{total} samples with a Python stack. A frame's self time includes the C code it calls (a socket "
        "write, orjson). py-spy: self time of `Runner.run` is the event loop's native code and, on a busy "
        "machine, time spent runnable but not running.", "",
        "Self time by component:", "", "| share | component |", "|---:|---|", *rows(comp), "",
        "Self time by function:", "", "| share | function |", "|---:|---|", *rows(own), "",
        "Inclusive time by function (entry point and event-loop run frames left out):", "",
        "| share | function |", "|---:|---|", *rows(incl, skip_roots=True), "",
    ])


def _py_spy(args: argparse.Namespace, pid: int, raw_file: Path, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise RuntimeError("py-spy not found (pip install py-spy)")
    cmd = [spy, "record", "-r", str(args.rate), "-f", "raw", "-o", str(raw_file), "--pid", str(pid),
           "--duration", str(int(args.seconds)), *(["--native"] if args.native else ["--nonblocking"])]
    spy_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        result = load()
        _, err = spy_proc.communicate(timeout=30)
    finally:
        if spy_proc.poll() is None:
            spy_proc.kill()
            spy_proc.wait(5)
    if spy_proc.returncode != 0 or not raw_file.exists():
        raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
    return result


def _cpu_timer(pid: int, raw_file: Path, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    os.kill(pid, signal.SIGRTMIN + 1)  # bench/cpuprof.py START_SIGNAL: start sampling
    try:
        return load()
    finally:
        os.kill(pid, signal.SIGRTMIN + 2)  # STOP_SIGNAL: stop and write the samples
        deadline = time.monotonic() + 10
        while not raw_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="drawbridge-guarded", choices=[t for t in TARGETS if t.startswith("draw")])
    ap.add_argument("--sampler", choices=["cpu", "py-spy"], default="cpu",
                    help="cpu: in-process CPU-time sampling (bench/cpuprof.py); py-spy: wall-clock, from outside")
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--conc", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0,
                    help="sampling time (max 60; CPU-time ticks come at most at the kernel's HZ)")
    ap.add_argument("--rate", type=int, default=997, help="samples per second (of CPU time with --sampler cpu)")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--raw", type=Path, help="keep the raw collapsed stacks here")
    ap.add_argument("--native", action="store_true",
                    help="py-spy: also sample native frames (pauses the hop at each sample)")
    ap.add_argument("--sse", action="store_true", help="upstream answers with SSE")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin the hop to its own core (upstream and load client to the others)")
    args = ap.parse_args(argv)
    args.seconds = max(1.0, min(args.seconds, 60.0))
    runner = event_loop_runner()
    with tempfile.TemporaryDirectory(prefix="drawbridge-bench-profile-") as tmp, Procs(Path(tmp)) as procs:
        raw_file = (args.raw or Path(tmp) / "stacks.txt").resolve()
        raw_file.unlink(missing_ok=True)
        launcher = (str(Path(__file__).with_name("cpuprof.py")), str(raw_file), "--hz", str(args.rate), "--")
        upstream = start_upstream(procs, sse=args.sse)
        target = start_target(procs, args.target, upstream, Path(tmp),
                              launcher if args.sampler == "cpu" else ("-m", "proxy"))
        assert target.pid is not None
        if args.pin and (os.cpu_count() or 1) >= 2:  # the hop alone on the last core
            last = (os.cpu_count() or 2) - 1
            os.sched_setaffinity(target.pid, {last})
            for pid in (upstream.pid or 0, os.getpid()):
                os.sched_setaffinity(pid, set(range(last)))
        spec = LoadSpec(target.url, args.conc, args.size, headers=target.headers, duration=1.5, warmup=0)
        runner(run_load(spec))  # warm-up, unsampled
        spec.duration, spec.warmup = int(args.seconds) + 0.5, 0.3
        cpu0 = cpu_seconds(target.pid)

        def load() -> dict[str, Any]:
            return runner(run_load(spec))

        if args.sampler == "cpu":
            result = _cpu_timer(target.pid, raw_file, load)
        else:
            result = _py_spy(args, target.pid, raw_file, load)
        cpu = cpu_seconds(target.pid) - cpu0
        carried = max(result["total_calls"], 1)
        print(f"# Profile of {args.target} ({args.sampler} sampler, {args.rate} Hz): size {args.size} B, "
              f"c={args.conc}, {args.seconds:.0f} s\n")
        print(f"{result['calls_per_s']:.0f} calls/s, p50 {result['p50_ms']} ms, errors {result['errors']} "
              f"{result['error_samples'][:2] or ''}; hop CPU {cpu / carried * 1e6:.0f} µs/call while sampled "
              "(sampler overhead included).\n")
        print(summarise(raw_file.read_text(errors="replace"), args.top))
    return 0
