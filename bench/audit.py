"""Micro-benchmark of the audit writer: what the hash chain adds to each event.

Times, with time.process_time over N events, `Auditor.emit` of a typical decision event (about 1 KiB
once serialised) to a plain file sink (one write) and to a chained file sink (seq and prev_sha256
spliced in, one SHA-256 of the line, a checkpoint every 1000 events, signed), both appending to a
temporary file. The difference is the chain's cost per event; `Chain.link` alone is timed too.

Usage: python -m bench audit [-n 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from proxy.audit import Auditor, decision_event
from proxy.audit.auditor import FdSink, Outlet
from proxy.audit.chain import Chain
from proxy.audit.filesink import FileSink
from proxy.decision import ALLOW
from proxy.testing import tool_call


def _us_per_call(n: int, step: Callable[[], object]) -> float:
    for _ in range(min(n // 10, 2000)):
        step()
    t0 = time.process_time()
    for _ in range(n):
        step()
    return (time.process_time() - t0) / n * 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench audit")
    parser.add_argument("-n", type=int, default=200_000, help="events per measurement")
    ns = parser.parse_args(argv)
    event = decision_event(tool_call("get_weather", {"city": "Paris"}, principal="alice", agent="claude",
                                     upstream="notes", session_id="s-1"), ALLOW, "sha256:" + "ab" * 32)
    line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
    with tempfile.TemporaryDirectory() as work:
        plain = Auditor([Outlet("plain", FdSink.open_file(Path(work) / "plain.jsonl"))], host="h", replica_id="r")
        chained = Auditor([Outlet("chained", FileSink.open(Path(work) / "chained.jsonl", key=b"k", every=1000))],
                          host="h", replica_id="r")
        plain_us = _us_per_call(ns.n, lambda: plain.emit(event))
        chained_us = _us_per_call(ns.n, lambda: chained.emit(event))
        plain.close()
        chained.close()
    chain = Chain(key=b"k")
    link_us = _us_per_call(ns.n, lambda: chain.link(line))
    print(f"audit event of {len(line)} bytes, {ns.n} events per measurement (CPU time)")
    print(f"  emit, plain file sink:    {plain_us:7.2f} us/event")
    print(f"  emit, chained file sink:  {chained_us:7.2f} us/event")
    print(f"  chain cost per event:     {chained_us - plain_us:7.2f} us (Chain.link alone: {link_us:.2f} us)")
    return 0
