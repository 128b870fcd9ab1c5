"""Handshake-era sessions are bound to the principal that opened them."""

from __future__ import annotations

from proxy.http.sessions import SessionTable


def test_bind_then_same_principal_may_use_it() -> None:
    table = SessionTable()
    bound = table.bind("notes", "s-1", "alice", "claude")
    assert (bound.session_id, bound.upstream, bound.principal, bound.agent) == ("s-1", "notes", "alice", "claude")
    assert table.check("notes", "s-1", "alice", "claude") is bound


def test_another_principal_is_refused() -> None:
    table = SessionTable()
    table.bind("notes", "s-1", "alice", None)
    assert table.check("notes", "s-1", "mallory", None) is None
    assert table.check("notes", "s-1", "alice", None) is not None  # still alice's


def test_sessions_are_per_upstream() -> None:
    table = SessionTable()
    table.bind("notes", "s-1", "alice", None)
    other = table.check("git", "s-1", "bob", None)
    assert other is not None and other.principal == "bob"
    assert table.check("notes", "s-1", "bob", None) is None


def test_unknown_session_is_bound_to_first_presenter() -> None:
    table = SessionTable()
    first = table.check("notes", "after-restart", "alice", None)
    assert first is not None and first.principal == "alice"
    assert table.check("notes", "after-restart", "bob", None) is None


def test_drop_forgets_the_session() -> None:
    table = SessionTable()
    table.bind("notes", "s-1", "alice", None)
    table.drop("notes", "s-1")
    assert table.list() == []
    table.drop("notes", "s-1")  # dropping twice is harmless
    rebound = table.check("notes", "s-1", "bob", None)
    assert rebound is not None and rebound.principal == "bob"


def test_list_sessions() -> None:
    table = SessionTable()
    table.bind("a", "1", "alice", None)
    table.bind("b", "2", "bob", "bot")
    assert sorted((s.upstream, s.session_id, s.principal) for s in table.list()) == [
        ("a", "1", "alice"), ("b", "2", "bob")]


def test_counters_survive_checks() -> None:
    table = SessionTable()
    info = table.bind("a", "1", "alice", None)
    info.calls += 2
    info.bytes_in += 10
    checked = table.check("a", "1", "alice", None)
    assert checked is not None and (checked.calls, checked.bytes_in, checked.bytes_out) == (2, 10, 0)
