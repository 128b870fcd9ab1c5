"""Live calls: containment finds in-flight calls by subject and cancels them with a reason."""

import asyncio

import pytest

from proxy.http.call import Call
from proxy.http.live import LiveCalls
from proxy.types import Era

pytestmark = pytest.mark.anyio


def make_call(principal: str, agent: str | None = None, session: str | None = None) -> Call:
    return Call("default", principal, agent, None, session, Era.HANDSHAKE, None, client_key=session)


async def test_kill_cancels_matching_calls_with_their_reason() -> None:
    live = LiveCalls()
    waits = [asyncio.ensure_future(asyncio.sleep(30)) for _ in range(3)]
    keys = [live.add(make_call("alice", "a1", "s1"), waits[0])[0], live.add(make_call("bob", "a1"), waits[1])[0],
            live.add(make_call("carol", session="s9"), waits[2])[0]]
    by_agent = live.matching(agent="a1")
    assert {c.call.principal for c in by_agent} == {"alice", "bob"}
    assert live.kill(live.matching(principal="alice"), "quarantined") == 1
    await asyncio.sleep(0)
    assert waits[0].cancelled() and not waits[1].done() and not waits[2].done()
    assert [c.killed for c in by_agent] == ["quarantined", None]
    assert [c.call.principal for c in live.matching(session="s9")] == ["carol"]
    for key in keys:
        live.remove(key)
    assert len(live) == 0
    for wait in waits[1:]:
        wait.cancel()
