"""The containment half of the Store protocol, written once over two backend hooks."""

from __future__ import annotations

from proxy.state import codec
from proxy.state.codec import Record
from proxy.state.model import DenyOverlay, EgressDeny, Quarantine, SubjectKind


class RecordWrites:
    """Quarantines, deny overlays and egress denies as records; backends provide `_put` and `_delete`."""

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
