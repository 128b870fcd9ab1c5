"""Ring buffers, sealed snapshots and tamper detection."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from proxy.evidence.recorder import EvidenceRecorder
from proxy.evidence.snapshot import CONTEXT, CUSTODY, EXCHANGES, MANIFEST


def seal(rec: EvidenceRecorder, kind: str = "principal", subject: str = "alice") -> str:
    return rec.snapshot(kind, subject, actor="oncall", reason="exfil", ticket="IR-1",  # type: ignore[arg-type]
                        context={"policy_version": "v7", "pins": {"default": "abc"}}).id


def test_ring_buffer_keeps_the_latest_entries(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path, max_entries_per_session=3)
    for i in range(5):
        rec.record("s-1", "alice", "copilot", {"seq": i})
    [cap] = rec.captures("session", "s-1")
    assert [json.loads(raw)["seq"] for _, raw in cap.entries] == [2, 3, 4]


def test_sessions_are_bounded_lru(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path, max_sessions=2)
    rec.record("a", "p", None, {})
    rec.record("b", "p", None, {})
    rec.record("a", "p", None, {})  # a is now the most recent
    rec.record("c", "p", None, {})
    assert sorted(c.session for c in rec.captures("principal", "p")) == ["a", "c"]


def test_total_bytes_are_bounded(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path, max_total_bytes=10_000, max_entry_bytes=4000)
    for i in range(20):
        rec.record(f"s-{i}", "p", None, {"blob": "x" * 3000})
    caps = rec.captures("principal", "p")
    assert sum(len(raw) for c in caps for _, raw in c.entries) <= 10_000 and caps[-1].session == "s-19"


def test_oversized_entry_becomes_a_hashed_stub(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path, max_entry_bytes=1000)
    entry = {"result": "y" * 5000}
    rec.record("s", "p", None, entry)
    [(_, raw)] = rec.captures("session", "s")[0].entries
    stub = json.loads(raw)
    full = json.dumps(entry, separators=(",", ":")).encode()
    assert stub["truncated"] and stub["bytes"] == len(full) and stub["sha256"] == hashlib.sha256(full).hexdigest()
    assert len(raw) < 1000


def test_snapshot_selects_by_principal_agent_or_session(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path)
    rec.record("s-1", "alice", "copilot", {"n": 1})
    rec.record("s-2", "alice", "cursor", {"n": 2})
    rec.record("s-3", "bob", "copilot", {"n": 3})
    assert {c.session for c in rec.captures("principal", "alice")} == {"s-1", "s-2"}
    assert {c.session for c in rec.captures("agent", "copilot")} == {"s-1", "s-3"}
    assert {c.session for c in rec.captures("session", "s-2")} == {"s-2"}


def test_snapshot_is_sealed_write_once(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path / "ev")
    rec.record("s-1", "alice", "copilot", {"request": {"method": "tools/call"}, "decision": "deny"})
    rec.record("s-2", "alice", None, {"result": "[REDACTED]", "decision": "rewrite"})
    evidence_id = seal(rec)
    directory = tmp_path / "ev" / evidence_id
    assert sorted(p.name for p in directory.iterdir()) == sorted([EXCHANGES, CONTEXT, CUSTODY, MANIFEST])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o555
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in directory.iterdir())
    manifest = (directory / MANIFEST).read_text().splitlines()
    for line in manifest:
        digest, name = line.split("  ")
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
    custody = json.loads((directory / CUSTODY).read_text())
    assert custody["collected_by"] == "oncall" and custody["ticket"] == "IR-1" and custody["reason"] == "exfil"
    assert custody["host"] and custody["drawbridge_version"] and custody["exchanges"] == 2
    assert json.loads((directory / CONTEXT).read_text())["policy_version"] == "v7"
    lines = [json.loads(x) for x in (directory / EXCHANGES).read_text().splitlines()]
    assert [x["session"] for x in lines] == ["s-1", "s-2"] and lines[1]["exchange"]["result"] == "[REDACTED]"
    report = rec.show(evidence_id)
    assert report.verified and report.problems == () and report.record.exchanges == 2
    assert [r.id for r in rec.list()] == [evidence_id]
    assert not any(p.name.startswith(".staging") for p in (tmp_path / "ev").iterdir())


def test_tampering_is_reported(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path)
    rec.record("s-1", "alice", None, {"decision": "deny"})
    evidence_id = seal(rec)
    target = tmp_path / evidence_id / EXCHANGES
    target.chmod(0o644)  # u+w, as an intruder would
    target.write_text(target.read_text().replace("deny", "allow"))
    report = rec.show(evidence_id)
    assert not report.verified
    assert any("exchanges.jsonl was modified" in p for p in report.problems)
    assert any("mode 0o644" in p for p in report.problems)


def test_rewritten_manifest_and_extra_files_are_reported(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path)
    evidence_id = seal(rec, "session", "s-x")
    directory = tmp_path / evidence_id
    directory.chmod(0o755)
    (directory / "notes.txt").write_text("planted")
    context = directory / CONTEXT
    context.chmod(0o644)
    context.write_text("{}")
    digest = hashlib.sha256(b"{}").hexdigest()
    manifest = directory / MANIFEST
    manifest.chmod(0o644)
    manifest.write_text("\n".join(f"{digest}  {CONTEXT}" if CONTEXT in line else line
                                  for line in manifest.read_text().splitlines()) + "\n")
    for path in (context, manifest):
        path.chmod(0o444)
    directory.chmod(0o555)
    problems = rec.show(evidence_id).problems
    assert any("differs from the one sealed" in p for p in problems)
    assert any("unexpected files: notes.txt" in p for p in problems)
    fresh = EvidenceRecorder(tmp_path)  # another process: only the audit log's evidence_sha256 can tell
    assert any("unexpected files" in p for p in fresh.show(evidence_id).problems)


def test_missing_manifest_and_bad_ids(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path)
    evidence_id = seal(rec)
    directory = tmp_path / evidence_id
    directory.chmod(0o755)
    (directory / MANIFEST).unlink()
    assert f"{MANIFEST} is missing" in rec.show(evidence_id).problems
    for bad in ("../etc", "x", f"{evidence_id}/..", "20260101T000000Z-00000000"):
        with pytest.raises(KeyError):
            rec.show(bad)


def test_repr_shows_counts_only(tmp_path: Path) -> None:
    rec = EvidenceRecorder(tmp_path)
    rec.record("s-1", "alice", None, {"result": "secret-ish"})
    assert "secret-ish" not in repr(rec) and "1 sessions" in repr(rec)
