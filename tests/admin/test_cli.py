"""The responder CLI against a real admin API served by uvicorn on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from proxy.admin.commands import main
from proxy.evidence.recorder import EvidenceRecorder
from proxy.sessions import SessionInfo
from proxy.state.sqlite import SQLiteStore

from .conftest import TOKEN
from .servers import serve_in_thread


@pytest.fixture
def admin_url(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serve_in_thread(app) as url:
        monkeypatch.setenv("DRAWBRIDGE_ADMIN_URL", url)
        monkeypatch.setenv("DRAWBRIDGE_ADMIN_TOKEN", TOKEN)
        yield url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runbook(admin_url: str, capsys: pytest.CaptureFixture[str], store: SQLiteStore,
                 ended: list[SessionInfo], recorder: EvidenceRecorder) -> None:
    code, out, err = run(capsys, "quarantine", "principal", "alice", "--reason", "exfil via fetch",
                         "--ticket", "IR-2026-0142", "--ttl", "72h")
    assert (code, err) == (0, "")
    q = store.state().quarantine_for("alice", None, None)
    assert q is not None and q.expires is not None
    expiry = q.expires
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))
    assert "alice" in out and "IR-2026-0142" in out and until in out and ("(in 3d)" in out or "(in 2d23h)" in out)
    assert "evidence" in out and "oncall-alice" in out

    code, out, _ = run(capsys, "status")
    assert code == 0 and "QUARANTINES: 1" in out and "alice" in out and until in out
    assert "DENIED TOOLS: none" in out

    code, out, _ = run(capsys, "status", "--json")
    assert code == 0 and json.loads(out)["quarantines"][0]["subject"] == "alice"

    code, out, _ = run(capsys, "release", "principal", "alice", "--to-mode", "read-only", "--reason", "staged")
    assert code == 0 and "released principal alice from block" in out and "read-only" in out
    code, _, err = run(capsys, "release", "principal", "alice", "--to-mode", "read-only", "--reason", "again")
    assert code == 1 and err.count("\n") == 1 and "less strict" in err

    code, out, _ = run(capsys, "deny-tools", "--agent", "copilot", "--tools", "shell.exec,fs.delete,iam.*",
                       "--reason", "r", "--ttl", "1d")
    assert code == 0 and "shell.exec, fs.delete, iam.*" in out and ("(in 1d)" in out or "(in 23h59m)" in out)
    overlay_id = store.state().deny_overlays[0].id
    code, out, _ = run(capsys, "deny-tools", "list")
    assert code == 0 and overlay_id in out
    code, out, _ = run(capsys, "deny-tools", "remove", overlay_id, "--reason", "patched")
    assert code == 0 and store.state().deny_overlays == ()

    code, out, _ = run(capsys, "egress", "deny", "--host", "attacker.example", "--ttl", "72h", "--reason", "c2")
    assert code == 0 and "attacker.example" in out
    deny_id = store.state().egress_denies[0].id
    code, out, _ = run(capsys, "egress", "list")
    assert code == 0 and deny_id in out and "until released" not in out
    code, _, _ = run(capsys, "egress", "remove", deny_id, "--reason", "done")
    assert code == 0 and store.state().egress_denies == ()

    code, out, _ = run(capsys, "sessions", "list", "--principal", "bob")
    assert code == 0 and "s-3" in out and "s-1" not in out
    code, out, _ = run(capsys, "sessions", "kill", "s-3", "--reason", "r")
    assert code == 0 and "killed 1 session(s)" in out and [info.client_key for info in ended] == ["s-3"]

    code, out, _ = run(capsys, "evidence", "list")
    ids = [r.id for r in recorder.list()]
    assert code == 0 and len(ids) == 2 and all(i in out for i in ids)
    quarantine_evidence = ids[-1]
    code, out, _ = run(capsys, "evidence", "show", quarantine_evidence, "--exchanges")
    assert code == 0 and "True" in out and "[REDACTED]" in out
    exchanges = recorder.evidence_dir / quarantine_evidence / "exchanges.jsonl"
    exchanges.chmod(0o644)
    exchanges.write_text(exchanges.read_text().replace("REDACTED", "forged"))
    code, out, err = run(capsys, "evidence", "show", quarantine_evidence)
    assert code == 1 and "TAMPERED" in out and err.count("\n") == 1 and "failed verification" in err


def test_errors_are_one_line_with_exit_codes(admin_url: str, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [
        (("quarantine", "principal", "alice"), 2, "--reason"),
        (("quarantine", "user", "alice", "--reason", "r"), 2, "invalid choice"),
        (("quarantine", "principal", "alice", "--reason", "r", "--ttl", "forever"), 2, "invalid duration"),
        (("release", "session", "nobody", "--reason", "r"), 1, "not quarantined (HTTP 404)"),
        (("deny-tools", "--tools", "x", "--reason", "r"), 2, "exactly one of --agent/--principal"),
        (("sessions", "kill", "--reason", "r"), 2, "session id or --principal"),
        (("evidence", "show", "20260101T000000Z-00000000"), 1, "no evidence"),
        (("status", "--token", "wrong"), 1, "invalid admin token (HTTP 401)"),
        (("status", "--admin", "http://127.0.0.1:9"), 1, "cannot reach the admin API"),
        (("status", "--admin", "http://admin.example:8081"), 2, "plain http"),
        ((), 2, "required"),
    ]
    for argv, expected, text in cases:
        code, _, err = run(capsys, *argv)
        assert (code, err.count("\n")) == (expected, 1), (argv, err)
        assert text in err, (argv, err)
    monkeypatch.delenv("DRAWBRIDGE_ADMIN_TOKEN")
    code, _, err = run(capsys, "status")
    assert code == 2 and "no admin token" in err and err.count("\n") == 1


def test_module_entry_point(admin_url: str, tmp_path: object) -> None:
    env = {**os.environ, "DRAWBRIDGE_ADMIN_URL": admin_url, "DRAWBRIDGE_ADMIN_TOKEN": TOKEN}
    proc = subprocess.run([sys.executable, "-m", "proxy.admin.commands", "status", "--json"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["store_healthy"] is True
