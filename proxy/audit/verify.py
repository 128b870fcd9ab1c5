"""`drawbridge audit verify FILE… [--key-env VAR | --key-file F]`: check audit files' hash chain.

The files are one chain, oldest first (rotated files, then the live one). The first break is printed as
`FILE:LINE: KIND: detail`; exit 0 when intact, 1 on a break, 2 on a usage error or an unreadable file.

- `edited`: a line's hash does not match the next line's `prev_sha256` while `seq` is continuous (or a
  line is not a chained JSON object, or a checkpoint contradicts the chain). LINE is the edited line.
- `deleted`: `seq` skips numbers found nowhere later in the file, or a checkpoint's `count` is larger
  than the events before it.
- `swapped`: `seq` goes backwards, or skips numbers that come later (lines out of order).
- `truncated`: a file ends, or a new segment (a later process, `seq` 1) starts, after a line that is not
  a final checkpoint (`close`; at the end of a file also `rotate` or `reopen`), or the last line has no
  newline. The lines after the last checkpoint cannot be proven complete. A running proxy's live file,
  and the file of a proxy that crashed, verify as truncated for that reason.
- `bad_signature`: with a key, a checkpoint whose `hmac_sha256` is missing or wrong.
- `rotation_gap`: a file's first line does not continue the chain of the file given before it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from proxy.audit.chain import CHECKPOINT, GENESIS, sign
from proxy.config import SecretSource
from proxy.errors import ConfigError

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2
FINAL_IN_FILE = frozenset({"close"})
FINAL_AT_END = frozenset({"close", "rotate", "reopen"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Break:
    path: Path
    line: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.detail}"


@dataclass
class Verifier:
    """Walks the lines of the files in order, keeping what the next line must link to."""

    key: bytes | None = None
    lines: int = 0
    checkpoints: int = 0
    segments: int = 0
    notes: list[str] = field(default_factory=list)
    _prev_hash: str | None = None
    _prev_seq: int = 0
    _prev_at: tuple[Path, int] = (Path(), 0)
    _prev_reason: str | None = None  # the previous line's checkpoint reason; None: not a checkpoint
    _since: int | None = None  # events since the last checkpoint (None: the segment's start was not given)
    _last_checkpoint: int = 0

    def file(self, path: Path, data: bytes, *, first: bool) -> Break | None:
        """Check one file's lines after those of the files before it."""
        parts = data.split(b"\n")
        torn = parts.pop()
        lines = [p + b"\n" for p in parts]
        self._last_checkpoint = 0
        for number, raw in enumerate(lines, 1):
            found = self._line(path, number, raw, boundary=number == 1 and not first, rest=lines[number:])
            if found is not None:
                return found
        if torn:
            return Break(path, len(lines) + 1, "truncated", "the last line is cut short (no newline)")
        if lines and self._prev_reason not in FINAL_AT_END:
            where = f"line {self._last_checkpoint}" if self._last_checkpoint else "none in this file"
            return Break(path, len(lines) + 1, "truncated",
                         f"the file ends without a final checkpoint (last checkpoint: {where}); the lines after "
                         "it cannot be proven complete (proxy still running, crashed, or lines removed)")
        return None

    def _line(self, path: Path, number: int, raw: bytes, *, boundary: bool, rest: list[bytes]) -> Break | None:
        obj = _parse(raw)
        seq, prev = (obj.get("seq"), obj.get("prev_sha256")) if obj is not None else (None, None)
        if obj is None or not isinstance(seq, int) or seq < 1 or not (isinstance(prev, str) and _HEX64.fullmatch(prev)):
            return Break(path, number, "edited", "not a chained audit line (a JSON object with seq and prev_sha256)")
        found = self._link(path, number, seq, prev, boundary, rest)
        if found is not None:
            return found
        if obj.get("event_type") == CHECKPOINT:
            found = self._checkpoint(path, number, obj, prev)
            if found is not None:
                return found
            reason = obj.get("reason")
            self._prev_reason, self._since, self._last_checkpoint = str(reason), 0, number
            self.checkpoints += 1
        else:
            self._prev_reason = None
            self._since = None if self._since is None else self._since + 1
        self._prev_hash, self._prev_seq, self._prev_at = hashlib.sha256(raw).hexdigest(), seq, (path, number)
        self.lines += 1
        return None

    def _link(self, path: Path, number: int, seq: int, prev: str, boundary: bool, rest: list[bytes]) -> Break | None:
        """Does this line continue the chain? (A new segment starts at seq 1.)"""
        if self._prev_hash is None:
            self.segments += 1
            if seq == 1 and prev == GENESIS:
                self._since = 0
            else:
                self.notes.append(f"{path}:{number}: the chain starts at seq {seq}, in a file not given")
            return None
        if boundary and prev != self._prev_hash:
            return Break(path, number, "rotation_gap",
                         f"does not link to the last line of {self._prev_at[0]} (seq {self._prev_seq} -> {seq})")
        if seq == 1:
            if prev != self._prev_hash:
                return self._edited()
            if self._prev_reason not in FINAL_IN_FILE:
                return Break(path, number, "truncated",
                             "a new segment starts but the previous one has no closing checkpoint; the lines after "
                             f"its last checkpoint cannot be proven complete ({self._since_text()})")
            self.segments += 1
            self._since = 0
            return None
        if self._prev_reason in FINAL_IN_FILE or seq > self._prev_seq + 1:
            expected = 1 if self._prev_reason in FINAL_IN_FILE else self._prev_seq + 1
            if any(expected <= s < seq for s in _later_seqs(rest)):
                return Break(path, number, "swapped", f"seq {seq} comes before seq {expected}")
            return Break(path, number, "deleted", f"seq jumps to {seq}: {seq - expected} line(s) missing before it")
        if seq <= self._prev_seq:
            return Break(path, number, "swapped", f"seq {seq} after seq {self._prev_seq}")
        return self._edited() if prev != self._prev_hash else None

    def _edited(self) -> Break:
        path, number = self._prev_at
        return Break(path, number, "edited", f"its hash does not match prev_sha256 of line {number + 1}")

    def _checkpoint(self, path: Path, number: int, obj: dict[str, Any], prev: str) -> Break | None:
        if obj.get("chain_sha256") != prev:
            return Break(path, number, "edited", "the checkpoint's chain_sha256 differs from its prev_sha256")
        count = obj.get("count")
        if self._since is not None and count != self._since:
            return Break(path, number, "deleted", f"the checkpoint covers {count} events, {self._since} are present")
        if self.key is not None:
            mac = obj.get("hmac_sha256")
            if not isinstance(mac, str):
                return Break(path, number, "bad_signature", "the checkpoint is not signed")
            if not hmac.compare_digest(mac, sign(self.key, obj)):
                return Break(path, number, "bad_signature",
                             "the HMAC does not match (another key, or the checkpoint was changed)")
        return None

    def _since_text(self) -> str:
        return "start not given" if self._since is None else f"{self._since} line(s) after it"


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _later_seqs(rest: list[bytes]) -> list[int]:
    """The seqs of the following lines of this segment (up to the next seq 1)."""
    seqs: list[int] = []
    for raw in rest:
        obj = _parse(raw)
        seq = obj.get("seq") if obj is not None else None
        if isinstance(seq, int):
            seqs.append(seq)
        if seq == 1:
            break
    return seqs


def verify(paths: list[Path], key: bytes | None = None) -> tuple[Verifier, Break | None]:
    """Check `paths` as one chain; raises OSError when a file cannot be read."""
    verifier = Verifier(key)
    for index, path in enumerate(paths):
        found = verifier.file(path, path.read_bytes(), first=index == 0)
        if found is not None:
            return verifier, found
    return verifier, None


# -- the command ---------------------------------------------------------------------------------
def add_audit_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="check audit files")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    check = actions.add_parser("verify", help="check the hash chain and checkpoints of audit files, oldest first")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    keys = check.add_mutually_exclusive_group()
    keys.add_argument("--key-env", metavar="VAR", help="the checkpoint HMAC key, from this environment variable")
    keys.add_argument("--key-file", type=Path, metavar="F", help="the checkpoint HMAC key, from this file")
    check.add_argument("--json", dest="as_json", action="store_true", help="print the outcome as one JSON object")


def run_audit_command(ns: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if ns.audit_command != "verify":
        raise ConfigError("audit needs an action: drawbridge audit verify FILE…")
    key = None
    if ns.key_env or ns.key_file:
        source = SecretSource(env=ns.key_env) if ns.key_env else SecretSource(file=ns.key_file)
        key = source.resolve("--key-env" if ns.key_env else "--key-file").encode()
        if not key:
            raise ConfigError("the checkpoint key is empty")
    try:
        verifier, found = verify(list(ns.files), key)
    except OSError as exc:
        print(f"drawbridge: cannot read {exc.filename}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    if getattr(ns, "as_json", False):
        print(json.dumps({"ok": found is None, "files": [str(f) for f in ns.files], "lines": verifier.lines,
                          "segments": verifier.segments, "checkpoints": verifier.checkpoints,
                          "signatures_checked": key is not None, "notes": list(verifier.notes),
                          "problem": None if found is None else str(found)}), file=out)
        return EXIT_OK if found is None else EXIT_BROKEN
    for note in verifier.notes:
        print(f"note: {note}", file=out)
    if found is not None:
        print(found, file=out)
        return EXIT_BROKEN
    signatures = f"{verifier.checkpoints} signatures verified" if key else "signatures not checked (no key)"
    print(f"ok: {len(ns.files)} file(s), {verifier.lines} lines, {verifier.segments} segment(s), "
          f"{verifier.checkpoints} checkpoint(s), {signatures}", file=out)
    return EXIT_OK
