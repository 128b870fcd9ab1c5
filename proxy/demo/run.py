"""The whole demo in one command: demo server, Drawbridge in front of it, scripted agent through it.

    python -m proxy.demo.run            # or: make demo

Everything binds to 127.0.0.1 on free ports and lives in a temporary directory; both
processes are stopped on exit, failure or Ctrl-C. The exit code is the agent's.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

import yaml

from proxy.admin.config import ADMIN_TOKEN_ENV
from proxy.config import PACKAGED_POLICY_DIR
from proxy.demo import agent
from proxy.demo.incident import Stage, story
from proxy.identity.apikeys import generate_api_key, hash_api_key

HOST = "127.0.0.1"
PRINCIPAL, AGENT_ID = "demo-user", "demo-agent"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


class StartError(Exception):
    """A child process did not come up; the message says which and why."""


def find_policy() -> tuple[Path, str]:
    """The embedded default policy shipped inside the package (`policies/default` links to it)."""
    if any(PACKAGED_POLICY_DIR.glob("*.yaml")):
        return PACKAGED_POLICY_DIR, "embedded default"
    raise StartError(f"no default policy found in {PACKAGED_POLICY_DIR}; pass --policy DIR")


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together while picking so they differ)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in socks:
            s.bind((HOST, 0))
        return [int(s.getsockname()[1]) for s in socks]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no output)"
    return "\n".join(f"    | {line}" for line in text[-lines:]) or "    | (empty)"


def _answers_http(port: int) -> bool:
    """True once anything answers HTTP on the port (any status counts)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", "/mcp", headers={"Accept": "text/event-stream"})
        conn.getresponse()  # a status line is an answer; the body is not read (it may be a stream)
        return True
    except OSError:
        return False
    finally:
        conn.close()


def wait_until_up(name: str, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Poll until the child answers HTTP on its port; raise StartError with its log tail if it dies or stalls."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartError(f"{name} exited with code {proc.returncode} before listening; its stderr:\n{_tail(log)}")
        if _answers_http(port):
            return
        time.sleep(0.1)
    raise StartError(f"{name} did not answer on {HOST}:{port} within {START_TIMEOUT:.0f}s; its stderr:\n{_tail(log)}")


@contextmanager
def child(argv: list[str], log: Path, env_extra: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child process with output to `log`; always stopped (TERM, then KILL) on exit."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within STOP_TIMEOUT (or we are interrupted)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)
    except BaseException:  # a second Ctrl-C while waiting: do not leave it running
        proc.kill()
        raise


def write_config(path: Path, *, key_sha256: str, policy: Path, audit: Path, upstream_port: int, port: int,
                 admin_port: int | None = None) -> None:
    """The drawbridge.yaml for the demo: one hashed API key, the default policy, a JSON-lines audit file, the
    state store and evidence in the work directory, and the admin API (its token comes from the environment)."""
    config: dict[str, object] = {
        "listen": f"{HOST}:{port}",
        "policy": str(policy),
        "audit": {"file": str(audit)},
        "upstreams": [{"name": "default", "url": f"http://{HOST}:{upstream_port}/mcp"}],
        "identity": {"api_keys": [{"sha256": key_sha256, "principal": PRINCIPAL, "agent": AGENT_ID}]},
        "store": f"sqlite:{path.parent / 'state.db'}",
    }
    if admin_port is not None:
        config["admin"] = {"listen": f"{HOST}:{admin_port}", "evidence_dir": str(path.parent / "evidence")}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(ns: argparse.Namespace, workdir: Path) -> int:
    """Start both processes, run the agent through Drawbridge, return the agent's exit code."""
    policy, origin = (ns.policy.resolve(), "--policy") if ns.policy else find_policy()
    server_port, proxy_port, admin_port = free_ports(3)
    config, audit = workdir / "drawbridge.yaml", workdir / "audit.jsonl"
    server_log, proxy_log = workdir / "demo-server.log", workdir / "drawbridge.log"
    key, admin_token = generate_api_key(), secrets.token_urlsafe(24)
    write_config(config, key_sha256=hash_api_key(key), policy=policy, audit=audit,
                 upstream_port=server_port, port=proxy_port, admin_port=admin_port)
    print(f"policy:      {policy} ({origin})")
    print(f"workdir:     {workdir}")
    with ExitStack() as stack:
        server = stack.enter_context(child(
            [sys.executable, "-m", "proxy.demo.server", "--host", HOST, "--port", str(server_port)], server_log))
        wait_until_up("the demo server", server, server_port, server_log)
        print(f"demo server: http://{HOST}:{server_port}/mcp (tools get_weather, search_notes, delete_note, "
              "send_email)")
        proxy = stack.enter_context(child([sys.executable, "-m", "proxy", "serve", "--config", str(config)], proxy_log,
                                          {ADMIN_TOKEN_ENV: admin_token}))
        wait_until_up("drawbridge serve", proxy, proxy_port, proxy_log)
        print(f"drawbridge:  http://{HOST}:{proxy_port}/mcp (principal {PRINCIPAL}, API key in x-api-key)")
        print("-" * 72, flush=True)
        argv = [f"http://{HOST}:{proxy_port}/mcp", "--api-key", key, "--audit-file", str(audit), "--mode", ns.mode]
        code = agent.main(argv)
        if code == 0 and not ns.guardrails_only:
            code = act_two(Stage(f"http://{HOST}:{proxy_port}/mcp", key, config, audit, f"http://{HOST}:{admin_port}",
                                 admin_token, workdir, PRINCIPAL, policy))
        if code == 130:
            raise KeyboardInterrupt
        if code != 0:
            print(f"\ndrawbridge log (tail of {proxy_log}):\n{_tail(proxy_log, 20)}")
        return code


def act_two(stage: Stage) -> int:
    """The incident scenes; 0 only if every step held."""
    print("\n" + "=" * 72 + "\nAct 2: an incident, from the poisoned result to the proof of the fix\n" + "=" * 72)
    term = agent.Term()
    story(stage, term)
    return term.verdict("incident closed with proof: detected, contained, evidence sealed, timeline measured, "
                        "fix replayed", "the incident story FAILED")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run the demo in a temporary directory, and always clean up."""
    p = argparse.ArgumentParser(prog="python -m proxy.demo.run", description=__doc__.splitlines()[0])
    p.add_argument("--policy", type=Path, help="policy directory (default: the bundled default policy)")
    p.add_argument("--mode", default="auto", help="client negotiation: auto | legacy | 2026-07-28 (default auto)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (config, logs, audit file)")
    p.add_argument("--guardrails-only", action="store_true", help="stop after the guardrail scenes (no incident)")
    ns = p.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    workdir = Path(tempfile.mkdtemp(prefix="drawbridge-demo-"))
    try:
        return run(ns, workdir)
    except StartError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; stopped the demo processes", file=sys.stderr)
        return 130
    finally:
        _cleanup(workdir, keep=ns.keep)


def _cleanup(workdir: Path, *, keep: bool) -> None:
    if keep:
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
