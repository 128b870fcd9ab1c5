"""Using `drawbridge` from a terminal and from scripts: --json outputs, shell completion, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cli import EXIT_FAILURE, EXIT_OK, main

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "policies" / "default"


def complete(line: str, tmp_path: Path) -> list[str]:
    """What the shell would offer for `line` (argcomplete's protocol, as the installed script speaks it)."""
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line,
           "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    done = subprocess.run([sys.executable, "-m", "proxy"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return [word.strip() for word in out.read_text().split("\n") if word.strip()]


def test_completion_offers_commands_verbs_and_options(tmp_path: Path) -> None:
    assert complete("drawbridge rate-l", tmp_path) == ["rate-limit"]
    assert {"add", "list", "remove"} <= set(complete("drawbridge rate-limit ", tmp_path))
    options = set(complete("drawbridge quarantine principal alice --", tmp_path))
    assert {"--mode", "--reason", "--ttl", "--json"} <= options


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete "), ("zsh", "#compdef drawbridge"),
                                               ("fish", "complete --command drawbridge")])
def test_completion_scripts_for_each_shell(shell: str, marker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == EXIT_OK
    script = capsys.readouterr().out
    assert marker in script and "drawbridge" in script


def test_the_bash_script_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["completion", "bash"])
    script = tmp_path / "drawbridge.bash"
    script.write_text(capsys.readouterr().out)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, timeout=30).returncode == 0


def test_policy_check_and_test_speak_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(DEFAULT_POLICY), "--json"]) == EXIT_OK
    checked = json.loads(capsys.readouterr().out)
    assert checked["ok"] is True and checked["rules"] > 0 and checked["version"]
    assert main(["policy", "test", str(DEFAULT_POLICY), "--json"]) == EXIT_OK
    tested = json.loads(capsys.readouterr().out)
    assert tested["failed"] == 0 and tested["passed"] == len(tested["results"]) > 0


def test_audit_verify_speaks_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from proxy.audit import Auditor, system_event
    from proxy.audit.sinks import build_outlets
    from proxy.config import AuditConfig

    path = tmp_path / "audit.jsonl"
    auditor = Auditor(build_outlets(AuditConfig(file=path), stdout_is_protocol=True, host="h", replica_id="r"))
    for n in range(3):
        auditor.emit(system_event("policy_reload", ok=True, policy_version=f"v{n}", detail=""))
    auditor.close()
    assert main(["audit", "verify", str(path), "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["lines"] >= 3 and report["problem"] is None
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # a line removed: the chain breaks
    assert main(["audit", "verify", str(path), "--json"]) == EXIT_FAILURE
    broken = json.loads(capsys.readouterr().out)
    assert broken["ok"] is False and broken["problem"]


def test_scan_exits_1_when_a_record_could_not_be_processed(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": 1, "surface": "tool_result", "text": "hello"}) + "\n")
    assert main(["scan", str(good)]) == EXIT_OK
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + "not json\n")
    assert main(["scan", str(bad)]) == EXIT_FAILURE
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [("error" in r) for r in results[-2:]] == [False, True]
