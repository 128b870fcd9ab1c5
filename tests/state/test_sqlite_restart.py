"""SQLite-only behaviour: the file survives a restart, is private, versioned, and shared by processes."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from proxy.errors import ConfigError
from proxy.state.codec import StoreUnavailable
from proxy.state.model import EgressDeny, Quarantine
from proxy.state.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.state.conftest import eventually

pytestmark = pytest.mark.anyio


def quarantine(subject: str = "alice", **kw: Any) -> Quarantine:
    return Quarantine(kind="principal", subject=subject, mode="read-only", reason="r", actor="me", created=1.0, **kw)


async def test_close_and_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SQLiteStore(path)
    await first.start()
    await first.put_quarantine(quarantine(ticket="INC-1", expires=time.time() + 3600))
    await first.put_quarantine(quarantine("bob"))
    await first.release("principal", "bob")
    await first.put_egress_deny(EgressDeny(id="e1", host="evil.example", reason="r", actor="me", created=1.0))
    await first.kv_put("pins", "srv", {"sha256": "ab"})
    await first.close()
    assert not first.healthy

    second = SQLiteStore(path)
    await second.start()
    try:
        state = second.state()
        assert [q.subject for q in state.quarantines] == ["alice"]
        assert state.quarantine_for("alice", None, None).ticket == "INC-1"  # type: ignore[union-attr]
        assert [d.host for d in state.egress_denies] == ["evil.example"]
        assert await second.kv_get("pins", "srv") == {"sha256": "ab"}
    finally:
        await second.close()


async def test_file_is_private_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    await store.start()
    await store.put_quarantine(quarantine())
    try:
        check_file(path)
    finally:
        await store.close()


def check_file(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):  # SQLite gives its side files the same mode
        assert not name.exists() or stat.S_IMODE(name.stat().st_mode) == 0o600, name
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.close()
    store = SQLiteStore(path)
    with pytest.raises(ConfigError, match="schema v2"):
        await store.start()
    await store.close()


async def test_another_process_writing_the_file_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    proxy, cli = SQLiteStore(path, poll_interval=0.02), SQLiteStore(path, poll_interval=0)
    await proxy.start()
    await cli.start()
    try:
        changes: list[int] = []
        proxy.on_change(lambda s: changes.append(s.version))
        await cli.put_quarantine(quarantine("mallory"))
        await eventually(lambda: proxy.state().quarantine_for("mallory", None, None) is not None, 5.0, "reload")
        assert changes
    finally:
        await cli.close()
        await proxy.close()


async def test_a_closed_store_fails_closed(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    await store.start()
    await store.put_quarantine(quarantine())
    await store.close()
    assert not store.healthy
    with pytest.raises(StoreUnavailable):
        await store.put_quarantine(quarantine("bob"))
    assert store.state().quarantine_for("alice", None, None) is not None  # the last snapshot stays readable


async def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "var" / "state.db")
    await store.start()
    try:
        assert store.healthy
    finally:
        await store.close()


async def test_unopenable_path_raises_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = SQLiteStore(blocker / "state.db")
    with pytest.raises(StoreUnavailable):
        await store.start()
    assert not store.healthy
    await store.close()


def test_workers_opening_a_new_database_at_once_all_start(tmp_path: Path) -> None:
    """`--workers N` on a fresh pod: every worker opens the new file at the same moment; none may fail."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    path = tmp_path / "fresh.db"
    workers = [context.Process(target=_open_and_close, args=(str(path), results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(results.get(timeout=5) for _ in workers) == ["ok"] * 8


def _open_and_close(path: str, results: Any) -> None:
    async def run() -> None:
        store = SQLiteStore(path)
        await store.start()
        await store.close()

    try:
        asyncio.run(run())
        results.put("ok")
    except Exception as exc:  # reported to the test, which names it
        results.put(repr(exc))
