"""The live policy: swapped whole on a good reload, kept on a bad one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from proxy.errors import PolicyError
from proxy.policy import PolicyHolder, Query
from proxy.testing import write_policy

V1 = "rules:\n  - {id: ping, effect: permit, methods: [ping]}\n"
V2 = "rules:\n  - {id: list, effect: permit, methods: [tools/list]}\n"


def allowed(holder: PolicyHolder, method: str) -> bool:
    return holder.policy.evaluate(Query("to_server", "alice", None, "default", method, None, {})).allowed


class Listener:
    def __init__(self) -> None:
        self.calls: list[tuple[bool, str, str]] = []

    def __call__(self, ok: bool, version: str, detail: str) -> None:
        self.calls.append((ok, version, detail))


def touch_later(path: Path) -> None:
    """Move the file's mtime forward so a change is visible even on coarse-grained file systems."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def listener() -> Listener:
    return Listener()


@pytest.fixture
def holder(tmp_path: Path, listener: Listener) -> PolicyHolder:
    write_policy(tmp_path, V1)
    return PolicyHolder(tmp_path, listener)


def test_initial_load(holder: PolicyHolder, listener: Listener, tmp_path: Path) -> None:
    assert allowed(holder, "ping")
    assert holder.loaded.files == (tmp_path / "policy.yaml",)
    assert not holder.changed_on_disk()
    assert listener.calls == []


def test_broken_initial_directory_raises(tmp_path: Path) -> None:
    write_policy(tmp_path, "rules: [{id: x}]\n")
    with pytest.raises(PolicyError):
        PolicyHolder(tmp_path)


def test_good_change_swaps_the_version(holder: PolicyHolder, listener: Listener, tmp_path: Path) -> None:
    old = holder.policy.version
    path = write_policy(tmp_path, V2)
    touch_later(path)
    assert holder.changed_on_disk()
    assert holder.reload() is True
    assert holder.policy.version != old
    assert allowed(holder, "tools/list")
    assert not allowed(holder, "ping")
    assert listener.calls == [(True, holder.policy.version, f"replaced {old}")]
    assert not holder.changed_on_disk()


def test_broken_change_keeps_the_old_version_live(holder: PolicyHolder, listener: Listener,
                                                  tmp_path: Path) -> None:
    old_policy = holder.policy
    path = write_policy(tmp_path, "rules:\n  - {id: ping, effect: permit, methods: [ping], bogus: 1}\n")
    touch_later(path)
    assert holder.reload() is False
    assert holder.policy is old_policy
    assert allowed(holder, "ping")
    assert len(listener.calls) == 1
    ok, version, detail = listener.calls[0]
    assert ok is False
    assert version == old_policy.version
    assert str(path) in detail and "bogus" in detail
    assert not holder.changed_on_disk()  # the broken state was seen; no reload loop on every poll


def test_yaml_syntax_error_on_reload_keeps_old(holder: PolicyHolder, listener: Listener, tmp_path: Path) -> None:
    old = holder.policy.version
    write_policy(tmp_path, "rules: [\n", "zz.yaml")
    assert holder.reload() is False
    assert holder.policy.version == old
    assert listener.calls[0][0] is False


def test_deleted_directory_keeps_old(holder: PolicyHolder, listener: Listener, tmp_path: Path) -> None:
    old = holder.policy.version
    (tmp_path / "policy.yaml").unlink()
    assert holder.changed_on_disk()
    assert holder.reload() is False
    assert holder.policy.version == old
    assert "no policy files" in listener.calls[0][2]


def test_recovery_after_a_broken_change(holder: PolicyHolder, listener: Listener, tmp_path: Path) -> None:
    path = write_policy(tmp_path, "nonsense: true\n")
    assert holder.reload() is False
    path.write_text(V2)
    touch_later(path)
    assert holder.changed_on_disk()
    assert holder.reload() is True
    assert allowed(holder, "tools/list")
    assert [ok for ok, _, _ in listener.calls] == [False, True]


def test_changed_on_disk_sees_added_files_and_ignores_others(holder: PolicyHolder, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("irrelevant")
    assert not holder.changed_on_disk()
    write_policy(tmp_path, "", "extra.yaml")
    assert holder.changed_on_disk()


def test_reload_without_listener(tmp_path: Path) -> None:
    write_policy(tmp_path, V1)
    holder = PolicyHolder(tmp_path)
    write_policy(tmp_path, "rules: 5\n")
    assert holder.reload() is False
    write_policy(tmp_path, V2)
    assert holder.reload() is True


def test_unchanged_reload_keeps_the_same_version(holder: PolicyHolder, listener: Listener) -> None:
    version = holder.policy.version
    assert holder.reload() is True
    assert holder.policy.version == version


# -- a candidate set beside the one in force (serve --shadow-policy) ---------------------------------------
@pytest.fixture
def with_candidate(tmp_path: Path, listener: Listener) -> tuple[PolicyHolder, Listener, Path]:
    write_policy(tmp_path / "enforced", V1)
    candidate = write_policy(tmp_path / "candidate", V2)
    candidate_listener = Listener()
    holder = PolicyHolder(tmp_path / "enforced", listener, candidate=tmp_path / "candidate",
                          candidate_listener=candidate_listener)
    return holder, candidate_listener, candidate


def test_a_candidate_is_loaded_beside_the_policy_and_never_in_force(
        with_candidate: tuple[PolicyHolder, Listener, Path]) -> None:
    holder, _, _ = with_candidate
    assert holder.candidate is not None and allowed(holder.candidate, "tools/list")
    assert allowed(holder, "ping") and not allowed(holder, "tools/list")


def test_no_candidate_by_default(holder: PolicyHolder) -> None:
    assert holder.candidate is None


def test_a_broken_candidate_refuses_to_start_and_says_it_is_the_candidate(tmp_path: Path) -> None:
    write_policy(tmp_path / "enforced", V1)
    write_policy(tmp_path / "candidate", "rules: [{id: x}]\n")
    with pytest.raises(PolicyError, match=r"^candidate policy: .*candidate"):
        PolicyHolder(tmp_path / "enforced", candidate=tmp_path / "candidate")


def test_a_broken_candidate_reload_keeps_the_old_candidate_and_reports_to_its_own_listener(
        with_candidate: tuple[PolicyHolder, Listener, Path], listener: Listener) -> None:
    holder, candidate_listener, path = with_candidate
    assert holder.candidate is not None
    old = holder.candidate.policy
    path.write_text("rules: [not a rule\n")
    touch_later(path)
    assert holder.reload() is False
    assert holder.candidate.policy is old
    assert [c[0] for c in candidate_listener.calls] == [False]
    assert [c[0] for c in listener.calls] == [True]  # the policy in force reloaded fine


@pytest.mark.anyio
async def test_watch_reloads_a_changed_candidate_alone(
        with_candidate: tuple[PolicyHolder, Listener, Path], listener: Listener) -> None:
    holder, candidate_listener, path = with_candidate
    path.write_text(V1)
    touch_later(path)
    watcher = asyncio.create_task(holder.watch(0.01))
    try:
        for _ in range(500):
            if candidate_listener.calls:
                break
            await asyncio.sleep(0.01)
    finally:
        watcher.cancel()
    assert holder.candidate is not None and allowed(holder.candidate, "ping")
    assert [c[0] for c in candidate_listener.calls] == [True] and listener.calls == []
