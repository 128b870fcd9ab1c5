"""Assemble an incident bundle (`bundle.py` has its layout) from the audit stream and the shared store.

Used by `drawbridge incident export` (on any host that reads the audit files and reaches the store) and by
the admin API (on the replica that serves the request). Evidence comes from the store, so a bundle exported
through one replica holds the snapshots sealed on every other.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from proxy.audit.verify import verify
from proxy.catalog import ToolCatalog
from proxy.config import Config
from proxy.evidence.shared import SharedEvidence, shared_evidence
from proxy.incident import report, secrets
from proxy.incident.auditlog import read_events
from proxy.incident.bundle import BundleWriter, rfc3339
from proxy.incident.timeline import Scope, build_timeline
from proxy.pins.approvals import approved
from proxy.policy.loader import load_policy
from proxy.state.model import Store


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    sha256: str
    events: int
    evidence: int
    exposures: int
    timeline: dict[str, Any]


def chain_summary(paths: list[Path]) -> str:
    """What `drawbridge audit verify` says of the audit files the events were read from."""
    if not paths:
        return "no audit file was read"
    try:
        verifier, found = verify(paths)
    except OSError as exc:
        return f"not verified: {exc.filename} unreadable"
    if found is not None and found.kind == "truncated" and found.path == paths[-1]:
        return (f"intact up to {found.path}:{found.line} ({verifier.lines} lines); the live file's last lines "
                f"come after its last checkpoint, so they are proven only once the proxy writes the next one")
    if found is not None:
        return f"BROKEN: {found}"
    return (f"intact: {len(paths)} file(s), {verifier.lines} lines, {verifier.segments} segment(s), "
            f"{verifier.checkpoints} checkpoint(s) (signatures not checked here)")


async def export_bundle(config: Config, store: Store, scope: Scope, out: Path, *, audit_paths: list[Path],
                        since: float | None, until: float | None, exported_by: str, replica_id: str) -> Exported:
    """Write the bundle for `scope` to `out`; blocking file work runs in a thread."""
    events = await asyncio.to_thread(read_events, audit_paths, since, until)
    timeline = build_timeline(events, scope)
    data = timeline.as_json()
    ids = {e["event_id"] for e in data["events"]}
    scoped = [e for e in events if e.get("event_id") in ids]
    principals, agents, sessions = set(data["principals"]), set(data["agents"]), set(data["sessions"])
    evidence = [e for e in await shared_evidence(store) if e.covers(principals, agents, sessions)]
    upstreams = sorted({str(e["upstream"]) for e in scoped if e.get("upstream")})
    tools = await ToolCatalog(store).manifest(upstreams)
    pins = {u: await approved(store, u) for u in upstreams} if config.pins is not None else None
    exposures = secrets.exposures(scoped)
    chain = await asyncio.to_thread(chain_summary, audit_paths)
    exported_at = rfc3339(time.time())
    return await asyncio.to_thread(
        _write, out, config, data, timeline.markdown(), scoped, evidence, tools, pins, exposures, chain,
        {"exported_by": exported_by, "host": socket.gethostname(), "replica_id": replica_id,
         "scope": data["scope"], "audit_files": [str(p) for p in audit_paths], "since": since, "until": until},
        exported_at)


def _write(out: Path, config: Config, timeline: dict[str, Any], timeline_md: str, scoped: list[dict[str, Any]],
           evidence: list[SharedEvidence], tools: dict[str, Any], pins: dict[str, Any] | None,
           exposures: list[dict[str, Any]], chain: str, custody: dict[str, Any], exported_at: str) -> Exported:
    writer = BundleWriter()
    writer.add_json("timeline.json", timeline)
    writer.add("timeline.md", timeline_md)
    writer.add("audit/events.jsonl", b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in scoped))
    writer.add("audit/chain.txt", chain + "\n")
    listed = []
    for item in evidence:
        for name, content in item.files.items():
            writer.add(f"evidence/{item.id}/{name}", content)
        listed.append({"id": item.id, "kind": item.kind, "subject": item.subject, "created": item.created,
                       "replica": item.replica, "manifest_sha256": item.manifest_sha256, "intact": item.intact()})
    writer.add_json("evidence/index.json", listed)
    writer.add_json("upstreams/tools.json", tools)
    if pins is not None:
        writer.add_json("upstreams/pins.json", pins)
    loaded = load_policy(config.policy)
    for path in loaded.files:
        writer.add(f"policy/{path.resolve().relative_to(config.policy.resolve()).as_posix()}", path.read_bytes())
    writer.add("policy/VERSION", loaded.policy.version + "\n")
    writer.add_json("secrets.json", exposures)
    writer.add("report.md", report.render(timeline, exposures, listed, policy_version=loaded.policy.version,
                                          chain=chain, exported_by=str(custody["exported_by"]),
                                          exported_at=exported_at))
    digest = writer.write(out, custody)
    return Exported(out, digest, len(scoped), len(listed), len(exposures), timeline)
