"""What both Store backends share: the synchronous surface over the in-memory snapshot, and the
containment record writes over two backend hooks (`_put`, `_delete`)."""

from __future__ import annotations

from proxy.state import codec
from proxy.state.codec import Record, Snapshot
from proxy.state.model import (
    ContainmentState,
    DenyOverlay,
    EgressDeny,
    EventListener,
    Listener,
    Quarantine,
    RateLimit,
    RevokedCredential,
    SubjectKind,
)


class StoreCommon:
    """Backends set `_snapshot` and `_healthy`, and provide `_put` and `_delete`."""

    _snapshot: Snapshot
    _healthy: bool

    @property
    def healthy(self) -> bool:
        return self._healthy

    def state(self) -> ContainmentState:
        return self._snapshot.state

    def on_change(self, listener: Listener) -> None:
        self._snapshot.on_change(listener)

    def on_event(self, listener: EventListener) -> None:
        self._snapshot.on_event(listener)

    async def _put(self, record: Record) -> None:
        raise NotImplementedError

    async def _delete(self, collection: str, key: str) -> Record | None:
        raise NotImplementedError

    async def put_quarantine(self, quarantine: Quarantine) -> None:
        await self._put(quarantine)

    async def release(self, kind: SubjectKind, subject: str) -> Quarantine | None:
        removed = await self._delete(codec.QUARANTINES, codec.quarantine_key(kind, subject))
        return removed if isinstance(removed, Quarantine) else None

    async def put_deny_overlay(self, overlay: DenyOverlay) -> None:
        await self._put(overlay)

    async def remove_deny_overlay(self, overlay_id: str) -> bool:
        return await self._delete(codec.DENY_OVERLAYS, overlay_id) is not None

    async def put_egress_deny(self, deny: EgressDeny) -> None:
        await self._put(deny)

    async def remove_egress_deny(self, deny_id: str) -> bool:
        return await self._delete(codec.EGRESS_DENIES, deny_id) is not None

    async def put_revoked(self, record: RevokedCredential) -> None:
        await self._put(record)

    async def put_rate_limit(self, limit: RateLimit) -> None:
        await self._put(limit)

    async def remove_rate_limit(self, limit_id: str) -> bool:
        return await self._delete(codec.RATE_LIMITS, limit_id) is not None
