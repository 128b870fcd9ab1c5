"""The replicated Store: Redis hashes for the records, pub/sub for propagation, full resync as backstop.

Layout (prefix `drawbridge`): one hash per collection (`drawbridge:quarantines`, field `kind:subject`;
`drawbridge:deny_overlays` / `drawbridge:egress_denies`, field id), `drawbridge:kv:<ns>` hashes,
`drawbridge:ctr:<key>` counters. A record write is one Lua script: it takes the next number from
`drawbridge:seq`, writes the hash, and PUBLISHes the change (with that number and the new record) on
`drawbridge:changes`; every replica applies it as a delta unless it already holds a later write of
that key, so all converge in write order. A supervisor task owns the subscription: it subscribes,
resyncs everything, turns healthy, applies messages and resyncs every `resync_interval`; on any
failure it turns unhealthy (failed commands do the same), keeps the last snapshot, and reconnects
with backoff. With Sentinel every new connection asks the Sentinels for the master, and the session
asks every second whether the master moved (then it reconnects): after a failover writes reach the new
master within about a second, and a command answered READONLY by a demoted master breaks the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import orjson
from redis.asyncio.client import PubSub
from redis.exceptions import AuthenticationError, RedisError

from proxy.state import codec
from proxy.state.codec import Record, Snapshot, StoreUnavailable
from proxy.state.model import RecordFields, Upsert
from proxy.state.records import StoreCommon
from proxy.state.redis_client import RedisTarget, connect, redis_target

log = logging.getLogger(__name__)
T = TypeVar("T")
MASTER_CHECK_INTERVAL = 1.0  # with Sentinel: how often a session asks whether the master moved
# KEYS: hash, sequence. ARGV: field, record JSON ('' deletes), channel, change message (a JSON object).
_WRITE = """local seq = redis.call('INCR', KEYS[2])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], '{"s":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[4], 2))
return {seq, old}"""
# Expiring records: one hash per record (`<prefix>:r:<ns>:<key>`, Redis TTL) and a sorted set per namespace
# (`<prefix>:ri:<ns>`, score = expiry in ms) to list them. KEYS: hash, index. ARGV: expiry ms, member, …
_REC_PUT = """redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '', '1', unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1"""
# ARGV: expiry ms, member, number of set pairs, set pairs…, then add pairs…
_REC_UPDATE = """if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local i = 4
for _ = 1, tonumber(ARGV[3]) do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2 end
while i <= #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2 end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1"""
# Many upserts in one script. KEYS: hash and index of each item. ARGV: now ms, then per item: expiry ms,
# member, mode (replace | keep | add | merge), number of field pairs, the pairs. Returns each previous hash.
_REC_UPSERT = """local out, a = {}, 2
for k = 1, #KEYS, 2 do
  local hash, index = KEYS[k], KEYS[k + 1]
  local expiry, member, mode, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  local first, last = a + 4, a + 3 + 2 * n
  a = last + 1
  local old = redis.call('HGETALL', hash)
  if #old == 0 or mode == 'replace' then
    redis.call('DEL', hash)
    redis.call('HSET', hash, '', '1', unpack(ARGV, first, last))
  elseif mode == 'add' then
    for i = first, last, 2 do redis.call('HINCRBY', hash, ARGV[i], ARGV[i + 1]) end
  elseif mode == 'merge' and n > 0 then
    redis.call('HSET', hash, unpack(ARGV, first, last))
  end
  redis.call('PEXPIREAT', hash, expiry)
  redis.call('ZADD', index, expiry, member)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', ARGV[1])
  out[#out + 1] = old
end
return out"""
# GCRA: the key holds the bucket's theoretical arrival time (TAT), on Redis' own clock (one clock for all
# replicas). Answers "0" when a token was taken, else the seconds to wait (strings keep the fraction).
_GCRA_DRAW = """local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then return tostring(allow_at - now) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.max(1, math.ceil((new_tat - now) * 1000)))
return '0'
"""
_REC_TAKE = """local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return v"""
# Delete a hash field only if it still holds the expired value we saw (a newer put must survive).
_PRUNE = ("if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
          "return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0")


class RedisStore(StoreCommon):
    """`Store` on Redis, shared by every replica using the same server, database and prefix.

    `target` is a URL or a `RedisTarget` (URL plus the `redis:` section: credentials, TLS, Sentinel).
    """

    def __init__(self, target: str | RedisTarget, *, prefix: str = "drawbridge", resync_interval: float = 5.0,
                 command_timeout: float = 0.5, max_backoff: float = 2.0) -> None:
        self.prefix = prefix
        self.resync_interval = resync_interval
        self.command_timeout = command_timeout
        self.max_backoff = max_backoff
        self.target = redis_target(target) if isinstance(target, str) else target
        self._redis, self._sentinel = connect(self.target, command_timeout)
        self._wait_seconds = command_timeout / 2  # WAIT answers within the socket timeout
        self._channel, self._seq = f"{prefix}:changes", f"{prefix}:seq"
        self._write = self._redis.register_script(_WRITE)
        self._rec_put = self._redis.register_script(_REC_PUT)
        self._rec_update = self._redis.register_script(_REC_UPDATE)
        self._rec_take = self._redis.register_script(_REC_TAKE)
        self._take_token = self._redis.register_script(_GCRA_DRAW)
        self._rec_upsert = self._redis.register_script(_REC_UPSERT)
        self._origin = uuid.uuid4().hex
        self._snapshot = Snapshot()
        self._healthy = False
        self._broken = asyncio.Event()  # set by a failed command: the supervisor reconnects
        self._first_attempt = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    # -- the synchronous surface -------------------------------------------------------------
    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and load; if Redis is unreachable, return unhealthy and keep retrying in the background."""
        self._supervisor = asyncio.create_task(self._supervise(), name="drawbridge-redis-state")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), timeout=4 * self.command_timeout + 1)

    async def close(self) -> None:
        if self._supervisor is not None:
            task, self._supervisor = self._supervisor, None
            while not task.done():  # again if a library swallowed the cancellation (it happens on 3.11)
                task.cancel()
                await asyncio.wait([task], timeout=self.command_timeout)
            if not task.cancelled() and task.exception() is not None:
                log.debug("redis state store supervisor ended with %s", _describe(cast(Exception, task.exception())))
        self._healthy = False
        await self._redis.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()

    # -- containment ---------------------------------------------------------------------------
    async def broadcast(self, event: dict[str, Any]) -> None:
        """Publish to every replica; this one's listeners run once the publish succeeded."""
        message = codec.dumps({"o": self._origin, "e": event})
        await self._call(lambda: self._redis.publish(self._channel, message))
        self._snapshot.emit(event)

    # -- key/value and counters ----------------------------------------------------------------
    async def kv_get(self, namespace: str, key: str) -> dict[str, Any] | None:
        raw = await self._call(lambda: self._redis.hget(self._kv(namespace), key))
        return codec.loads_object(raw) if raw is not None else None

    async def kv_put(self, namespace: str, key: str, value: dict[str, Any]) -> None:
        data = codec.dumps(value)
        await self._call(lambda: self._redis.hset(self._kv(namespace), key, data))

    async def kv_delete(self, namespace: str, key: str) -> bool:
        return bool(await self._call(lambda: self._redis.hdel(self._kv(namespace), key)))

    async def kv_list(self, namespace: str) -> dict[str, dict[str, Any]]:
        raw = await self._call(lambda: self._redis.hgetall(self._kv(namespace)))
        return {k.decode() if isinstance(k, bytes) else k: codec.loads_object(v) for k, v in raw.items()}

    async def incr(self, key: str, ttl_seconds: int) -> int:
        """Fixed window: the first increment sets the expiry (SET NX EX, then INCR, atomically)."""
        codec.check_ttl(ttl_seconds)
        name = f"{self.prefix}:ctr:{key}"

        async def run() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(name, 0, ex=ttl_seconds, nx=True)
                pipe.incr(name)
                return int((await pipe.execute())[1])

        return await self._call(run)

    async def take_token(self, key: str, interval_seconds: float, burst: int) -> float:
        name = f"{self.prefix}:bucket:{key}"
        wait = await self._call(lambda: self._take_token(keys=[name], args=[repr(interval_seconds), burst]))
        return float(wait.decode() if isinstance(wait, bytes) else wait)

    # -- expiring records ----------------------------------------------------------------------
    async def rec_put(self, namespace: str, key: str, fields: RecordFields, ttl_seconds: float) -> None:
        args: list[Any] = [_expiry_ms(ttl_seconds), key]
        for name, value in fields.items():
            args += [name, codec.dumps(value)]
        await self._call(lambda: self._rec_put(keys=self._rec_keys(namespace, key), args=args))

    async def rec_get(self, namespace: str, key: str) -> RecordFields | None:
        raw: dict[Any, Any] = await self._call(lambda: self._redis.hgetall(self._rec_keys(namespace, key)[0]))
        return _fields(raw) if raw else None

    async def rec_update(self, namespace: str, key: str, ttl_seconds: float, set_fields: RecordFields | None = None,
                         add: dict[str, int] | None = None) -> bool:
        return (await self.rec_update_many(namespace, ttl_seconds, [(key, set_fields or {}, add or {})]))[0]

    async def rec_update_many(self, namespace: str, ttl_seconds: float,
                              updates: list[tuple[str, RecordFields, dict[str, int]]]) -> list[bool]:
        if not updates:
            return []
        expiry = _expiry_ms(ttl_seconds)

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, set_fields, add in updates:
                    args: list[Any] = [expiry, key, len(set_fields)]
                    for name, value in set_fields.items():
                        args += [name, codec.dumps(value)]
                    for name, amount in add.items():
                        args += [name, int(amount)]
                    await self._rec_update(keys=self._rec_keys(namespace, key), args=args, client=pipe)
                result: list[Any] = await pipe.execute()
                return result

        return [bool(done) for done in await self._call(run)]

    async def rec_upsert_many(self, items: Sequence[Upsert]) -> list[RecordFields | None]:
        if not items:
            return []
        keys: list[str] = []
        args: list[Any] = [int(time.time() * 1000)]
        for item in items:
            keys += self._rec_keys(item.namespace, item.key)
            args += [_expiry_ms(item.ttl_seconds), item.key, item.mode, len(item.fields)]
            for name, value in item.fields.items():
                args += [name, int(value) if item.mode == "add" else codec.dumps(value)]
        rows = await self._call(lambda: self._rec_upsert(keys=keys, args=args))
        return [_fields(dict(zip(raw[::2], raw[1::2], strict=True))) if raw else None for raw in rows]

    async def rec_take(self, namespace: str, key: str) -> RecordFields | None:
        raw = await self._call(lambda: self._rec_take(keys=self._rec_keys(namespace, key), args=[key]))
        if not raw:
            return None
        return _fields(dict(zip(raw[::2], raw[1::2], strict=True)))

    async def rec_delete(self, namespace: str, key: str) -> bool:
        name, index = self._rec_keys(namespace, key)

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(name)
                pipe.zrem(index, key)
                result: list[Any] = await pipe.execute()
                return result

        return bool((await self._call(run))[0])

    async def rec_list(self, namespace: str) -> dict[str, RecordFields]:
        index = f"{self.prefix}:ri:{namespace}"
        now = int(time.time() * 1000)
        async def members_of() -> list[bytes]:
            found = await self._redis.zrangebyscore(index, now, "+inf")
            return cast(list[bytes], found)

        members = await self._call(members_of)
        if not members:
            return {}

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(index, "-inf", now)
                for member in members:
                    pipe.hgetall(self._rec_keys(namespace, member.decode())[0])
                result: list[Any] = await pipe.execute()
                return result

        _, *rows = await self._call(run)
        return {m.decode(): _fields(raw) for m, raw in zip(members, rows, strict=True) if raw}

    # -- internals -----------------------------------------------------------------------------
    def _rec_keys(self, namespace: str, key: str) -> list[str]:
        return [f"{self.prefix}:r:{namespace}:{key}", f"{self.prefix}:ri:{namespace}"]

    def _kv(self, namespace: str) -> str:
        return f"{self.prefix}:kv:{namespace}"

    def _hash(self, collection: str) -> str:
        return f"{self.prefix}:{collection}"

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One Redis round trip, bounded; a failure marks the store unhealthy and raises `StoreUnavailable`."""
        try:
            async with asyncio.timeout(2 * self.command_timeout):  # no task per call, no swallowed cancel
                return await fn()
        except (RedisError, OSError, TimeoutError) as exc:
            if self._healthy:
                log.warning("redis state store unavailable: %s", _describe(exc))
            self._healthy = False
            self._broken.set()
            raise StoreUnavailable(f"Redis state store unavailable: {_describe(exc)}") from exc

    async def _put(self, record: Record) -> None:
        await self._write_record(codec.collection_of(record), codec.record_key(record), record)

    async def _delete(self, collection: str, key: str) -> Record | None:
        """Delete one record; return it if it was there and still live."""
        old = await self._write_record(collection, key, None)
        record = _decode(collection, key, old) if old is not None else None
        return record if record is not None and codec.is_live(record, time.time()) else None

    async def _write_record(self, collection: str, key: str, record: Record | None) -> bytes | None:
        """Write (or delete) one record and publish the change; return the previous value."""
        fields = codec.to_fields(record) if record is not None else None
        message = codec.dumps({"o": self._origin, "c": collection, "k": key, "v": fields})
        data = codec.dumps(fields) if fields is not None else b""
        keys = [self._hash(collection), self._seq]
        args: list[Any] = [key, data, self._channel, message]
        wanted = self.target.settings.wait_replicas
        if wanted:
            (seq, old), acked = await self._call(lambda: self._write_confirmed(keys, args, wanted))
        else:
            seq, old = await self._call(lambda: self._write(keys=keys, args=args))
        self._snapshot.apply(collection, key, record, seq=int(seq))
        if wanted and int(acked) < wanted:  # on the master (and published), but a failover could lose it
            raise StoreUnavailable(f"Redis state store: the change is written but {acked} of {wanted} replicas "
                                   f"confirmed it within {self._wait_seconds}s (redis.wait_replicas): retry")
        return old if isinstance(old, bytes) else None

    async def _write_confirmed(self, keys: list[str], args: list[Any], wanted: int) -> list[Any]:
        """The write script then WAIT on one connection (WAIT counts the replicas holding that connection's writes)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            await self._write(keys=keys, args=args, client=pipe)
            pipe.execute_command("WAIT", wanted, int(self._wait_seconds * 1000))
            result: list[Any] = await pipe.execute()
            return result

    async def _supervise(self) -> None:
        delay = 0.05
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._healthy or not self._first_attempt.is_set():
                    log.warning("redis state store unavailable, reconnecting: %s", _describe(exc))
            self._healthy = False
            self._first_attempt.set()
            delay = 0.05 if time.monotonic() - started > 5 else min(delay * 2, self.max_backoff)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """Subscribe, resync, serve messages until something breaks (then raise or return)."""
        pubsub: PubSub = self._redis.pubsub()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 2 * self.command_timeout
            async with asyncio.timeout(2 * self.command_timeout):
                await pubsub.subscribe(self._channel)
            # Wait for the confirmation: from then on no change can slip between us and the resync.
            while (await pubsub.get_message(timeout=self.command_timeout) or {}).get("type") != "subscribe":
                if loop.time() > deadline:
                    raise TimeoutError("no SUBSCRIBE confirmation from Redis")
            self._broken.clear()
            await self._resync(fresh=True)
            if not self._healthy:
                conn = pubsub.connection
                where = f" at {conn.host}:{conn.port}" if conn is not None and self._sentinel is not None else ""
                log.info("redis state store connected and in sync (%s%s)", self.target.describe(), where)
            self._healthy = True
            self._first_attempt.set()
            next_resync = loop.time() + self.resync_interval
            next_master_check = loop.time() + MASTER_CHECK_INTERVAL
            while not self._broken.is_set():
                wait = min(0.25, max(0.0, next_resync - loop.time()))
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                if message is not None and message.get("type") == "message":
                    self._handle(message["data"])
                if loop.time() >= next_resync:
                    await self._resync()
                    next_resync = loop.time() + self.resync_interval
                if self._sentinel is not None and loop.time() >= next_master_check:
                    if await self._master_moved(pubsub):
                        return  # reconnect: to the master the Sentinels name now
                    next_master_check = loop.time() + MASTER_CHECK_INTERVAL
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.command_timeout):
                    await cast(Any, pubsub).aclose()  # typed per version

    async def _master_moved(self, pubsub: PubSub) -> bool:
        """With Sentinel: do the Sentinels name another master than this session's? The pool drops its idle
        connections to the old one on the way, so writes follow at once. A failed query answers no: the
        session's own connection decides its health."""
        pool: Any = self._redis.connection_pool  # a SentinelConnectionPool (its methods are untyped)
        try:
            async with asyncio.timeout(2 * self.command_timeout):  # no inner task: nothing left unretrieved
                host, port = await pool.get_master_address()
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("redis sentinel query failed: %s", _describe(exc))
            return False
        conn = pubsub.connection
        if conn is None or (conn.host, int(conn.port)) == (host, int(port)):
            return False
        log.warning("redis state store: Sentinel names a new master %s:%s, reconnecting", host, port)
        return True

    def _handle(self, data: bytes) -> None:
        try:
            message = codec.loads_object(data)
            if "e" in message:
                if message.get("o") != self._origin and isinstance(message["e"], dict):
                    self._snapshot.emit(message["e"])
                return
            seq, collection, key, fields = int(message["s"]), message["c"], str(message["k"]), message["v"]
            if collection not in codec.RECORD_TYPES:
                raise ValueError(f"unknown collection {collection!r}")
            record = codec.from_fields(collection, fields) if fields is not None else None
        except (ValueError, KeyError, TypeError) as exc:
            log.error("ignoring unreadable state change message: %s", exc)
            return
        self._snapshot.apply(collection, key, record, seq=seq)

    async def _resync(self, fresh: bool = False) -> None:
        """Reload every collection, prune expired records in Redis, and swap the snapshot if it differs.

        `fresh` (a new session): the server may not hold what this replica saw before (a failover loses the
        last writes, a restart the unsynced ones), so the load replaces everything, whatever the sequence.
        """
        async def load() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:  # one consistent cut
                pipe.get(self._seq)
                for collection in codec.COLLECTIONS:
                    pipe.hgetall(self._hash(collection))
                result: list[Any] = await pipe.execute()
                return result

        seq, *raw = await self._call(load)
        now = time.time()
        records: dict[str, dict[str, Record]] = {}
        expired: list[tuple[str, bytes, bytes]] = []
        for collection, entries in zip(codec.COLLECTIONS, raw, strict=True):
            records[collection] = {}
            for field, data in entries.items():
                key = field.decode()
                record = _decode(collection, key, data)
                if record is not None and codec.is_live(record, now):
                    records[collection][key] = record
                elif record is not None:
                    expired.append((self._hash(collection), field, data))
        if fresh:
            self._snapshot.replace(records, seq=-1)  # below any sequence: "history restarted", forget marks
        self._snapshot.replace(records, seq=int(seq or 0))
        if expired:
            async def prune() -> None:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name, field, data in expired:
                        pipe.eval(_PRUNE, 1, name, field, data)
                    await pipe.execute()

            await self._call(prune)


def _decode(collection: str, key: str, data: bytes) -> Record | None:
    try:
        return codec.loads(collection, data)
    except ValueError as exc:
        log.error("skipping unreadable %s record %r: %s", collection, key, exc)
        return None


def _expiry_ms(ttl_seconds: float) -> int:
    return int((time.time() + ttl_seconds) * 1000)


def _fields(raw: dict[Any, Any]) -> RecordFields:
    """A record hash back to its fields (values are JSON; the empty-named marker field is dropped)."""
    return {k.decode(): orjson.loads(v) for k, v in raw.items() if k}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AuthenticationError):  # a wrong or missing password, or an unknown ACL user
        return f"Redis refused the credentials (redis.password / redis.username): {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
