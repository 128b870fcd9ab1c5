"""The approval queue on a real store: decided once, by an allowed approver, for the arguments reviewed,
collected once by the call that waits; every step and refusal audited."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from proxy.approvals import ApprovalBook, ApprovalRefused, ApprovalRequest
from proxy.state.model import Store

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(memory_store: Store) -> Store:
    return memory_store


def request(seconds: float = 30, approval_id: str = "ap-00000000000000aa") -> ApprovalRequest:
    now = time.time()
    return ApprovalRequest(id=approval_id, principal="alice", agent="agent-a", session_id="s1", client_key="s1",
                           upstream="default", tool="send_email", arguments_sha256="a" * 64,
                           arguments='{"to": "x@example.com"}', policy_version="p1", rule_id="mail-needs-a-human",
                           created=now, expires=now + seconds)


def actions(events: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in events]


async def test_a_decision_wakes_the_waiting_call_and_is_used_once(store: Store) -> None:
    events: list[dict[str, Any]] = []
    book = ApprovalBook(store, events.append)
    held = request()
    await book.open(held)
    assert [r.id for r in await book.pending()] == [held.id]
    waiting = asyncio.create_task(book.wait(held))
    await asyncio.sleep(0.05)
    done = await book.decide(held.id, "approved", actor="oncall-bob", reason="ok", approvers=("oncall-*",),
                             arguments_sha256=held.arguments_sha256)
    got = await asyncio.wait_for(waiting, 5)
    assert got is not None and (got.status, got.decided_by) == ("approved", "oncall-bob") and done.id == held.id
    assert await book.pending() == [] and await book.use(held.id) is None  # collected: nothing left to reuse
    assert actions(events) == ["requested", "approved"]
    assert events[1]["actor"] == "oncall-bob" and events[1]["arguments_sha256"] == held.arguments_sha256


async def test_refused_decisions_name_why_and_leave_the_request_pending(store: Store) -> None:
    events: list[dict[str, Any]] = []
    book = ApprovalBook(store, events.append)
    held = request()
    await book.open(held)
    with pytest.raises(ApprovalRefused) as who:
        await book.decide(held.id, "approved", actor="intern", reason="?", approvers=("oncall-*",))
    with pytest.raises(ApprovalRefused) as what:
        await book.decide(held.id, "approved", actor="oncall-bob", reason="ok", approvers=("*",),
                          arguments_sha256="b" * 64)
    assert (who.value.status, who.value.code) == (403, "not_an_approver")
    assert (what.value.status, what.value.code) == (409, "arguments_mismatch")
    assert [r.id for r in await book.pending()] == [held.id]
    await book.decide(held.id, "denied", actor="oncall-bob", reason="no", approvers=("*",))
    with pytest.raises(ApprovalRefused) as twice:
        await book.decide(held.id, "approved", actor="oncall-eve", reason="yes", approvers=("*",))
    assert (twice.value.status, twice.value.code) == (409, "already_decided")
    with pytest.raises(ApprovalRefused) as unknown:
        await book.decide("ap-ffffffffffffffff", "approved", actor="oncall-bob", reason="?", approvers=("*",))
    assert unknown.value.status == 404
    assert actions(events) == ["requested", "refused", "refused", "denied", "refused"]
    assert [e.get("refusal") for e in events if e["action"] == "refused"] == [
        "not_an_approver", "arguments_mismatch", "already_decided"]


async def test_an_undecided_request_expires_and_cannot_be_approved_late(store: Store) -> None:
    events: list[dict[str, Any]] = []
    book = ApprovalBook(store, events.append)
    held = request(seconds=0.3)
    await book.open(held)
    assert await asyncio.wait_for(book.wait(held), 5) is None
    with pytest.raises(ApprovalRefused) as late:
        await book.decide(held.id, "approved", actor="oncall-bob", reason="late", approvers=("*",))
    assert late.value.status == 404
    assert actions(events) == ["requested", "expired"]


async def test_an_expired_request_is_not_listed_and_refused_even_before_the_holder_withdraws_it(
        store: Store) -> None:
    events: list[dict[str, Any]] = []
    book = ApprovalBook(store, events.append)
    stale = replace(request(), expires=time.time() - 1)
    await book.open(stale)
    assert await book.pending() == []
    with pytest.raises(ApprovalRefused) as late:
        await book.decide(stale.id, "approved", actor="oncall-bob", reason="late", approvers=("*",))
    assert (late.value.status, late.value.code) == (409, "expired")


async def test_an_answer_in_the_agents_ui_is_taken_once(store: Store) -> None:
    events: list[dict[str, Any]] = []
    book = ApprovalBook(store, events.append)
    held = request()
    await book.open(held)
    first = await book.answer_in_band(held.id, "approved", actor="principal:alice")
    assert first is not None and first.status == "approved"
    assert await book.answer_in_band(held.id, "approved", actor="principal:alice") is None  # a replay
    assert actions(events) == ["requested", "approved"] and events[1]["channel"] == "elicitation"
