"""Sealed evidence, findable from every replica: each snapshot's files are also kept in the shared store.

The replica that seals a snapshot writes it to its own disk (write-once, `snapshot.py`) and publishes a
compressed copy of the same four files to the store, so an incident bundle exported through any replica
(or by the CLI on any host that reaches the store) holds every snapshot about its subjects. The copy is
verified against the snapshot's own manifest when it is read back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from proxy.evidence.snapshot import CONTEXT, CUSTODY, EXCHANGES, MANIFEST, EvidenceRecord
from proxy.state.model import Store

log = logging.getLogger("drawbridge.evidence")
NAMESPACE = "evidence"
TTL_SECONDS = 90 * 86_400  # how long the store keeps a copy (the sealing replica's disk keeps the original)
MAX_COMPRESSED = 32 * 1024 * 1024  # a larger snapshot stays on its replica's disk only (logged)
FILES = (EXCHANGES, CONTEXT, CUSTODY, MANIFEST)


@dataclass(frozen=True, slots=True)
class SharedEvidence:
    """One sealed snapshot as the store holds it."""

    id: str
    kind: str
    subject: str
    created: str
    replica: str
    manifest_sha256: str
    principals: tuple[str, ...]
    agents: tuple[str, ...]
    sessions: tuple[str, ...]
    files: dict[str, bytes]

    def covers(self, principals: set[str], agents: set[str], sessions: set[str]) -> bool:
        """Is this snapshot about any of these subjects?"""
        return bool(set(self.principals) & principals or set(self.agents) & agents or set(self.sessions) & sessions
                    or (self.kind, self.subject) in {*(("principal", p) for p in principals),
                                                     *(("agent", a) for a in agents),
                                                     *(("session", s) for s in sessions)})

    def intact(self) -> bool:
        """The files match the manifest, and the manifest the hash recorded at sealing time."""
        manifest = self.files.get(MANIFEST, b"")
        if hashlib.sha256(manifest).hexdigest() != self.manifest_sha256:
            return False
        for line in manifest.decode().splitlines():
            digest, _, name = line.partition("  ")
            if hashlib.sha256(self.files.get(name, b"")).hexdigest() != digest:
                return False
        return True

    def write(self, directory: Path) -> Path:
        """The snapshot's files under `directory/<id>/`."""
        target = directory / self.id
        target.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (target / name).write_bytes(data)
        return target


async def publish(store: Store, record: EvidenceRecord, replica: str) -> bool:
    """Keep a copy of a sealed snapshot in the store; False (logged) when it is too large or cannot be read."""
    try:
        files, packed = await asyncio.to_thread(_pack, record.path)  # disk and compression off the event loop
        custody: dict[str, Any] = orjson.loads(files[CUSTODY])
    except (OSError, orjson.JSONDecodeError) as exc:
        log.error("evidence %s not shared with other replicas: %s", record.id, exc)
        return False
    if len(packed) > MAX_COMPRESSED:
        log.warning("evidence %s (%d bytes compressed) stays on this replica's disk only", record.id, len(packed))
        return False
    sessions = custody.get("sessions") or []
    await store.rec_put(NAMESPACE, record.id, {
        "kind": record.kind, "subject": record.subject, "created": record.created, "replica": replica,
        "manifest_sha256": record.manifest_sha256,
        "principals": sorted({str(s.get("principal")) for s in sessions if s.get("principal")}),
        "agents": sorted({str(s.get("agent")) for s in sessions if s.get("agent")}),
        "sessions": sorted({str(s.get("session")) for s in sessions if s.get("session")}),
        "files": packed}, TTL_SECONDS)
    return True


def _pack(directory: Path) -> tuple[dict[str, bytes], str]:
    files = {name: (directory / name).read_bytes() for name in FILES}
    text = orjson.dumps({k: v.decode("utf-8", "replace") for k, v in files.items()})
    return files, base64.b64encode(zlib.compress(text, 6)).decode()


async def shared_evidence(store: Store) -> list[SharedEvidence]:
    """Every snapshot the store holds a copy of, oldest first."""
    out = []
    for evidence_id, fields in (await store.rec_list(NAMESPACE)).items():
        try:
            files = orjson.loads(zlib.decompress(base64.b64decode(str(fields["files"]))))
            out.append(SharedEvidence(
                evidence_id, str(fields["kind"]), str(fields["subject"]), str(fields["created"]),
                str(fields["replica"]), str(fields["manifest_sha256"]), tuple(fields.get("principals") or ()),
                tuple(fields.get("agents") or ()), tuple(fields.get("sessions") or ()),
                {str(k): str(v).encode() for k, v in files.items()}))
        except (KeyError, ValueError, zlib.error, orjson.JSONDecodeError) as exc:
            log.error("shared evidence %s unreadable: %s", evidence_id, type(exc).__name__)
    return sorted(out, key=lambda e: e.id)
