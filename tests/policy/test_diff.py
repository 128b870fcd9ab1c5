"""`drawbridge policy diff`: what changed between two policy sets, or between a baseline and the set in force."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from proxy.cli import main
from proxy.testing import write_policy
from tests.support.inprocess import RecordingUpstream, inprocess_proxy, serve_asgi

BASELINE = """\
version: 1
settings:
  anonymous: true
  egress:
    egress_tools: ["http_post"]
    allow:
      - {tools: ["http_post"], hosts: ["api.example.com"]}
rules:
  - {id: permit-read, effect: permit, methods: ["tools/call"], names: ["read_*"]}
  - id: permit-fetch
    effect: permit
    methods: ["tools/call"]
    names: ["fetch"]
    arguments:
      - {path: url, glob: "https://api.example.com/*"}
  - {id: permit-list, effect: permit, methods: ["tools/list", "initialize", "notifications/*"]}
"""
ALTERED = """\
version: 1
settings:
  anonymous: true
  egress:
    egress_tools: ["http_post"]
    allow:
      - {tools: ["http_post"], hosts: ["api.example.com", "paste.example.net"]}
  detections:
    disabled: [result_exfiltration]
rules:
  - id: permit-fetch
    effect: permit
    methods: ["tools/call"]
    names: ["fetch"]
    arguments:
      - {path: url, glob: "https://*/*"}
  - {id: permit-list, effect: permit, methods: ["tools/list", "initialize", "notifications/*"]}
  - {id: forbid-shell, effect: forbid, methods: ["tools/call"], names: ["shell.*"], severity: SEV-2}
"""


pytestmark = pytest.mark.usefixtures("restore_logging")  # main() configures root logging


def diff(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str], str]:
    code = main(["policy", "diff", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def policy_dir(path: Path, text: str) -> Path:
    write_policy(path, text)
    return path


def test_identical_sets_exit_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b = policy_dir(tmp_path / "a", BASELINE), policy_dir(tmp_path / "b", BASELINE)
    code, lines, err = diff(capsys, a, b)
    assert code == 0 and err == ""
    assert lines[0].startswith("baseline: sha256:") and lines[0].endswith(f" {a} (3 rules, 1 file)")
    assert lines[0].split()[1] == lines[1].split()[1]  # same version hash
    assert lines[2:] == ["identical"]


def test_every_rule_and_setting_change_is_one_exact_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b = policy_dir(tmp_path / "a", BASELINE), policy_dir(tmp_path / "b", ALTERED)
    code, lines, err = diff(capsys, a, b)
    assert code == 1 and err == ""
    assert lines[0].split()[1] != lines[1].split()[1]
    assert lines[2:] == [
        "~ file policy.yaml",
        '- rule permit-read (permit to_server methods=["tools/call"] names=["read_*"])',
        '~ rule permit-fetch: arguments[0].glob: "https://api.example.com/*" → "https://*/*"',
        '+ rule forbid-shell (forbid to_server methods=["tools/call"] names=["shell.*"] severity=SEV-2)',
        '~ settings.egress.allow[0].hosts: ["api.example.com"] → ["api.example.com", "paste.example.net"]',
        '~ settings.detections.disabled: [] → ["result_exfiltration"]',
        "DIFFERENT: 1 file(s), 3 rule(s), 2 setting(s) changed",
    ]


def test_a_comment_alone_changes_the_version_and_is_reported_as_such(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    a = policy_dir(tmp_path / "a", BASELINE)
    b = policy_dir(tmp_path / "b", "# reviewed\n" + BASELINE)
    write_policy(b, "rules: []\n", "extra.yaml")
    code, lines, _ = diff(capsys, a, b)
    assert code == 1
    assert lines[2:] == ["~ file policy.yaml", "+ file extra.yaml", "DIFFERENT: 2 file(s) changed",
                         "same rules and settings: the files differ only in comments, layout or names"]


def test_a_set_that_does_not_load_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = policy_dir(tmp_path / "a", BASELINE)
    broken = write_policy(tmp_path / "b", "rules:\n  - {id: x, effect: allow, methods: ['*']}\n")
    code, lines, err = diff(capsys, a, tmp_path / "b")
    assert code == 2 and lines == []
    [line] = err.splitlines()
    assert line.startswith("drawbridge: ") and str(broken) in line and "effect" in line
    code, _, err = diff(capsys, tmp_path / "missing", a)
    assert code == 2 and err == f"drawbridge: policy directory not found: {tmp_path / 'missing'}\n"


def test_without_an_admin_token_the_set_in_force_cannot_be_read(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAWBRIDGE_ADMIN_TOKEN", raising=False)
    code, _, err = diff(capsys, policy_dir(tmp_path / "a", BASELINE))
    assert code == 2 and err.startswith("drawbridge: no admin token")


@pytest.mark.anyio
async def test_the_policy_in_force_through_the_admin_api(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    live = policy_dir(tmp_path / "live", BASELINE)
    write_policy(live / "team", "rules:\n  - {id: permit-echo, effect: permit, methods: [tools/call], names: [echo]}\n",
                 "echo.yaml")
    baseline = tmp_path / "baseline"
    shutil.copytree(live, baseline)
    altered = policy_dir(tmp_path / "altered", ALTERED)
    upstream = RecordingUpstream()
    async with serve_asgi(upstream.app) as base, \
            inprocess_proxy(tmp_path, f"{base}/mcp", policy=live, admin=True) as proxy, proxy.admin() as admin:
        answer = await admin.get("/v1/policy")
        unauthorized = await admin.get("/v1/policy", headers={"authorization": "Bearer wrong"})
        monkeypatch.setenv("DRAWBRIDGE_ADMIN_URL", str(proxy.admin_url))
        monkeypatch.setenv("DRAWBRIDGE_ADMIN_TOKEN", str(proxy.admin_token))
        # the CLI is a blocking client: off the loop that serves the admin API
        same = await asyncio.to_thread(diff, capsys, baseline)
        changed = await asyncio.to_thread(diff, capsys, altered)
        version = proxy.runtime.holder.policy.version
    assert answer.status_code == 200 and unauthorized.status_code == 401
    data = answer.json()
    assert data["version"] == version and data["rules"] == 4
    assert [(f["name"], f["content"]) for f in data["files"]] == [
        ("policy.yaml", BASELINE), ("team/echo.yaml", (live / "team" / "echo.yaml").read_text())]
    assert same[0] == 0, same
    assert same[1][1] == f"current:  {version} in force at {proxy.admin_url} (4 rules, 2 files)"
    assert same[1][2:] == ["identical"]
    assert changed[0] == 1
    assert changed[1][1].startswith(f"current:  {version} in force at ")
    assert {"+ file team/echo.yaml", '+ rule permit-echo (permit to_server methods=["tools/call"] names=["echo"])',
            '- rule forbid-shell (forbid to_server methods=["tools/call"] names=["shell.*"] severity=SEV-2)',
            '~ settings.detections.disabled: ["result_exfiltration"] → []'} <= set(changed[1])


def test_the_admin_api_unreachable_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWBRIDGE_ADMIN_TOKEN", "t")
    monkeypatch.setenv("DRAWBRIDGE_ADMIN_URL", "http://127.0.0.1:9")
    code, lines, err = diff(capsys, policy_dir(tmp_path / "a", BASELINE))
    assert code == 2 and lines == []
    assert err.startswith("drawbridge: cannot reach the admin API at http://127.0.0.1:9")


def test_unsafe_file_names_from_the_admin_api_are_refused(tmp_path: Path) -> None:
    from proxy.errors import ConfigError
    from proxy.policy.diff import in_force

    for name in ("../escape.yaml", "/etc/x.yaml", ".hidden/p.yaml"):
        with pytest.raises(ConfigError, match="unsafe policy file name"):
            in_force({"version": "x", "files": [{"name": name, "content": "rules: []\n"}]}, tmp_path, "t")
    assert not (tmp_path.parent / "escape.yaml").exists()


def test_json_output_for_scripts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b = policy_dir(tmp_path / "a", BASELINE), policy_dir(tmp_path / "b", ALTERED)
    assert main(["policy", "diff", str(a), str(b), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["identical"] is False and len(report["changes"]) == 6
    assert report["baseline"]["version"] != report["current"]["version"]
    assert main(["policy", "diff", str(a), str(a), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == []
