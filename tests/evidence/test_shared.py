"""Sealed evidence kept in the store: written by one replica, read intact by another (SQLite and Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.evidence.recorder import EvidenceRecorder
from proxy.evidence.shared import publish, shared_evidence
from proxy.evidence.snapshot import EXCHANGES, MANIFEST
from tests.state.conftest import MakeStore

pytestmark = pytest.mark.anyio


async def test_a_snapshot_sealed_on_one_replica_is_readable_and_intact_on_another(
        make_store: MakeStore, tmp_path: Path) -> None:
    a, b = await make_store(), await make_store()
    recorder = EvidenceRecorder(tmp_path / "replica-a")
    recorder.record("s-1", "alice", "copilot", {"method": "tools/call", "message": {"text": "é ✓ data"}})
    recorder.record("s-2", "bob", None, {"method": "tools/call"})
    record = recorder.snapshot("principal", "alice", actor="oncall", reason="exfil", ticket="IR-1", context={})
    assert await publish(a, record, "replica-a")
    [shared] = await shared_evidence(b)
    assert (shared.id, shared.kind, shared.subject, shared.replica) == (record.id, "principal", "alice", "replica-a")
    assert (shared.principals, shared.agents, shared.sessions) == (("alice",), ("copilot",), ("s-1",))
    assert shared.intact() and shared.files[EXCHANGES] == (record.path / EXCHANGES).read_bytes()
    assert shared.covers({"mallory"}, set(), {"s-1"}) and not shared.covers({"mallory"}, {"cursor"}, {"s-9"})
    copy = shared.write(tmp_path / "bundle")
    assert (copy / MANIFEST).read_bytes() == (record.path / MANIFEST).read_bytes()


async def test_an_altered_copy_is_not_intact(make_store: MakeStore, tmp_path: Path) -> None:
    store = await make_store()
    recorder = EvidenceRecorder(tmp_path)
    recorder.record("s-1", "alice", None, {"n": 1})
    await publish(store, recorder.snapshot("session", "s-1", actor="a", reason="r", ticket=None, context={}), "r1")
    [shared] = await shared_evidence(store)
    shared.files[EXCHANGES] = shared.files[EXCHANGES].replace(b"1", b"2")
    assert not shared.intact()
