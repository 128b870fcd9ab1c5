"""The demo's second act: an incident, from the poisoned result to the replay that proves the fix.

Runs after the guardrail scenes (`agent.py`) against the same Drawbridge, with the responder's commands as a
responder would type them (`python -m proxy …` with the admin API's URL and token in the environment):

1. a poisoned tool result (a planted note that tells the agent to mail the API keys out) is refused;
2. the `result_injection` alert it raises;
3. a responder quarantines the principal through the CLI, and the agent's next call is refused;
4. the evidence sealed at containment;
5. the timeline with time to detect and to contain;
6. the evidence bundle, verified, and a replay proving a hardened policy refuses the attack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from proxy.demo.agent import Term, _call, _error_text, _text
from proxy.errors import ErrorCode

POISONED_QUERY = "vendor onboarding"
ALERT_WAIT_SECONDS = 5.0
HARDENED_RULE = """\
version: 1
description: hardened after the incident - the notes tool served attacker-controlled text
rules:
  - id: no-notes-until-cleaned
    effect: forbid
    methods: [tools/call]
    names: [search_notes]
    severity: SEV-2
"""


@dataclass(frozen=True)
class Stage:
    """Where the demo runs: the MCP URL and key, the config and audit file, the admin API, a work directory."""

    url: str
    api_key: str
    config: Path
    audit: Path
    admin_url: str
    admin_token: str
    workdir: Path
    principal: str
    policy: Path
    timeout: float = 30.0


def responder(stage: Stage, *args: str) -> subprocess.CompletedProcess[str]:
    """`drawbridge ARGS…` as the on-call engineer runs it."""
    env = {**os.environ, "DRAWBRIDGE_ADMIN_URL": stage.admin_url, "DRAWBRIDGE_ADMIN_TOKEN": stage.admin_token,
           "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True, text=True,
                          timeout=stage.timeout * 2, env=env, check=False)


def _events(path: Path, event_type: str) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("event_type") == event_type:
            out.append(event)
    return out


async def _session(stage: Stage, term: Term) -> None:
    """The agent's session: the poisoned result, then (while it is still connected) the responder acts."""
    headers = {"x-api-key": stage.api_key}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(10.0, read=stage.timeout))
    async with http:
        transport = streamable_http_client(stage.url, http_client=http)
        async with Client(transport, read_timeout_seconds=stage.timeout) as client:
            outcome = await _call(term, client, "search_notes", {"query": POISONED_QUERY})
            if isinstance(outcome, MCPError):
                term.info(_error_text(outcome))
                term.check(outcome.code == ErrorCode.POLICY_DENIED and "content" in json.dumps(outcome.data),
                           "the poisoned result was refused by content inspection; the agent never read it")
            else:
                term.info(f"answer: {_text(outcome)}")
                term.check(False, "the poisoned result reached the agent")
            await anyio.to_thread.run_sync(_alert, stage, term)
            await anyio.to_thread.run_sync(_quarantine, stage, term)
            term.step("the agent, still connected, tries again")
            outcome = await _call(term, client, "get_weather", {"city": "Paris"})
            refused = isinstance(outcome, MCPError) and outcome.code == ErrorCode.QUARANTINED
            term.info(_error_text(outcome) if isinstance(outcome, MCPError) else f"answer: {_text(outcome)}")
            term.check(refused, "its next call is refused: the principal is quarantined (-32053)")


def _alert(stage: Stage, term: Term) -> None:
    term.step("detection: the alert it raises")
    deadline = time.monotonic() + ALERT_WAIT_SECONDS
    while not (found := [a for a in _events(stage.audit, "alert") if a.get("detection") == "result_injection"]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for alert in found[:1]:
        term.info(f"alert {alert['detection']} {alert['severity']} ATLAS {alert['atlas']}: {alert['summary']}")
    term.check(bool(found), "a result_injection alert is in the audit stream")


def _quarantine(stage: Stage, term: Term) -> None:
    term.step("containment: the responder quarantines the principal")
    term.info(f"$ drawbridge quarantine principal {stage.principal} --reason 'poisoned note' --ticket DEMO-1")
    _show(term, responder(stage, "quarantine", "principal", stage.principal, "--reason", "poisoned note",
                          "--ticket", "DEMO-1"), "quarantined on every replica, evidence sealed")


def _show(term: Term, done: subprocess.CompletedProcess[str], what: str, lines: int = 8,
          ok: tuple[int, ...] = (0,)) -> bool:
    for line in (done.stdout.strip().splitlines() or done.stderr.strip().splitlines())[:lines]:
        term.info(line)
    return term.check(done.returncode in ok, f"{what} (exit {done.returncode})")


def story(stage: Stage, term: Term) -> None:
    """Play the incident; every step is checked, so the demo's exit code says whether the story held."""
    term.step("an incident: a planted note poisons a tool result")
    try:
        anyio.run(_session, stage, term)
    except Exception as exc:  # one line, never a traceback: the step that failed is in the output above
        term.check(False, f"the agent's session failed: {type(exc).__name__}")

    term.step("the evidence sealed at containment")
    term.info("$ drawbridge evidence list")
    _show(term, responder(stage, "evidence", "list"), "the snapshot is listed")

    term.step("post-incident: the timeline, with time to detect and to contain")
    term.info(f"$ drawbridge incident timeline --principal {stage.principal} --config drawbridge.yaml --json")
    done = responder(stage, "incident", "timeline", "--principal", stage.principal, "--config", str(stage.config),
                     "--json")
    timeline = json.loads(done.stdout) if done.returncode == 0 else {}
    for name in ("first_malicious_at", "detected_at", "contained_at"):
        term.info(f"{name:<19} {timeline.get(name)}")
    mttd, mttc = timeline.get("mttd_seconds"), timeline.get("mttc_seconds")
    term.info(f"time to detect {mttd} s, time to contain {mttc} s ({len(timeline.get('events', []))} events)")
    term.check(mttd is not None and mttc is not None and 0 <= mttd <= mttc, "MTTD and MTTC measured")

    term.step("recovery: prove that a hardened policy refuses the attack")
    bundle = stage.workdir / "DEMO-1.tar.gz"
    term.info("$ drawbridge incident export --principal … -o DEMO-1.tar.gz && drawbridge incident verify DEMO-1.tar.gz")
    _show(term, responder(stage, "incident", "export", "--principal", stage.principal, "--config", str(stage.config),
                          "-o", str(bundle)), "the evidence bundle is written", lines=2)
    _show(term, responder(stage, "incident", "verify", str(bundle)), "it verifies against its manifest", lines=1)
    hardened = stage.workdir / "policy-hardened"
    shutil.copytree(stage.policy, hardened, ignore=shutil.ignore_patterns("*.test.yaml"))
    (hardened / "90-hardened.yaml").write_text(HARDENED_RULE, encoding="utf-8")
    term.info("$ drawbridge replay DEMO-1.tar.gz --policy policy-hardened   (+ forbid search_notes)")
    done = responder(stage, "replay", str(bundle), "--policy", str(hardened))
    for line in done.stdout.splitlines():
        if "search_notes" in line or line.startswith(("malicious:", "note:")):
            term.info(line.rstrip()[:150])
    term.check(done.returncode == 0, f"replay: every malicious call is refused by the hardened policy "
                                     f"(exit {done.returncode})")
