"""The embedded default Store: one SQLite file (WAL, 0600, commit per call), single node.

Every database call runs on one worker thread, so the event loop never blocks on disk. The
snapshot is updated right after each committed write; a light poll (`PRAGMA data_version`)
reloads it when another process (e.g. the CLI) changed the same file, and prunes expired entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from proxy.errors import ConfigError
from proxy.state import codec
from proxy.state.codec import Record, Snapshot, StoreUnavailable
from proxy.state.model import RecordFields, Upsert
from proxy.state.records import StoreCommon

log = logging.getLogger(__name__)
T = TypeVar("T")
MEMORY = ":memory:"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (collection TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
    expires REAL, PRIMARY KEY (collection, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS expiring (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    expires REAL NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID;
"""
_INCR = """INSERT INTO counters (key, value, expires) VALUES (:key, 1, :expires)
ON CONFLICT (key) DO UPDATE SET value = CASE WHEN expires <= :now THEN 1 ELSE value + 1 END,
    expires = CASE WHEN expires <= :now THEN excluded.expires ELSE expires END
RETURNING value"""

_TAKE = """INSERT INTO counters (key, value, expires) VALUES (?1, 0, ?2)
ON CONFLICT (key) DO UPDATE SET value = 0, expires = excluded.expires"""


class SQLiteStore(StoreCommon):
    """`Store` on a SQLite file (or `:memory:`); see `proxy.state.model.Store` for the contract."""

    def __init__(self, path: str | os.PathLike[str], *, poll_interval: float = 1.0) -> None:
        self.path = str(path)
        self.poll_interval = poll_interval
        self._snapshot = Snapshot()
        self._healthy = False
        self._conn: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()  # one snapshot-changing operation at a time
        self._poller: asyncio.Task[None] | None = None
        self._data_version = 0
        self._next_counter_prune = 0.0

    # -- the synchronous surface -------------------------------------------------------------
    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Open (creating it 0600, and its directory, if needed) and load; `StoreUnavailable` if unusable."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drawbridge-sqlite")
        await self._exec(self._open)
        await self._reload()
        if self.poll_interval > 0:
            self._poller = asyncio.create_task(self._poll(), name="drawbridge-sqlite-poll")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._pool is not None:
            with contextlib.suppress(StoreUnavailable):
                await self._run(self._close_conn)
            self._pool.shutdown(wait=True)
            self._pool = None
        self._healthy = False

    # -- containment ---------------------------------------------------------------------------
    async def broadcast(self, event: dict[str, Any]) -> None:
        """Single node: the only replica is this one."""
        self._snapshot.emit(event)

    # -- key/value and counters ----------------------------------------------------------------
    async def kv_get(self, namespace: str, key: str) -> dict[str, Any] | None:
        row = await self._run(lambda c: c.execute(
            "SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key)).fetchone())
        return codec.loads_object(row[0]) if row else None

    async def kv_put(self, namespace: str, key: str, value: dict[str, Any]) -> None:
        data = codec.dumps(value).decode()
        await self._run(lambda c: self._tx(c, lambda: c.execute(
            "INSERT OR REPLACE INTO kv (namespace, key, value) VALUES (?, ?, ?)", (namespace, key, data))))

    async def kv_delete(self, namespace: str, key: str) -> bool:
        cur = await self._run(lambda c: self._tx(c, lambda: c.execute(
            "DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key))))
        return cur.rowcount > 0

    async def kv_list(self, namespace: str) -> dict[str, dict[str, Any]]:
        rows = await self._run(lambda c: c.execute(
            "SELECT key, value FROM kv WHERE namespace = ?", (namespace,)).fetchall())
        return {key: codec.loads_object(value) for key, value in rows}

    async def incr(self, key: str, ttl_seconds: int) -> int:
        """Fixed window: the first increment sets the expiry; an expired counter restarts at 1."""
        codec.check_ttl(ttl_seconds)
        return await self._run(lambda c: self._incr(c, key, ttl_seconds))

    async def take_token(self, key: str, interval_seconds: float, burst: int) -> float:
        """GCRA: the counter's expiry is the bucket's theoretical arrival time (see the Redis store)."""
        return await self._run(lambda c: self._take(c, f"bucket:{key}", interval_seconds, burst))

    # -- expiring records ----------------------------------------------------------------------
    async def rec_put(self, namespace: str, key: str, fields: RecordFields, ttl_seconds: float) -> None:
        data = codec.dumps(fields).decode()
        await self._run(lambda c: self._light_tx(c, lambda: c.execute(
            "INSERT OR REPLACE INTO expiring (namespace, key, value, expires) VALUES (?, ?, ?, ?)",
            (namespace, key, data, time.time() + ttl_seconds))))

    async def rec_get(self, namespace: str, key: str) -> RecordFields | None:
        row = await self._run(lambda c: c.execute(
            "SELECT value FROM expiring WHERE namespace = ? AND key = ? AND expires > ?",
            (namespace, key, time.time())).fetchone())
        return codec.loads_object(row[0]) if row else None

    async def rec_update(self, namespace: str, key: str, ttl_seconds: float, set_fields: RecordFields | None = None,
                         add: dict[str, int] | None = None) -> bool:
        return (await self.rec_update_many(namespace, ttl_seconds, [(key, set_fields or {}, add or {})]))[0]

    async def rec_update_many(self, namespace: str, ttl_seconds: float,
                              updates: list[tuple[str, RecordFields, dict[str, int]]]) -> list[bool]:
        def write(c: sqlite3.Connection) -> list[bool]:
            now = time.time()
            done = []
            for key, set_fields, add in updates:
                row = c.execute("SELECT value FROM expiring WHERE namespace = ? AND key = ? AND expires > ?",
                                (namespace, key, now)).fetchone()
                if row is None:
                    done.append(False)
                    continue
                value = codec.loads_object(row[0])
                value.update(set_fields)
                for name, amount in add.items():
                    value[name] = int(value.get(name) or 0) + amount
                c.execute("UPDATE expiring SET value = ?, expires = ? WHERE namespace = ? AND key = ?",
                          (codec.dumps(value).decode(), now + ttl_seconds, namespace, key))
                done.append(True)
            return done

        return await self._run(lambda c: self._light_tx(c, lambda: write(c)))

    async def rec_upsert_many(self, items: Sequence[Upsert]) -> list[RecordFields | None]:
        def write(c: sqlite3.Connection) -> list[RecordFields | None]:
            now = time.time()
            previous: list[RecordFields | None] = []
            for item in items:
                row = c.execute("SELECT value FROM expiring WHERE namespace = ? AND key = ? AND expires > ?",
                                (item.namespace, item.key, now)).fetchone()
                old = codec.loads_object(row[0]) if row else None
                value = dict(item.fields)
                if old is not None and item.mode == "keep":
                    value = old
                elif old is not None and item.mode == "add":
                    value = {**old, **{k: int(old.get(k) or 0) + int(v) for k, v in item.fields.items()}}
                elif old is not None and item.mode == "merge":
                    value = {**old, **item.fields}
                c.execute("INSERT OR REPLACE INTO expiring (namespace, key, value, expires) VALUES (?, ?, ?, ?)",
                          (item.namespace, item.key, codec.dumps(value).decode(), now + item.ttl_seconds))
                previous.append(old)
            return previous

        if not items:
            return []
        return await self._run(lambda c: self._light_tx(c, lambda: write(c)))

    async def rec_take(self, namespace: str, key: str) -> RecordFields | None:
        row = await self._run(lambda c: self._light_tx(c, lambda: c.execute(
            "DELETE FROM expiring WHERE namespace = ? AND key = ? RETURNING value, expires",
            (namespace, key)).fetchone()))
        return codec.loads_object(row[0]) if row and row[1] > time.time() else None

    async def rec_delete(self, namespace: str, key: str) -> bool:
        cur = await self._run(lambda c: self._light_tx(c, lambda: c.execute(
            "DELETE FROM expiring WHERE namespace = ? AND key = ? AND expires > ?", (namespace, key, time.time()))))
        return cur.rowcount > 0

    async def rec_list(self, namespace: str) -> dict[str, RecordFields]:
        def read(c: sqlite3.Connection) -> list[tuple[str, str]]:
            now = time.time()
            self._light_tx(c, lambda: c.execute("DELETE FROM expiring WHERE namespace = ? AND expires <= ?",
                                                (namespace, now)))
            return c.execute("SELECT key, value FROM expiring WHERE namespace = ? AND expires > ?",
                             (namespace, now)).fetchall()

        return {key: codec.loads_object(value) for key, value in await self._run(read)}

    # -- internals -----------------------------------------------------------------------------
    def _light_tx(self, conn: sqlite3.Connection, body: Callable[[], T]) -> T:
        """A transaction without the fsync: expiring records and counters are rebuilt by traffic, and a lost
        session binding fails safe (the agent re-initialises)."""
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            return self._tx(conn, body)
        finally:
            conn.execute("PRAGMA synchronous = FULL")

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` on the worker thread; a database error marks the store unhealthy."""
        def call() -> T:
            if self._conn is None:
                raise sqlite3.OperationalError("database is closed")
            return fn(self._conn)

        return await self._exec(call)

    async def _exec(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            raise StoreUnavailable(f"SQLite store {self.path} is not started")
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        except (sqlite3.Error, OSError) as exc:
            self._healthy = False
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        self._healthy = True
        return result

    def _open(self) -> None:
        if self.path != MEMORY and not Path(self.path).exists():
            Path(self.path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # before SQLite creates it 0644
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 2000")  # first: workers opening a new file at once wait, not fail
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(_SCHEMA)
            self._tx(conn, lambda: self._migrate(conn))
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        if row[0] is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise ConfigError(f"state database {self.path} has schema v{row[0]}; this Drawbridge knows "
                              f"up to v{SCHEMA_VERSION} (upgrade Drawbridge or use another file)")

    def _close_conn(self, conn: sqlite3.Connection) -> None:
        conn.close()
        self._conn = None

    @staticmethod
    def _tx(conn: sqlite3.Connection, body: Callable[[], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def _put(self, record: Record) -> None:
        collection, key = codec.collection_of(record), codec.record_key(record)
        data = codec.dumps(record).decode()

        def write(c: sqlite3.Connection) -> None:
            def body() -> None:
                c.execute("DELETE FROM records WHERE collection = ? AND expires <= ?", (collection, time.time()))
                c.execute("INSERT OR REPLACE INTO records (collection, key, data, expires) VALUES (?, ?, ?, ?)",
                          (collection, key, data, record.expires))
            self._tx(c, body)

        async with self._lock:
            await self._run(write)
            self._snapshot.apply(collection, key, record)

    async def _delete(self, collection: str, key: str) -> Record | None:
        """Delete one record; return it if it was there and still live."""
        def delete(c: sqlite3.Connection) -> str | None:
            row = self._tx(c, lambda: c.execute("DELETE FROM records WHERE collection = ? AND key = ? RETURNING data",
                                                (collection, key)).fetchone())
            return str(row[0]) if row else None

        async with self._lock:
            data = await self._run(delete)
            self._snapshot.apply(collection, key, None)
        record = _decode(collection, key, data) if data is not None else None
        return record if record is not None and codec.is_live(record, time.time()) else None

    async def _reload(self) -> None:
        def load(c: sqlite3.Connection) -> tuple[int, list[tuple[str, str, str]]]:
            version = int(c.execute("PRAGMA data_version").fetchone()[0])
            now = time.time()
            rows = c.execute("SELECT collection, key, data FROM records WHERE expires IS NULL OR expires > ?",
                             (now,)).fetchall()
            return version, rows

        async with self._lock:
            self._data_version, rows = await self._run(load)
            records: dict[str, dict[str, Record]] = {name: {} for name in codec.COLLECTIONS}
            for collection, key, data in rows:
                record = _decode(collection, key, data) if collection in records else None
                if record is not None:
                    records[collection][key] = record
            self._snapshot.replace(records)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                version = await self._run(lambda c: int(c.execute("PRAGMA data_version").fetchone()[0]))
                if version != self._data_version:
                    await self._reload()
                if time.time() >= self._next_counter_prune:
                    await self._run(lambda c: self._light_tx(c, lambda: self._prune_expired(c)))
            except StoreUnavailable as exc:
                log.warning("state store unavailable: %s", exc)
            self._snapshot.prune()

    def _prune_expired(self, conn: sqlite3.Connection) -> None:
        """Drop expired counters and records (every 30 s at most; reads filter them anyway)."""
        now = time.time()
        conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        conn.execute("DELETE FROM expiring WHERE expires <= ?", (now,))
        self._next_counter_prune = now + 30

    def _incr(self, conn: sqlite3.Connection, key: str, ttl_seconds: int) -> int:
        now = time.time()

        def body() -> int:
            if now >= self._next_counter_prune:
                self._prune_expired(conn)
            return int(conn.execute(_INCR, {"key": key, "expires": now + ttl_seconds, "now": now}).fetchone()[0])

        return self._light_tx(conn, body)


    def _take(self, conn: sqlite3.Connection, key: str, interval: float, burst: int) -> float:
        def body() -> float:
            now = time.time()
            row = conn.execute("SELECT expires FROM counters WHERE key = ?", (key,)).fetchone()
            tat = max(float(row[0]) if row else now, now)
            allow_at = tat + interval - burst * interval
            if now < allow_at:
                return allow_at - now
            conn.execute(_TAKE, (key, tat + interval))
            return 0.0

        return self._light_tx(conn, body)


def _decode(collection: str, key: str, data: str) -> Record | None:
    try:
        return codec.loads(collection, data)
    except ValueError as exc:
        log.error("skipping unreadable %s record %r: %s", collection, key, exc)
        return None
