"""Write-once evidence directories: exchanges, context and chain of custody, sealed by a SHA-256 manifest.

Layout of `<evidence_dir>/<YYYYmmddTHHMMSSZ>-<8 hex>/` (files 0o444, directory 0o555):
`exchanges.jsonl`, `context.json`, `custody.json`, `MANIFEST.sha256` (`sha256sum` format).
The manifest's own SHA-256 goes into the audit event, which anchors it outside the directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from proxy import __version__

FORMAT = "drawbridge-evidence/1"
EVIDENCE_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
EXCHANGES, CONTEXT, CUSTODY, MANIFEST = "exchanges.jsonl", "context.json", "custody.json", "MANIFEST.sha256"
SEALED = (CONTEXT, CUSTODY, EXCHANGES)
FILE_MODE, DIR_MODE = 0o444, 0o555
_JSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


@dataclass(frozen=True, slots=True)
class SessionCapture:
    """The ring buffer of one session at snapshot time: (epoch seconds, JSON bytes) per exchange."""

    session: str
    principal: str
    agent: str | None
    entries: list[tuple[float, bytes]]


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    id: str
    path: Path
    created: str
    kind: str
    subject: str
    actor: str
    reason: str
    ticket: str | None
    sessions: int
    exchanges: int
    manifest_sha256: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """A record re-read from disk and checked against its manifest."""

    record: EvidenceRecord
    verified: bool
    problems: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.record.as_dict(), "verified": self.verified, "problems": list(self.problems),
                "files": self.files, "context": self.context}


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> str:
    with path.open("xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return _sha256(data)


def _exchanges(captures: list[SessionCapture]) -> bytes:
    rows: list[tuple[float, bytes]] = []
    for cap in captures:
        head = orjson.dumps({"session": cap.session, "principal": cap.principal, "agent": cap.agent})[:-1]
        rows.extend((t, head + b',"exchange":' + raw + b"}\n") for t, raw in cap.entries)
    rows.sort(key=lambda row: row[0])
    return b"".join(raw for _, raw in rows)


def write_evidence(root: Path, *, kind: str, subject: str, actor: str, reason: str, ticket: str | None,
                   context: dict[str, Any], captures: list[SessionCapture], limits: dict[str, int]) -> EvidenceRecord:
    """Seal one snapshot into a new directory under `root` (built aside, then renamed into place)."""
    now = time.time()
    evidence_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}-{secrets.token_hex(4)}"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = root / f".staging-{evidence_id}"
    staging.mkdir(mode=0o700)
    count = sum(len(c.entries) for c in captures)
    custody = {
        "format": FORMAT, "evidence_id": evidence_id, "kind": kind, "subject": subject,
        "collected_by": actor, "collected_at": rfc3339(now), "collected_at_epoch": now,
        "reason": reason, "ticket": ticket, "host": socket.gethostname(), "pid": os.getpid(),
        "drawbridge_version": __version__, "exchanges": count, "limits": limits,
        "sessions": [{"session": c.session, "principal": c.principal, "agent": c.agent,
                      "exchanges": len(c.entries)} for c in captures],
        "note": "exchanges are recorded as the agent saw them (results after redaction); "
                "verify with MANIFEST.sha256 and the audit event's evidence_sha256",
    }
    digests = {
        EXCHANGES: _write(staging / EXCHANGES, _exchanges(captures)),
        CONTEXT: _write(staging / CONTEXT, orjson.dumps(context, option=_JSON, default=str)),
        CUSTODY: _write(staging / CUSTODY, orjson.dumps(custody, option=_JSON, default=str)),
    }
    manifest = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)).encode()
    _write(staging / MANIFEST, manifest)
    for name in (*SEALED, MANIFEST):
        (staging / name).chmod(FILE_MODE)
    final = root / evidence_id
    staging.rename(final)
    final.chmod(DIR_MODE)
    return EvidenceRecord(evidence_id, final, rfc3339(now), kind, subject, actor, reason, ticket,
                          len(captures), count, _sha256(manifest))


def _record(directory: Path, manifest: bytes) -> EvidenceRecord:
    try:
        custody: dict[str, Any] = orjson.loads((directory / CUSTODY).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        custody = {}
    return EvidenceRecord(
        directory.name, directory, str(custody.get("collected_at", "?")), str(custody.get("kind", "?")),
        str(custody.get("subject", "?")), str(custody.get("collected_by", "?")), str(custody.get("reason", "")),
        custody.get("ticket"), len(custody.get("sessions", [])), int(custody.get("exchanges", 0)),
        _sha256(manifest))


def _read_manifest(directory: Path, problems: list[str]) -> tuple[bytes, dict[str, str]]:
    try:
        manifest = (directory / MANIFEST).read_bytes()
    except OSError:
        problems.append(f"{MANIFEST} is missing")
        return b"", {}
    listed: dict[str, str] = {}
    for line in manifest.decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    return manifest, listed


def verify_evidence(directory: Path, expected_manifest: str | None = None) -> EvidenceReport:
    """Re-hash every file against the manifest; report missing, changed, extra or writable files."""
    problems: list[str] = []
    manifest, listed = _read_manifest(directory, problems)
    if manifest and sorted(listed) != sorted(SEALED):
        problems.append(f"{MANIFEST} lists {sorted(listed)}, expected {sorted(SEALED)}")
    if expected_manifest is not None and manifest and _sha256(manifest) != expected_manifest:
        problems.append(f"{MANIFEST} differs from the one sealed at collection")
    files: dict[str, str] = {}
    for name in SEALED:
        path = directory / name
        try:
            files[name] = _sha256(path.read_bytes())
            mode = path.stat().st_mode & 0o777
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if name in listed and files[name] != listed[name]:
            problems.append(f"{name} was modified (sha256 {files[name][:16]}… ≠ manifest {listed[name][:16]}…)")
        if mode != FILE_MODE:
            problems.append(f"{name} has mode {oct(mode)}, sealed as {oct(FILE_MODE)}")
    extra = sorted(p.name for p in directory.iterdir() if p.name not in (*SEALED, MANIFEST))
    if extra:
        problems.append(f"unexpected files: {', '.join(extra)}")
    if directory.stat().st_mode & 0o777 != DIR_MODE:
        problems.append(f"directory mode is {oct(directory.stat().st_mode & 0o777)}, sealed as {oct(DIR_MODE)}")
    try:
        context: dict[str, Any] = orjson.loads((directory / CONTEXT).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        context = {}
    return EvidenceReport(_record(directory, manifest), not problems, tuple(problems), files, context)


def list_evidence(root: Path) -> list[EvidenceRecord]:
    """Every sealed snapshot under `root`, newest first."""
    if not root.is_dir():
        return []
    out = []
    # The id starts with a UTC second; within one second, the sealing order is the directories' mtimes.
    candidates = [d for d in root.iterdir() if d.is_dir() and EVIDENCE_ID.fullmatch(d.name)]
    for directory in sorted(candidates, key=lambda d: (d.name.split("-", 1)[0], d.stat().st_mtime_ns), reverse=True):
        if directory.is_dir() and EVIDENCE_ID.fullmatch(directory.name):
            try:
                manifest = (directory / MANIFEST).read_bytes()
            except OSError:
                manifest = b""
            out.append(_record(directory, manifest))
    return out


def read_exchanges(directory: Path) -> list[dict[str, Any]]:
    """The captured exchanges (one JSON object per line)."""
    return [orjson.loads(line) for line in (directory / EXCHANGES).read_bytes().splitlines() if line.strip()]
