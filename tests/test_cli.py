"""The `drawbridge` command line, called in-process: exit codes and one-line errors, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy import __version__
from proxy.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from proxy.testing import write_policy

POLICIES = Path(__file__).resolve().parents[1] / "policies"
GOOD = "rules:\n  - {id: ping, effect: permit, methods: [ping]}\n"
PASSING = "cases:\n  - {name: ping ok, request: {method: ping}, expect: {verdict: allow, rule_ids: [ping]}}\n"
FAILING = "cases:\n  - {name: rm allowed, request: {method: tools/call, name: rm}, expect: {verdict: allow}}\n"


pytestmark = pytest.mark.usefixtures("restore_logging")  # main() configures root logging


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("drawbridge: ")
    return lines[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"drawbridge {__version__}"


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == EXIT_USAGE == 2
    assert "usage: drawbridge" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["launch"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# --- policy check / test --------------------------------------------------------------------

def test_policy_check_good_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    write_policy(tmp_path, PASSING, "p.test.yaml")
    code, out, err = run(capsys, "policy", "check", str(tmp_path))
    assert code == EXIT_OK == 0
    assert out.startswith("ok: 1 rules in 1 files, 1 test cases parse, version sha256:")
    assert err == ""


def test_policy_check_shipped_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "check", str(POLICIES / "default"))
    assert code == 0
    assert out.startswith("ok: ")


def test_policy_check_does_not_run_cases(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    write_policy(tmp_path, FAILING, "p.test.yaml")
    assert run(capsys, "policy", "check", str(tmp_path))[0] == 0


@pytest.mark.parametrize(("text", "fragment"), [
    ("rules:\n  - {id: a, effect: permit, methods: [x], bogus: 1}\n", "rules.0.bogus"),
    ("rules: [\n", "invalid YAML"),
])
def test_policy_check_bad_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, fragment: str) -> None:
    path = write_policy(tmp_path, text, "bad.yaml")
    code, out, err = run(capsys, "policy", "check", str(tmp_path))
    assert code == 2
    line = one_line_error(err)
    assert str(path) in line and fragment in line
    assert out == ""


def test_policy_check_missing_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "policy", "check", str(tmp_path / "nope"))
    assert code == 2
    assert "policy directory not found" in one_line_error(err)


def test_policy_check_malformed_test_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    path = write_policy(tmp_path, "cases: [{name: x}]\n", "p.test.yaml")
    code, _, err = run(capsys, "policy", "check", str(tmp_path))
    assert code == 2
    assert str(path) in one_line_error(err)


def test_policy_check_prints_warnings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD + "  - {id: deny-all, effect: forbid, methods: ['*']}\n")
    code, _, err = run(capsys, "policy", "check", str(tmp_path))
    assert code == 0
    assert "warning: rule 'ping' is unreachable" in err


def test_policy_test_passing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    write_policy(tmp_path, PASSING, "p.test.yaml")
    code, out, _ = run(capsys, "policy", "test", str(tmp_path))
    assert code == 0
    assert out.splitlines() == ["ok   p.test.yaml: ping ok", "1 passed, 0 failed"]


def test_policy_test_shipped_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "test", str(POLICIES / "default"))
    assert code == 0
    assert out.splitlines()[-1].endswith(" passed, 0 failed")


def test_policy_test_failing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    write_policy(tmp_path, PASSING + FAILING.removeprefix("cases:\n"), "p.test.yaml")
    code, out, _ = run(capsys, "policy", "test", str(tmp_path))
    assert code == EXIT_FAILURE == 1
    assert "FAIL p.test.yaml: rm allowed (verdict deny, expected allow (policy: " in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_policy_test_without_cases_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    code, out, _ = run(capsys, "policy", "test", str(tmp_path))
    assert code == 1
    assert "0 passed, 0 failed" in out


def test_policy_test_malformed_case_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, GOOD)
    bad_case = "cases:\n  - {name: n, request: {method: ping}, expect: {verdict: perhaps}}\n"
    write_policy(tmp_path, bad_case, "p.test.yaml")
    code, _, err = run(capsys, "policy", "test", str(tmp_path))
    assert code == 2
    assert "p.test.yaml" in err and "expect.verdict" in err


def test_policy_test_bad_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_policy(tmp_path, "rules: 3\n")
    code, _, err = run(capsys, "policy", "test", str(tmp_path))
    assert code == 2
    one_line_error(err)


def test_policy_without_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "policy")
    assert code == 2
    one_line_error(err)


# --- serve / stdio --------------------------------------------------------------------------

def test_serve_without_upstream(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "serve")
    assert code == 2
    assert one_line_error(err) == ("drawbridge: no upstream configured: give --upstream URL or upstreams: "
                                   "in the config file")
    assert out == ""


@pytest.mark.parametrize(("argv", "fragment"), [
    (["serve", "--upstream", "ftp://x/mcp"], "invalid configuration"),
    (["serve", "--upstream", "http://127.0.0.1:1/mcp", "--listen", "nonsense"], "invalid configuration"),
    (["serve", "--upstream", "Bad Name=http://127.0.0.1:1/mcp"], "invalid configuration"),
    (["serve", "--upstream", "http://127.0.0.1:1/a", "--upstream", "http://127.0.0.1:1/b"], "unique"),
])
def test_serve_bad_flags(capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert fragment in one_line_error(err)


def test_serve_bad_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "drawbridge.yaml"
    config.write_text("upstreams: [{url: 'http://127.0.0.1:1/mcp'}]\nlisten_on: x\n")
    code, _, err = run(capsys, "serve", "--config", str(config))
    assert code == 2
    line = one_line_error(err)
    assert str(config) in line and "listen_on" in line


def test_stdio_without_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "stdio", "--")
    assert code == 2
    assert "stdio needs the server command after --" in one_line_error(err)


def test_serve_pin_flags_become_the_pins_section() -> None:
    from proxy.cli import _parser, build_config

    ns = _parser().parse_args(["serve", "--upstream", "wx=http://127.0.0.1:9/mcp", "--pin-mode", "tofu",
                               "--store", "sqlite::memory:", "--admin-listen", "127.0.0.1:9999"])
    config = build_config(ns)
    assert config.pins is not None and config.pins.upstreams["wx"].mode == "tofu"
    assert config.store == "sqlite::memory:"
    assert config.admin is not None and config.admin.listen == "127.0.0.1:9999"
