"""Hold a sensitive tool call until a human approves exactly that call.

A call needs approval when a permitting policy rule says `approval: required`, or when its subject is
quarantined in mode `approval`. It becomes an approval request in the shared store (bound to the principal,
route, tool and the SHA-256 of the canonical arguments; single use) and then either
- a 2026-07-28 agent that declares elicitation support is answered `input_required`: its user approves in
  the agent's own UI and the agent retries with the answer and the sealed `requestState`, or
- the call waits (up to `settings.approval.timeout_seconds`) for a responder's decision, taken on any
  replica (`drawbridge approvals approve|deny`, the admin API, the console).
Denied, expired, tampered or replayed approvals refuse the call with -32055 naming the approval.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from proxy.approvals import ApprovalBook, ApprovalRequest
from proxy.approvals.requests import new_approval_id, shown_arguments
from proxy.approvals.state_token import ApprovalState, InvalidState, StateSealer, is_ours
from proxy.canonical import canonical_sha256
from proxy.decision import Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.exchange import SLOW_DECISION_NOTE, Exchange
from proxy.pairing import ServerRequests
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder, Query
from proxy.types import Direction, Era, JsonObject, MessageKind, Severity, Verdict

APPROVAL_MODE_NOTE = "approval_mode"  # set by the containment gate: the subject is quarantined in mode approval
APPROVAL_NOTE = "approval"  # what the call's decision event says about its approval
QUARANTINE_APPROVAL_RULE = "containment-approval"
INPUT_KEY = "drawbridge_approval"
CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
MAX_WAIT_SECONDS = 3600.0


def _wants_elicitation(ex: Exchange) -> bool:
    meta = ex.params.get("_meta")
    caps = meta.get(CLIENT_CAPABILITIES) if isinstance(meta, dict) else None
    return ex.era is Era.MODERN and isinstance(caps, dict) and isinstance(caps.get("elicitation"), dict)


def _question(request: ApprovalRequest) -> JsonObject:
    """The elicitation the agent's user answers."""
    message = (f"Drawbridge holds this call for your approval ({request.id}): tool {request.tool} on "
               f"{request.upstream} with arguments {request.arguments} (policy rule {request.rule_id}). Approve it?")
    return {"method": "elicitation/create", "params": {"message": message[:4000], "requestedSchema": {
        "type": "object", "required": ["approve"],
        "properties": {"approve": {"type": "boolean", "title": "Approve this call",
                                   "description": f"Run {request.tool} once with exactly these arguments"}}}}}


def _approved(answer: Any) -> bool:
    content = answer.get("content") if isinstance(answer, dict) else None
    return (isinstance(answer, dict) and answer.get("action") == "accept" and isinstance(content, dict)
            and content.get("approve") is True)


class ApprovalCheck(Inspection):
    """Ask a human before a held tool call goes upstream; fail closed on every doubt."""

    name = "approval"
    methods = frozenset({"tools/call"})
    directions = frozenset({Direction.TO_SERVER})
    kinds = frozenset({MessageKind.REQUEST})
    timeout_seconds = MAX_WAIT_SECONDS + 30  # the wait is bounded by the policy's own timeout

    def __init__(self, holder: PolicyHolder, book: ApprovalBook, pairing: ServerRequests,
                 sealer: StateSealer | None) -> None:
        self._holder = holder
        self._book = book
        self._pairing = pairing
        self._sealer = sealer
        self.report_only = False  # policy tests: refuse with "would be held" at once instead of waiting

    def inspect(self, ex: Exchange) -> Any:
        rule = self._held_by(ex)
        if rule is None:
            return None
        return self._hold(ex, rule)

    def _held_by(self, ex: Exchange) -> str | None:
        """The rule that holds this call for approval, if any (no cost when no rule asks for approval)."""
        if ex.notes.get(APPROVAL_MODE_NOTE):
            return QUARANTINE_APPROVAL_RULE
        policy = self._holder.policy
        if not policy.holds_for_approval:
            return None
        result = policy.evaluate(Query(direction=ex.direction.value, principal=ex.principal, agent=ex.agent,
                                       upstream=ex.upstream, method="tools/call", name=ex.target_name,
                                       arguments=ex.arguments))
        return result.approval[0] if result.allowed and result.approval else None

    def _shadowed(self, ex: Exchange, rule: str) -> bool:
        """A policy hold in shadow is only reported (`would_deny`); a containment hold always waits."""
        shadow = self._holder.policy.settings.shadow
        return rule != QUARANTINE_APPROVAL_RULE and shadow.active and shadow.covers(ex.upstream, ex.principal,
                                                                                     ex.agent)

    async def _hold(self, ex: Exchange, rule: str) -> Decision | None:
        if self.report_only or self._shadowed(ex, rule):
            return deny(f"would be held for a human's approval (rule {rule})",
                        code=ErrorCode.APPROVAL_NOT_GRANTED, rule_ids=(rule,), check=self.name)
        settings = self._holder.policy.settings.approval
        # In band trusts the agent's own client to show the question to a person: never for a contained subject.
        in_band = (self._sealer is not None and settings.in_band and rule != QUARANTINE_APPROVAL_RULE
                   and _wants_elicitation(ex))
        arguments_sha256 = canonical_sha256(ex.arguments)
        if in_band and is_ours(ex.params.get("requestState")):
            return await self._answered(ex, arguments_sha256)
        now = time.time()
        request = ApprovalRequest(
            id=new_approval_id(), principal=ex.principal, agent=ex.agent, session_id=ex.session_id,
            client_key=ex.client_key, upstream=ex.upstream, tool=ex.tool_name or "",
            arguments_sha256=arguments_sha256, arguments=shown_arguments(ex.arguments),
            policy_version=self._holder.policy.version, rule_id=rule, created=now,
            expires=now + min(settings.timeout_seconds, MAX_WAIT_SECONDS))
        await self._book.open(request)
        if in_band:
            return await self._ask(ex, request)
        slow = ex.notes.get(SLOW_DECISION_NOTE)
        if slow is not None:  # the transport keeps the agent's connection alive while a person decides
            await slow()
        try:
            decided = await self._book.wait(request)
        except asyncio.CancelledError:  # the proxy is stopping: withdraw the request, refuse the call, audit both
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._book.expire(request, actor="drawbridge:stopping")
            return self._refuse(ex, request, "expired", f"approval {request.id} withdrawn: the proxy is stopping")
        if decided is None:
            return self._refuse(ex, request, "expired", f"approval {request.id} expired after "
                                f"{settings.timeout_seconds:g} s without a decision")
        if decided.status != "approved":
            return self._refuse(ex, decided, "denied", f"call denied by {decided.decided_by} (approval {decided.id})")
        return self._granted(ex, decided)

    async def _ask(self, ex: Exchange, request: ApprovalRequest) -> Decision:
        """Answer `input_required` with the sealed state (the call is not forwarded; the agent retries)."""
        assert self._sealer is not None
        state = self._sealer.seal(ApprovalState(request.id, request.principal, request.arguments_sha256,
                                                request.expires))
        await self._pairing.expect_input(ex, INPUT_KEY, "elicitation/create")
        ex.notes[APPROVAL_NOTE] = {"id": request.id, "status": "pending", "channel": "elicitation"}
        reply: JsonObject = {"resultType": "input_required", "inputRequests": {INPUT_KEY: _question(request)},
                             "requestState": state}
        return Decision(Verdict.DENY, reason=f"held for approval {request.id}: asked the agent's user",
                        rule_ids=(request.rule_id,), check=self.name, code=ErrorCode.APPROVAL_NOT_GRANTED,
                        reply=reply)

    async def _answered(self, ex: Exchange, arguments_sha256: str) -> Decision:
        """The agent's retry after its user answered: the state must be intact, this principal's, for these
        arguments, unexpired and unused; then the call goes upstream without the proxy's own parts."""
        assert self._sealer is not None
        try:
            state = self._sealer.open(str(ex.params["requestState"]))
        except InvalidState as exc:
            return self._invalid(ex, None, str(exc))
        request = await self._book.find(state.approval_id)
        if request is None:
            return self._invalid(ex, None, "approval already used, decided or expired")
        if state.principal != ex.principal or request.principal != ex.principal:
            return self._invalid(ex, request, "approval state is for another principal")
        if state.arguments_sha256 != arguments_sha256 or request.arguments_sha256 != arguments_sha256:
            return self._invalid(ex, request, "approval state is for other arguments")
        if (request.tool, request.upstream) != (ex.tool_name, ex.upstream):
            return self._invalid(ex, request, "approval state is for another tool or route")
        responses = ex.params.get("inputResponses")
        answer = responses.get(INPUT_KEY) if isinstance(responses, dict) else None
        actor = f"principal:{ex.principal}"
        done = await self._book.answer_in_band(state.approval_id, "approved" if _approved(answer) else "denied",
                                               actor=actor)
        note: JsonObject = {"channel": "elicitation"}
        if done is None:  # a responder may have decided it out of band meanwhile: that decision counts, once
            done = await self._book.use(state.approval_id)
            if done is None:
                return self._invalid(ex, request, "approval already used, decided or expired")
            note = {}
        if done.status != "approved":
            return self._refuse(ex, done, "denied", f"call declined (approval {done.id}, by {done.decided_by})")
        params = {k: v for k, v in ex.params.items() if k != "requestState"}
        if isinstance(responses, dict):
            kept = {k: v for k, v in responses.items() if k != INPUT_KEY}
            params.pop("inputResponses", None)
            if kept:
                params["inputResponses"] = kept
        ex.notes[APPROVAL_NOTE] = {"id": done.id, "status": "approved", "by": done.decided_by, **note}
        return Decision(Verdict.REWRITE, check=self.name, message={**ex.message, "params": params},
                        note={"approval": done.id})

    def _granted(self, ex: Exchange, request: ApprovalRequest) -> Decision:
        """Let the call through (the rule that held it is already on the decision, from policy or containment)."""
        ex.notes[APPROVAL_NOTE] = {"id": request.id, "status": "approved", "by": request.decided_by}
        return Decision(Verdict.ALLOW, check=self.name)

    def _refuse(self, ex: Exchange, request: ApprovalRequest, status: str, reason: str) -> Decision:
        ex.notes[APPROVAL_NOTE] = {"id": request.id, "status": status, "by": request.decided_by}
        return deny(reason, code=ErrorCode.APPROVAL_NOT_GRANTED, rule_ids=(request.rule_id,), check=self.name,
                    error_data={"approval": {"id": request.id, "status": status}})

    def _invalid(self, ex: Exchange, request: ApprovalRequest | None, why: str) -> Decision:
        """A tampered, foreign, replayed or late approval: refused and audited."""
        if request is not None:
            self._book.refused(request, f"principal:{ex.principal}", "invalid_state", detail=why)
        ex.notes[APPROVAL_NOTE] = {"id": request.id if request else None, "status": "refused", "detail": why}
        finding = Finding(detector="approval.invalid_state", severity=Severity.SEV3, message=why,
                          surface="tool_arguments")
        return deny(f"approval refused: {why}", code=ErrorCode.APPROVAL_NOT_GRANTED, findings=(finding,),
                    check=self.name, error_data={"approval": {"id": request.id if request else None,
                                                              "status": "refused"}})
