"""The sealed requestState of an in-band approval: intact, unexpired and sealed with our key, or refused."""

from __future__ import annotations

import time

import pytest

from proxy.approvals.state_token import PREFIX, ApprovalState, InvalidState, StateSealer, is_ours

KEY = "a-key-of-at-least-thirty-two-bytes-long"
STATE = ApprovalState("ap-0123456789abcdef", "alice", "f" * 64, time.time() + 60)


def test_a_sealed_state_opens_to_what_was_sealed() -> None:
    sealer = StateSealer(KEY)
    token = sealer.seal(STATE)
    assert is_ours(token) and token.startswith(PREFIX)
    assert sealer.open(token) == STATE


@pytest.mark.parametrize("change", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the MAC
    lambda t: t.replace(PREFIX, PREFIX + "W", 1),  # the payload
    lambda t: t.rpartition(".")[0],  # no MAC at all
])
def test_any_change_is_refused(change: object) -> None:
    sealer = StateSealer(KEY)
    with pytest.raises(InvalidState):
        sealer.open(change(sealer.seal(STATE)))  # type: ignore[operator]


def test_another_key_a_late_answer_and_foreign_states_are_refused() -> None:
    token = StateSealer(KEY).seal(STATE)
    with pytest.raises(InvalidState, match="another key"):
        StateSealer(KEY + "!").open(token)
    with pytest.raises(InvalidState, match="expired"):
        StateSealer(KEY).open(token, now=STATE.expires + 1)
    with pytest.raises(InvalidState):
        StateSealer(KEY).open("an upstream's own state")
    assert not is_ours("an upstream's own state") and not is_ours(None)


def test_a_short_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        StateSealer("short")
