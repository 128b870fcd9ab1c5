"""The pipeline: registry order, fail closed, rewrites, accumulation and exactly one audit per run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import anyio
import pytest

from proxy.audit import AuditError
from proxy.decision import Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.pipeline import Inspection, InspectResult, Pipeline
from proxy.testing import RecordingAudit, make_exchange, request_message, tool_call
from proxy.types import Direction, MessageKind, Severity, Verdict

pytestmark = pytest.mark.anyio


class Probe(Inspection):
    """An inspection that records that it ran and returns what it is told to."""

    def __init__(self, name: str, log: list[str], result: Callable[[Exchange], Any] | InspectResult = None,
                 **attrs: Any) -> None:
        self.name = name  # type: ignore[misc]
        self._log = log
        self._result = result
        for key, value in attrs.items():
            setattr(self, key, value)

    def inspect(self, ex: Exchange) -> Any:
        self._log.append(self.name)
        return self._result(ex) if callable(self._result) else self._result


class Raising(Inspection):
    name = "exploding"

    def inspect(self, ex: Exchange) -> InspectResult:
        raise ValueError("secret-value-in-exception")


class Slow(Inspection):
    name = "slow"
    timeout_seconds = 0.05

    async def inspect(self, ex: Exchange) -> InspectResult:
        await asyncio.Event().wait()  # never set: only the pipeline's timeout ends this
        return None


class AsyncAllow(Inspection):
    name = "async_allow"

    async def inspect(self, ex: Exchange) -> InspectResult:
        await asyncio.sleep(0)
        return Decision(Verdict.ALLOW, rule_ids=("async-rule",))


def finding(name: str, severity: Severity = Severity.SEV4) -> Finding:
    return Finding(detector=name, severity=severity, message=f"{name} noticed")


async def run(inspections: list[Inspection], ex: Exchange | None = None) -> tuple[Decision, RecordingAudit]:
    audit = RecordingAudit()
    decision = await Pipeline(inspections, audit).run(ex or tool_call("t", {"a": 1}))
    return decision, audit


async def test_no_inspections_allows() -> None:
    decision, audit = await run([])
    assert decision.verdict is Verdict.ALLOW
    assert decision.message is None
    assert len(audit.calls) == 1


async def test_run_order_is_registry_order() -> None:
    log: list[str] = []
    await run([Probe("c", log), Probe("a", log), Probe("b", log)])
    assert log == ["c", "a", "b"]


async def test_inspections_that_do_not_apply_are_skipped() -> None:
    log: list[str] = []

    class OnlyList(Probe):
        methods: ClassVar[frozenset[str] | None] = frozenset({"tools/list"})

    class OnlyToClient(Probe):
        directions = frozenset({Direction.TO_CLIENT})

    class OnlyResponses(Probe):
        kinds = frozenset({MessageKind.RESPONSE})

    await run([OnlyList("list", log), OnlyToClient("client", log), OnlyResponses("resp", log), Probe("all", log)])
    assert log == ["all"]


async def test_raising_inspection_denies_fail_closed() -> None:
    log: list[str] = []
    decision, audit = await run([Raising(), Probe("after", log)])
    assert decision.verdict is Verdict.DENY
    assert decision.code is ErrorCode.INSPECTION_FAILED
    assert decision.check == "exploding"
    assert "exploding" in decision.reason and "fail closed" in decision.reason
    assert "secret-value-in-exception" not in decision.reason
    assert [f.detector for f in decision.findings] == ["exploding.error"]
    assert "exploding" in decision.findings[0].message
    assert log == []  # nothing runs after a deny
    assert audit.decisions == [decision]


async def test_raising_inspection_with_failure_mode_open_allows_with_finding() -> None:
    log: list[str] = []
    opened = Raising()
    opened.failure_mode = "open"
    decision, _ = await run([opened, Probe("after", log)])
    assert decision.verdict is Verdict.ALLOW
    assert [f.detector for f in decision.findings] == ["exploding.error"]
    assert log == ["after"]


async def test_async_inspection_over_its_timeout_denies() -> None:
    with anyio.fail_after(30):  # a guard against hanging if the pipeline stopped enforcing the timeout
        decision, audit = await run([Slow()])
    assert decision.verdict is Verdict.DENY
    assert decision.code is ErrorCode.INSPECTION_FAILED
    assert "slow" in decision.reason and "timed out" in decision.reason
    assert decision.findings[0].detector == "slow.error"
    assert len(audit.calls) == 1


async def test_async_inspection_over_its_timeout_with_failure_mode_open_allows() -> None:
    slow = Slow()
    slow.failure_mode = "open"
    with anyio.fail_after(30):
        decision, _ = await run([slow])
    assert decision.verdict is Verdict.ALLOW
    assert decision.findings[0].detector == "slow.error"


async def test_async_inspection_result_is_used() -> None:
    decision, _ = await run([AsyncAllow()])
    assert decision.verdict is Verdict.ALLOW
    assert decision.rule_ids == ("async-rule",)


async def test_first_deny_stops_later_inspections() -> None:
    log: list[str] = []
    decision, _ = await run([
        Probe("first", log, Decision(Verdict.ALLOW, rule_ids=("r1",), findings=(finding("f1"),))),
        Probe("gate", log, deny("nope", rule_ids=("r2",), code=ErrorCode.METHOD_NOT_FOUND,
                                 findings=(finding("f2", Severity.SEV2),))),
        Probe("never", log, deny("other")),
    ])
    assert log == ["first", "gate"]
    assert decision.verdict is Verdict.DENY
    assert decision.reason == "nope"
    assert decision.code is ErrorCode.METHOD_NOT_FOUND
    assert decision.check == "gate"  # named after the inspection when the decision does not say
    assert decision.rule_ids == ("r1", "r2")
    assert [f.detector for f in decision.findings] == ["f1", "f2"]
    assert decision.severity is Severity.SEV2


async def test_quarantine_also_stops_and_keeps_its_verdict() -> None:
    log: list[str] = []
    decision, _ = await run([Probe("q", log, Decision(Verdict.QUARANTINE, reason="contained",
                                                      code=ErrorCode.QUARANTINED, check="gate")),
                             Probe("never", log)])
    assert log == ["q"]
    assert decision.verdict is Verdict.QUARANTINE
    assert decision.code is ErrorCode.QUARANTINED
    assert decision.check == "gate"


async def test_findings_and_rule_ids_accumulate_on_allow() -> None:
    log: list[str] = []
    decision, _ = await run([
        Probe("a", log, Decision(Verdict.ALLOW, rule_ids=("r1",), findings=(finding("f1"),))),
        Probe("none", log, None),
        Probe("b", log, Decision(Verdict.ALLOW, rule_ids=("r2", "r3"), findings=(finding("f2", Severity.SEV3),))),
    ])
    assert decision.verdict is Verdict.ALLOW
    assert decision.rule_ids == ("r1", "r2", "r3")
    assert [f.detector for f in decision.findings] == ["f1", "f2"]
    assert decision.severity is Severity.SEV3
    assert decision.message is None


async def test_rewrite_is_seen_by_later_inspections_and_carried_by_the_decision() -> None:
    seen: list[Any] = []
    original = tool_call("t", {"a": 1}, request_id=4)
    replacement = request_message("tools/call", {"name": "t", "arguments": {"a": 2}}, 4)

    def look(ex: Exchange) -> None:
        seen.append(ex.arguments)

    log: list[str] = []
    decision, audit = await run([
        Probe("before", log, look),
        Probe("rewriter", log, Decision(Verdict.REWRITE, message=replacement, rule_ids=("rw",))),
        Probe("after", log, look),
    ], original)
    assert seen == [{"a": 1}, {"a": 2}]
    assert decision.verdict is Verdict.REWRITE
    assert decision.message == replacement
    assert decision.rule_ids == ("rw",)
    assert audit.calls[0][0].message == replacement


async def test_two_rewrites_chain() -> None:
    log: list[str] = []

    def bump(ex: Exchange) -> Decision:
        args = ex.arguments
        msg = request_message("tools/call", {"name": "t", "arguments": {"a": args["a"] + 1}}, 1)
        return Decision(Verdict.REWRITE, message=msg)

    decision, _ = await run([Probe("one", log, bump), Probe("two", log, bump)])
    assert decision.message is not None
    assert decision.message["params"]["arguments"] == {"a": 3}


async def test_rewrite_then_deny_is_a_deny_without_message() -> None:
    log: list[str] = []
    decision, _ = await run([
        Probe("rw", log, Decision(Verdict.REWRITE, message=request_message("ping"))),
        Probe("no", log, deny("no")),
    ])
    assert decision.verdict is Verdict.DENY
    assert decision.message is None


async def test_exactly_one_audit_call_per_run_with_the_returned_decision() -> None:
    log: list[str] = []
    audit = RecordingAudit()
    pipeline = Pipeline([Probe("a", log), Probe("b", log, deny("no"))], audit)
    ex = tool_call("t")
    decision = await pipeline.run(ex)
    assert len(audit.calls) == 1
    assert audit.calls[0] == (ex, decision)
    await pipeline.run(make_exchange("ping"))
    assert len(audit.calls) == 2


async def test_decide_alone_does_not_audit_and_record_does() -> None:
    audit = RecordingAudit()
    pipeline = Pipeline([], audit)
    ex = make_exchange("ping")
    decision = await pipeline.decide(ex)
    assert audit.calls == []
    refused = deny("too big", code=ErrorCode.LIMIT_EXCEEDED, check="limits")
    assert pipeline.record(ex, refused) is refused
    assert audit.decisions == [refused]
    assert decision.verdict is Verdict.ALLOW


@pytest.mark.parametrize("verdict_of_inspection", [None, deny("no")])
async def test_audit_failure_turns_the_decision_into_internal_error_deny(verdict_of_inspection: Any) -> None:
    calls: list[Decision] = []

    def failing_audit(ex: Exchange, decision: Decision) -> None:
        calls.append(decision)
        raise AuditError("audit sink write failed: disk full")

    log: list[str] = []
    decision = await Pipeline([Probe("p", log, verdict_of_inspection)], failing_audit).run(tool_call("t"))
    assert len(calls) == 1
    assert decision.verdict is Verdict.DENY
    assert decision.code is ErrorCode.INTERNAL_ERROR
    assert decision.blocks
    assert "audit" in decision.reason


async def test_inspection_applies_uses_method_of_answered_request() -> None:
    log: list[str] = []

    class ListAnswers(Probe):
        methods: ClassVar[frozenset[str] | None] = frozenset({"tools/list"})
        directions = frozenset({Direction.TO_CLIENT})

    answer = make_exchange(None, request=request_message("tools/list", {}), result={"tools": []},
                           direction=Direction.TO_CLIENT)
    await run([ListAnswers("answers", log)], answer)
    assert log == ["answers"]
