"""Who owns each conversation, shared by every replica and worker through the store.

A conversation is named by its client key: the handshake-era session id the upstream issued, or, for a
stateless (2026-07-28) client, a key derived from its credential, agent, address and client info. The
binding (principal, agent, upstream, era, creation and last use, live counters) is written to the store
before the agent learns a new session id, so any replica can check it; an id the store does not know is
refused, never adopted. Idle bindings expire (`sessions.idle_timeout_seconds`).

Owners never change, so a replica may keep a checked binding for a few seconds; ends and kills are
broadcast and evict it at once. Counters are added up locally and written once a second, in one round
trip for all conversations.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from cachetools import TTLCache

from proxy.state.codec import StoreUnavailable
from proxy.state.model import RecordFields, Store
from proxy.types import Era

log = logging.getLogger("drawbridge.sessions")
NAMESPACE = "sessions"
CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo"
STATELESS_PREFIX = "ck-"
ENDED_EVENT = "session_ended"


@dataclass(slots=True)
class SessionInfo:
    """One conversation as the store holds it."""

    client_key: str
    upstream: str
    principal: str
    agent: str | None
    era: str
    created: float
    last_used: float
    credential_sha256: str | None = None
    client_address: str | None = None
    calls: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    last_findings: str | None = None  # the latest decision's findings ("SEV-2 injection.override, …"), any replica

    @property
    def session_id(self) -> str | None:
        return None if self.era == Era.MODERN or self.client_key.startswith(STATELESS_PREFIX) else self.client_key

    @classmethod
    def from_fields(cls, fields: RecordFields) -> SessionInfo | None:
        try:
            return cls(**{k: v for k, v in fields.items() if k in cls.__dataclass_fields__})
        except TypeError:
            return None

    def view(self) -> dict[str, Any]:
        """The row `drawbridge sessions list` shows."""
        row = asdict(self)
        row["session_id"] = self.session_id
        row["started"] = row.pop("created")
        return row


def stateless_client_key(credential_sha256: str | None, principal: str, agent: str | None, client_ip: str | None,
                         client_info: Any) -> str:
    """The key of a stateless client: stable across its requests, different for another credential,
    agent, address or client program (`clientInfo` from `_meta`)."""
    info = client_info if isinstance(client_info, dict) else {}
    parts = [credential_sha256 or f"principal:{principal}", agent or "", client_ip or "",
             str(info.get("name", ""))[:200], str(info.get("version", ""))[:64]]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return STATELESS_PREFIX + digest[:24]


def store_key(upstream: str, client_key: str) -> str:
    return f"{upstream}:{client_key}"


@dataclass(slots=True)
class _Pending:
    calls: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    stateless: bool = False
    findings: str | None = None


MAX_FINDINGS_SHOWN = 3


class SessionDirectory:
    """Bindings in the store, a short positive cache, and batched counters."""

    def __init__(self, store: Store, idle_seconds: float, *, cache_seconds: float = 5.0,
                 flush_seconds: float = 1.0) -> None:
        self._store = store
        self.idle_seconds = idle_seconds
        self._cache: TTLCache[tuple[str, str], SessionInfo] = TTLCache(100_000, cache_seconds)
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._seen_stateless: TTLCache[tuple[str, str], bool] = TTLCache(100_000, max(1.0, idle_seconds / 4))
        self._flush_seconds = flush_seconds
        self._flusher: asyncio.Task[None] | None = None
        store.on_event(self._on_event)

    async def bind(self, upstream: str, client_key: str, principal: str, agent: str | None, era: Era,
                   credential_sha256: str | None, client_address: str | None) -> SessionInfo:
        """Record a new conversation's owner (awaited before the agent learns the session id)."""
        now = time.time()
        info = SessionInfo(client_key, upstream, principal, agent, era.value, now, now, credential_sha256,
                           client_address)
        await self._store.rec_put(NAMESPACE, store_key(upstream, client_key), asdict(info), self.idle_seconds)
        self._cache[(upstream, client_key)] = info
        return info

    async def owner(self, upstream: str, client_key: str) -> SessionInfo | None:
        """The binding of a conversation, from the cache or the store (None: unknown or expired)."""
        info = self._cache.get((upstream, client_key))
        if info is not None:
            return info
        fields = await self._store.rec_get(NAMESPACE, store_key(upstream, client_key))
        info = SessionInfo.from_fields(fields) if fields is not None else None
        if info is not None:
            self._cache[(upstream, client_key)] = info
        return info

    async def stateless(self, upstream: str, client_key: str, principal: str, agent: str | None,
                        credential_sha256: str | None, client_address: str | None) -> None:
        """Make a stateless client visible (written on first sight here, then kept fresh by the counters)."""
        if (upstream, client_key) in self._seen_stateless:
            return
        self._seen_stateless[(upstream, client_key)] = True
        if await self._store.rec_get(NAMESPACE, store_key(upstream, client_key)) is None:
            await self.bind(upstream, client_key, principal, agent, Era.MODERN, credential_sha256, client_address)

    def count(self, upstream: str, client_key: str, *, calls: int = 0, bytes_in: int = 0, bytes_out: int = 0,
              stateless: bool = False) -> None:
        """Add to a conversation's counters (written by the next flush; no I/O here)."""
        pending = self._pending.get((upstream, client_key))
        if pending is None:
            pending = self._pending[(upstream, client_key)] = _Pending(stateless=stateless)
        pending.calls += calls
        pending.bytes_in += bytes_in
        pending.bytes_out += bytes_out

    def note_findings(self, upstream: str, client_key: str, findings: list[tuple[str, str]]) -> None:
        """Remember a decision's findings (severity, detector) as the conversation's latest (next flush)."""
        pending = self._pending.get((upstream, client_key))
        if pending is None:
            pending = self._pending[(upstream, client_key)] = _Pending()
        shown = dict.fromkeys(f"{severity} {detector}"[:80] for severity, detector in findings)
        pending.findings = ", ".join(list(shown)[:MAX_FINDINGS_SHOWN])

    async def end(self, upstream: str, client_key: str) -> SessionInfo | None:
        """Remove a binding (atomically: one caller on one replica gets it) and tell every replica."""
        self._forget(upstream, client_key)
        fields = await self._store.rec_take(NAMESPACE, store_key(upstream, client_key))
        with contextlib.suppress(StoreUnavailable):
            await self._store.broadcast({"event": ENDED_EVENT, "upstream": upstream, "client_key": client_key})
        return SessionInfo.from_fields(fields) if fields is not None else None

    async def list(self) -> list[SessionInfo]:
        """Every live conversation on every replica (counters as of the last flush)."""
        await self.flush()
        rows = await self._store.rec_list(NAMESPACE)
        return [info for fields in rows.values() if (info := SessionInfo.from_fields(fields)) is not None]

    def start(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._run(), name="drawbridge-session-counters")

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        with contextlib.suppress(StoreUnavailable):
            await self.flush()

    async def flush(self) -> None:
        """Write the counters added since the last flush, and refresh the bindings' idle timers."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        now = time.time()
        updates = [(store_key(up, key), {"last_used": now, **({"last_findings": p.findings} if p.findings else {})},
                    {"calls": p.calls, "bytes_in": p.bytes_in, "bytes_out": p.bytes_out})
                   for (up, key), p in pending.items()]
        try:
            done = await self._store.rec_update_many(NAMESPACE, self.idle_seconds, updates)
        except StoreUnavailable:
            for (up, key), p in pending.items():  # keep them for the next try
                self.count(up, key, calls=p.calls, bytes_in=p.bytes_in, bytes_out=p.bytes_out, stateless=p.stateless)
                if p.findings and self._pending[(up, key)].findings is None:
                    self._pending[(up, key)].findings = p.findings
            raise
        for (up, key), ok in zip(pending, done, strict=True):
            if not ok:
                self._forget(up, key)  # ended or expired elsewhere: a stateless client is re-listed on its next call

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except StoreUnavailable as exc:
                log.warning("session counters not written: %s", exc)

    def _forget(self, upstream: str, client_key: str) -> None:
        self._cache.pop((upstream, client_key), None)
        self._seen_stateless.pop((upstream, client_key), None)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == ENDED_EVENT:
            self._forget(str(event.get("upstream")), str(event.get("client_key")))


def covers(kind: str, subject: str, principal: str, agent: str | None, client_key: str | None) -> bool:
    """Does a containment subject (principal, agent or session = client key) cover this conversation?"""
    return ((kind == "principal" and principal == subject) or (kind == "agent" and agent == subject)
            or (kind == "session" and client_key == subject))


class SessionEnding:
    """Ends conversations for the containment service: each binding is taken from the store (one replica
    wins each), then `on_ended` finishes the job where the conversation lives (the HTTP plane deletes a
    handshake-era session at the upstream)."""

    def __init__(self, directory: SessionDirectory, on_ended: Callable[[SessionInfo], None] | None = None) -> None:
        self.directory = directory
        self.on_ended = on_ended

    async def end_matching(self, kind: str, subject: str) -> int:
        ended = 0
        for info in await self.directory.list():
            if covers(kind, subject, info.principal, info.agent, info.client_key) and await self.end(info):
                ended += 1
        return ended

    async def principals_of(self, kind: str, subject: str) -> set[str]:
        return {info.principal for info in await self.directory.list()
                if covers(kind, subject, info.principal, info.agent, info.client_key)}

    async def end(self, info: SessionInfo) -> bool:
        taken = await self.directory.end(info.upstream, info.client_key)
        if taken is None:
            return False
        if self.on_ended is not None:
            self.on_ended(taken)
        return True
