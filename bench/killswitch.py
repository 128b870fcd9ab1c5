"""Kill-switch propagation between two real Drawbridge processes sharing one real Redis.

    python -m bench.killswitch [--trials 200]

Replica A serves the admin API; replica B only the data plane. Each trial quarantines a principal
through A's admin API and then sends requests to B back to back until B refuses one as quarantined.
It reports, over all trials, the time from issuing the command to B's first refusal (what a
responder experiences) and from the command's answer to that refusal, as p50 / p99 / max, then
releases and waits until B serves the principal again. Loopback only; every process is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
KEY, ADMIN = "bench-killswitch-key", "bench-killswitch-admin"  # loopback-only bench credentials
# The probe is refused by policy (-32050) until the quarantine lands (-32053): it never reaches the upstream,
# so probing back to back does not load the machine with upstream work.
PROBE = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "bench_probe", "arguments": {}}}
POLICY = """version: 1
description: killswitch bench (loopback only)
rules:
  - {id: everything, effect: permit, methods: ["*"]}
  - {id: no-probe, effect: forbid, methods: [tools/call], names: [bench_probe]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


@contextlib.contextmanager
def process(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, **(env or {})})
    try:
        wait_port(port)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def proxy_config(tmp: Path, port: int, upstream: str, redis_port: int, admin_port: int | None) -> Path:
    config: dict[str, object] = {
        "listen": f"127.0.0.1:{port}", "policy": str(tmp / "policy"),
        "upstreams": [{"name": "default", "url": upstream}], "audit": {"file": str(tmp / f"audit-{port}.jsonl")},
        "store": f"redis://127.0.0.1:{redis_port}/0", "log_level": "warning",
        "identity": {"api_keys": [{"sha256": hashlib.sha256(KEY.encode()).hexdigest(), "principal": "bench"}]},
    }
    if admin_port is not None:
        config["admin"] = {"listen": f"127.0.0.1:{admin_port}", "evidence_dir": str(tmp / "evidence")}
    path = tmp / f"proxy-{port}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def refused(client: httpx.Client, url: str) -> bool:
    answer = client.post(url, json=PROBE, headers={"x-api-key": KEY, "accept": "application/json, text/event-stream"})
    try:
        return bool(answer.json().get("error", {}).get("code") == -32053)
    except ValueError:
        return False


def until(client: httpx.Client, url: str, want: bool, limit: float = 5.0) -> float:
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        if refused(client, url) == want:
            return time.perf_counter()
        time.sleep(0)  # back to back: the resolution is one request round trip
    raise TimeoutError(f"replica B never {'refused' if want else 'served'} the principal within {limit}s")


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(pick(0.5) * 1000, 2), "p99_ms": round(pick(0.99) * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2)}


def run(trials: int) -> dict[str, object]:
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="drawbridge-killswitch-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "policy").mkdir()
        (tmp / "policy" / "bench.yaml").write_text(POLICY)
        rport, uport, aport, bport, admin_port = (free_port() for _ in range(5))
        redis = [redis_bin, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_name]
        demo = [sys.executable, "-m", "proxy.demo.server", "--port", str(uport)]
        upstream = f"http://127.0.0.1:{uport}/mcp"
        serve = [sys.executable, "-m", "proxy", "serve", "--config"]
        a_cfg = proxy_config(tmp, aport, upstream, rport, admin_port)
        b_cfg = proxy_config(tmp, bport, upstream, rport, None)
        with process(redis, rport), process(demo, uport), \
                process([*serve, str(a_cfg)], aport, {"DRAWBRIDGE_ADMIN_TOKEN": ADMIN}), \
                process([*serve, str(b_cfg)], bport), httpx.Client(timeout=10) as client:
            wait_port(admin_port)
            b_url, admin = f"http://127.0.0.1:{bport}/mcp", f"http://127.0.0.1:{admin_port}/v1"
            auth = {"authorization": f"Bearer {ADMIN}"}
            from_issue, from_ack = [], []
            for _ in range(trials):
                until(client, b_url, False)
                issued = time.perf_counter()
                done = client.post(f"{admin}/quarantines", headers=auth, json={
                    "kind": "principal", "subject": "bench", "reason": "bench", "ticket": "BENCH", "mode": "block"})
                acked = time.perf_counter()
                done.raise_for_status()
                first = until(client, b_url, True)
                from_issue.append(first - issued)
                from_ack.append(max(0.0, first - acked))
                client.post(f"{admin}/quarantines/release", headers=auth, json={
                    "kind": "principal", "subject": "bench", "reason": "bench"}).raise_for_status()
    return {"trials": trials, "issue_to_first_refusal_on_other_replica": percentiles(from_issue),
            "command_answer_to_first_refusal": percentiles(from_ack)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "killswitch.json")
    ns = parser.parse_args(argv)
    result = run(max(1, min(ns.trials, 2000)))
    print(json.dumps(result))
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
