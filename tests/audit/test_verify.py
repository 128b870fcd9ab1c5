"""`drawbridge audit verify`: intact files pass; each kind of tampering is named, at the first broken line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.audit import Auditor, system_event
from proxy.audit.auditor import Outlet
from proxy.audit.filesink import FileSink
from proxy.cli import main

KEY = "verify-test-key-9c2e"
STAMP = {"host": "test-host", "replica_id": "test-host-1-abcdef"}


def write(path: Path, events: int, *, every: int = 4, key: str | None = KEY, close: bool = True,
          max_bytes: int | None = None) -> None:
    """One proxy process writing `events` events (closing cleanly unless `close` is False)."""
    sink = FileSink.open(path, key=key.encode() if key else None, every=every, stamp=STAMP, max_bytes=max_bytes)
    auditor = Auditor([Outlet("file", sink)], replica_id=STAMP["replica_id"], host=STAMP["host"])
    for n in range(events):
        auditor.emit(system_event("decision", n=n, verdict="allow"))
    if close:
        auditor.close()


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    code = main(["audit", "verify", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUDIT_KEY", KEY)
    path = tmp_path / "audit.jsonl"
    write(path, 10)  # 10 events, checkpoints after 4 and 8, and at close: 13 lines
    return path


def test_an_untouched_file_passes_with_its_key(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, log, "--key-env", "AUDIT_KEY")
    assert code == 0, out
    assert "ok: 1 file(s), 13 lines, 1 segment(s), 3 checkpoint(s), 3 signatures verified" in out
    code, out = run(capsys, log)
    assert code == 0 and "signatures not checked" in out


def test_several_processes_and_rotations_pass_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 30, max_bytes=4096)
    write(path, 30, max_bytes=4096)
    files = [*sorted(tmp_path.glob("audit.jsonl.2*")), path]
    assert len(files) >= 3
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    code, out = run(capsys, *files, "--key-file", key_file)
    assert code == 0 and "2 segment(s)" in out, out
    code, out = run(capsys, *files[1:])  # the oldest file not given: said, not an error
    assert code == 0 and "note:" in out and "starts at seq" in out


def test_an_edited_line_is_named(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines(log)
    rows[5] = rows[5].replace(b'"verdict":"allow"', b'"verdict":"deny"')
    log.write_bytes(b"".join(rows))
    code, out = run(capsys, log)
    assert code == 1 and out.strip() == f"{log}:6: edited: its hash does not match prev_sha256 of line 7"


def test_an_edited_line_with_its_chain_recomputed_fails_the_signature(log: Path, capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    """Without the key, an attacker can rewrite the hashes after an edit; the checkpoint's HMAC cannot be."""
    forged = tmp_path / "forged.jsonl"
    write(forged, 10, key="attacker-guess")
    code, out = run(capsys, forged)
    assert code == 0  # the chain alone is consistent
    code, out = run(capsys, forged, "--key-env", "AUDIT_KEY")
    assert code == 1 and f"{forged}:5: bad_signature:" in out
    unsigned = tmp_path / "unsigned.jsonl"
    write(unsigned, 3, key=None)
    code, out = run(capsys, unsigned, "--key-env", "AUDIT_KEY")
    assert code == 1 and "bad_signature: the checkpoint is not signed" in out


def test_a_deleted_line_is_named(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines(log)
    del rows[2]
    log.write_bytes(b"".join(rows))
    code, out = run(capsys, log)
    assert code == 1 and out.strip() == f"{log}:3: deleted: seq jumps to 4: 1 line(s) missing before it"


def test_swapped_lines_are_named(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines(log)
    rows[1], rows[2] = rows[2], rows[1]
    log.write_bytes(b"".join(rows))
    code, out = run(capsys, log)
    assert code == 1 and out.strip() == f"{log}:2: swapped: seq 3 comes before seq 2"
    rows = lines(log)
    rows.insert(8, rows.pop(0))  # a line moved later: seq goes backwards there
    log.write_bytes(b"".join(rows))
    assert "swapped" in run(capsys, log)[1]


def test_a_truncated_tail_is_named(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log.write_bytes(b"".join(lines(log)[:11]))  # the last event and the closing checkpoint removed
    code, out = run(capsys, log)
    assert code == 1 and out.startswith(f"{log}:12: truncated: the file ends without a final checkpoint "
                                        "(last checkpoint: line 10)")
    log.write_bytes(b"".join(lines(log)[:10]))  # ends exactly at an interval checkpoint: still unproven
    assert run(capsys, log)[0] == 1
    log.write_bytes(b"".join(lines(log)) + b'{"seq":11,')
    assert "truncated: the last line is cut short" in run(capsys, log)[1]


def test_a_crashed_segment_followed_by_a_new_one_is_truncated(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 3, close=False)  # killed: no closing checkpoint
    write(path, 2)
    code, out = run(capsys, path)
    assert code == 1 and f"{path}:4: truncated: a new segment starts but the previous one has no closing" in out


def test_rotated_files_out_of_order_or_missing_are_a_rotation_gap(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 40, max_bytes=4096)
    first, second, *_ = files = [*sorted(tmp_path.glob("audit.jsonl.2*")), path]
    code, out = run(capsys, second, first, *files[2:])
    assert code == 1 and f"{first}:1: rotation_gap: does not link to the last line of {second}" in out
    code, out = run(capsys, first, *files[2:])
    assert code == 1 and f"{files[2]}:1: rotation_gap" in out


def test_usage_errors_and_unreadable_files_exit_2(log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(capsys, tmp_path / "missing.jsonl")
    assert code == 2 and "cannot read" in out
    monkeypatch.delenv("AUDIT_KEY")
    code, out = run(capsys, log, "--key-env", "AUDIT_KEY")
    assert code == 2 and "AUDIT_KEY is not set" in out
    with pytest.raises(SystemExit) as exited:
        main(["audit", "verify"])
    assert exited.value.code == 2
    assert main(["audit"]) == 2


def test_a_line_that_is_not_chained_is_an_edit(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = lines(log)
    rows[3] = orjson.dumps({"event_type": "decision"}) + b"\n"
    log.write_bytes(b"".join(rows))
    code, out = run(capsys, log)
    assert code == 1 and f"{log}:4: edited: not a chained audit line" in out
