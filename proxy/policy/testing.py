"""Policy test cases kept beside the policies (`*.test.yaml`), run by the CLI and by pytest alike.

Each case runs through the full pipeline the proxy runs (containment, pairing, canaries, method and shape
gates, egress, content, pins, policy, listing filter, content of answers, then evidence, automated
containment and the audit event), on a fresh in-memory store holding the case's `state`. So a case can
expect a content block, an egress refusal, a filtered listing or a quarantine, not only a rule match.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from proxy.decision import Decision
from proxy.exchange import Exchange
from proxy.globs import cached_globs
from proxy.mcp_methods import LISTINGS
from proxy.policy.holder import PolicyHolder
from proxy.policy.loader import TEST_SUFFIXES
from proxy.policy.model import CaseExpectation, CaseRequest, CaseState, PolicyCase, PolicyTestFile
from proxy.types import Direction, Era, JsonObject, Transport, Verdict
from proxy.yamlfile import read_yaml, validate_model

ACTOR = "drawbridge:policy-test"


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: Path
    case: PolicyCase
    problems: tuple[str, ...]
    verdict: str
    rule_ids: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        status = "ok  " if self.passed else "FAIL"
        line = f"{status} {self.file.name}: {self.case.name}"
        return line + (f" ({'; '.join(self.problems)})" if self.problems else "")


def policy_test_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.test.y*ml") if p.is_file() and p.name.endswith(TEST_SUFFIXES)
                  and not any(part.startswith(".") for part in p.relative_to(directory).parts))


def load_policy_tests(directory: Path) -> list[tuple[Path, PolicyTestFile]]:
    """Parse every test file under `directory`. Raises ConfigError on a malformed file."""
    return [(path, validate_model(PolicyTestFile, read_yaml(path), path)) for path in policy_test_files(directory)]


def run_policy_tests(directory: Path) -> list[CaseResult]:
    """Run every case of every test file under `directory` against the policy set in `directory`.

    Raises ConfigError on a malformed test file and PolicyError on a policy that does not load.
    """
    files = load_policy_tests(directory)
    if not files:
        return []
    return asyncio.run(_run_files(directory, files))


async def _run_files(directory: Path, files: list[tuple[Path, PolicyTestFile]]) -> list[CaseResult]:
    holder = PolicyHolder(directory)
    with tempfile.TemporaryDirectory(prefix="drawbridge-policy-test-") as scratch:
        return [await _run_case(holder, Path(scratch), case, path) for path, parsed in files for case in parsed.cases]


class _Events:
    """An audit sink that keeps the case's events."""

    def __init__(self) -> None:
        self.events: list[JsonObject] = []

    def write(self, line: bytes) -> None:
        self.events.append(orjson.loads(line))

    def close(self) -> None:
        return None


async def _run_case(holder: PolicyHolder, scratch: Path, case: PolicyCase, file: Path) -> CaseResult:
    from proxy.admin.config import AdminConfig
    from proxy.config import Config
    from proxy.inspections.approval import ApprovalCheck
    from proxy.runtime import Runtime

    events = _Events()
    config = Config(policy=holder.directory, store="sqlite::memory:",
                    admin=AdminConfig(evidence_dir=scratch / "evidence"))
    runtime = Runtime.build(config, sinks=[events], holder=holder)
    for check in runtime.pipeline.inspections:  # a case reports a hold for approval instead of waiting for one
        if isinstance(check, ApprovalCheck):
            check.report_only = True
    await runtime.store.start()
    try:
        await _apply_state(runtime, case.state)
        ex = _exchange(case.request)
        decision = await runtime.pipeline.run(ex)
        await runtime.auto.drain()
        problems = _compare(case.expect, ex, decision, events.events,
                            [(q.kind, q.subject, q.mode) for q in runtime.store.state().quarantines])
    finally:
        await runtime.aclose()
    return CaseResult(file, case, tuple(problems), decision.verdict.value, decision.rule_ids)


async def _apply_state(runtime: Any, state: CaseState) -> None:
    from proxy.admin.routes_overlays import normalize_host
    from proxy.state.model import DenyOverlay, EgressDeny, Quarantine

    store = runtime.store
    for q in state.quarantines:
        await store.put_quarantine(Quarantine(q.kind, q.subject, q.mode, "policy test case", ACTOR))
    for index, overlay in enumerate(state.deny_tools):
        await store.put_deny_overlay(DenyOverlay(f"case-dt-{index}", overlay.kind, overlay.subject, overlay.tools,
                                                 "policy test case", ACTOR))
    for index, deny in enumerate(state.egress_denies):
        await store.put_egress_deny(EgressDeny(f"case-eg-{index}", normalize_host(deny.host), "policy test case",
                                               ACTOR, agent=deny.agent, principal=deny.principal))
    for upstream, tools in state.listed_tools.items():
        runtime.catalog.learn(upstream, list(tools))
    await runtime.catalog.flush()


def _exchange(req: CaseRequest) -> Exchange:
    """The exchange a transport would build for the case's message."""
    from proxy.testing.factories import make_exchange, request_message, response_message

    if req.params is not None:
        params: JsonObject | None = dict(req.params)
    elif req.name is not None or req.arguments is not None:
        params = {k: v for k, v in (("name", req.name), ("arguments", req.arguments)) if v is not None}
    else:
        params = None
    common: dict[str, Any] = {
        "direction": Direction(req.direction), "principal": req.principal, "agent": req.agent,
        "upstream": req.upstream, "era": Era(req.era), "session_id": req.session,
        "transport": Transport(req.transport)}
    if req.kind == "response":
        request = request_message(req.method, req.request_params, 1)
        answer = response_message(request, {} if req.result is None else req.result)
        ex = make_exchange(None, message=answer, request=None if req.unsolicited else request, **common)
    else:
        ex = make_exchange(req.method, params=params, request_id=1 if req.kind == "request" else None, **common)
    ex.client_key = req.session or f"case:{req.principal}"
    return ex


def _compare(want: CaseExpectation, ex: Exchange, decision: Decision, events: list[JsonObject],
             quarantines: list[tuple[str, str, str]]) -> list[str]:
    problems: list[str] = []
    verdict = decision.verdict.value
    if verdict != want.verdict:
        problems.append(f"verdict {verdict}, expected {want.verdict}"
                        + (f" ({decision.check}: {decision.reason})" if decision.reason else ""))
    if want.rule_ids is not None and sorted(want.rule_ids) != sorted(decision.rule_ids):
        problems.append(f"rule ids {list(decision.rule_ids)}, expected {list(want.rule_ids)}")
    detectors = [f.detector for f in decision.findings]
    if want.findings is not None:
        if not want.findings and detectors:
            problems.append(f"findings {detectors}, expected none")
        problems.extend(f"no finding matches {glob!r} (got {detectors})" for glob in want.findings
                        if not any(cached_globs((glob,)).fullmatch(d) for d in detectors))
    code = int(decision.code) if decision.blocks else None
    if want.error_code is not None and code != want.error_code:
        problems.append(f"error code {code}, expected {want.error_code}")
    if want.check is not None and decision.check != want.check:
        problems.append(f"check {decision.check or None!r}, expected {want.check!r}")
    waived = (decision.would_deny or {}).get("check")
    if want.would_deny is not None and waived != want.would_deny:
        problems.append(f"would_deny {waived!r}, expected {want.would_deny!r}")
    if want.listed is not None:
        listed = _listed_names(ex, decision)
        if listed != list(want.listed):
            problems.append(f"listed {listed}, expected {list(want.listed)}")
    if want.contained is not None:
        subject = {"principal": ex.principal, "agent": ex.agent, "session": ex.client_key}[want.contained.kind]
        if (want.contained.kind, subject, want.contained.mode) not in quarantines:
            problems.append(f"{want.contained.kind} {subject} not quarantined ({want.contained.mode}); "
                            f"quarantines: {quarantines}")
    decisions = [e for e in events if e.get("event_type") == "decision"]
    if len(decisions) != 1:
        problems.append(f"{len(decisions)} audit decision events, expected exactly one")
    elif decisions[0].get("verdict") != verdict:
        problems.append(f"audit event says {decisions[0].get('verdict')}, the decision was {verdict}")
    return problems


def _listed_names(ex: Exchange, decision: Decision) -> list[str] | None:
    """The names (or URIs) of the items a listing answer delivers to the agent, after any rewrite."""
    if ex.method not in LISTINGS or decision.blocks:
        return None
    message = decision.message if decision.verdict is Verdict.REWRITE and decision.message else ex.message
    result = message.get("result")
    items = result.get(LISTINGS[ex.method][0]) if isinstance(result, dict) else None
    if not isinstance(items, list):
        return None
    return [str(item.get("name", item.get("uri"))) for item in items if isinstance(item, dict)]
