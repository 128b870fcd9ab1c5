"""The evidence bundle: one `.tar.gz` that proves itself (a manifest of SHA-256s and a custody record).

Layout (README, "Evidence bundle"):

    manifest.json          {"format", "created", "files": {path: sha256}}: every file below but custody.json
    custody.json           who exported it, when, from which host and replica, the manifest's SHA-256
    timeline.json, timeline.md, report.md, secrets.json
    audit/events.jsonl     the audit events in scope, as written
    audit/chain.txt        what `drawbridge audit verify` said of the files they were read from
    evidence/<id>/…        every sealed snapshot about the subjects, from any replica (via the store)
    upstreams/tools.json   the tool manifests of the upstreams involved; upstreams/pins.json if pinned
    policy/…               the policy files in force and policy/VERSION

`verify_bundle` reads the archive without extracting it: every member must be a regular file listed in the
manifest with the right hash, and the custody record must name the manifest's hash.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

FORMAT = "drawbridge-incident-bundle/1"
MANIFEST, CUSTODY = "manifest.json", "custody.json"
MAX_MEMBER = 1024 * 1024 * 1024  # a member larger than this is refused by verify (hostile archives)
MAX_MEMBERS = 100_000
_JSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


@dataclass
class BundleWriter:
    """Collects files (path inside the bundle → bytes), then writes the archive with its manifest."""

    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, path: str, data: bytes | str) -> None:
        if path in (MANIFEST, CUSTODY) or path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"bad bundle path {path!r}")
        self.files[path] = data.encode() if isinstance(data, str) else data

    def add_json(self, path: str, value: Any) -> None:
        self.add(path, orjson.dumps(value, option=_JSON, default=str))

    def add_tree(self, prefix: str, directory: Path) -> None:
        for item in sorted(directory.rglob("*")):
            if item.is_file() and not item.is_symlink():
                self.add(f"{prefix}/{item.relative_to(directory).as_posix()}", item.read_bytes())

    def write(self, out: Path, custody: dict[str, Any]) -> str:
        """Write the archive (0600, via a temporary file); returns its SHA-256."""
        now = time.time()
        manifest = orjson.dumps({"format": FORMAT, "created": rfc3339(now),
                                 "files": {p: hashlib.sha256(d).hexdigest() for p, d in sorted(self.files.items())}},
                                option=_JSON)
        custody = {**custody, "format": FORMAT, "exported_at": rfc3339(now),
                   "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
        members = [(MANIFEST, manifest), (CUSTODY, orjson.dumps(custody, option=_JSON, default=str)),
                   *sorted(self.files.items())]
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.with_name(f".{out.name}.partial")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), int(now), 0o444
                archive.addfile(info, io.BytesIO(data))
        staging.replace(out)
        return file_sha256(out)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _members(path: Path) -> Iterator[tuple[str, bytes | None, str]]:
    """(name, content or None, problem) for each member, without extracting anything."""
    with tarfile.open(path, mode="r:gz") as archive:
        for count, member in enumerate(archive):
            if count >= MAX_MEMBERS:
                yield member.name, None, "too many members"
                return
            if not member.isfile():
                yield member.name, None, "not a regular file"
                continue
            if member.size > MAX_MEMBER:
                yield member.name, None, "larger than the verifier reads"
                continue
            stream = archive.extractfile(member)
            yield member.name, stream.read() if stream is not None else b"", ""


def read_bundle(path: Path) -> dict[str, bytes]:
    """Every member's content (for replay and reports); raises ValueError on a member that is not a file."""
    out: dict[str, bytes] = {}
    for name, data, problem in _members(path):
        if data is None:
            raise ValueError(f"{name}: {problem}")
        out[name] = data
    return out


def verify_bundle(path: Path) -> list[str]:
    """Problems, first the file that breaks the manifest; empty when the bundle is intact."""
    try:
        members = {}
        for name, data, problem in _members(path):
            if data is None:
                return [f"{name}: {problem}"]
            if name in members:
                return [f"{name}: appears twice"]
            members[name] = data
    except (OSError, tarfile.TarError, EOFError) as exc:
        return [f"{path}: not a readable bundle ({type(exc).__name__})"]
    manifest_raw, custody_raw = members.pop(MANIFEST, None), members.pop(CUSTODY, None)
    if manifest_raw is None or custody_raw is None:
        return [f"{MANIFEST if manifest_raw is None else CUSTODY}: missing"]
    try:
        listed: dict[str, str] = orjson.loads(manifest_raw)["files"]
        custody = orjson.loads(custody_raw)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return [f"{MANIFEST}: unreadable"]
    problems = []
    if custody.get("manifest_sha256") != hashlib.sha256(manifest_raw).hexdigest():
        problems.append(f"{MANIFEST}: does not match the custody record's manifest_sha256")
    for name, digest in sorted(listed.items()):
        data = members.pop(name, None)
        if data is None:
            problems.append(f"{name}: missing")
        elif hashlib.sha256(data).hexdigest() != digest:
            problems.append(f"{name}: altered (SHA-256 differs from the manifest)")
    problems.extend(f"{name}: not in the manifest" for name in sorted(members))
    return problems
