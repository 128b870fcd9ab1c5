"""`drawbridge config check FILE`, called in-process: every example passes; each problem is one `FILE: …` line."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from proxy.cli import main
from proxy.pins import lockfile
from proxy.pins.hashing import ServerIdentity
from proxy.testing import write_policy
from tests.support.examples import ROOT, Example, of_kind

pytestmark = pytest.mark.usefixtures("restore_logging")  # main() configures root logging

GOOD_POLICY = "rules:\n  - {id: ping, effect: permit, methods: [ping]}\n"
# Where the image and the pods find files the repository keeps elsewhere: the Dockerfile copies
# proxy/policies/ to /etc/drawbridge/policies/, and the policies ConfigMap is a verbatim copy of
# proxy/policies/default (both checked by tests/deploy).
CONTAINER_PATHS = {PurePosixPath("/etc/drawbridge/policies"): ROOT / "proxy" / "policies"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def problems(err: str) -> list[str]:
    return [line for line in lines(err) if not line.startswith("warning: ")]


def config_file(tmp_path: Path, text: str, policy: Path | None = None) -> Path:
    """A config in tmp_path; its policy is a small valid directory unless the text names one."""
    if policy is None and "policy:" not in text:
        policy = tmp_path / "policy"
        write_policy(policy, GOOD_POLICY)
    path = tmp_path / "drawbridge.yaml"
    path.write_text((f"policy: {policy}\n" if policy else "") + text, encoding="utf-8")
    return path


def local_copy(example: Example, tmp_path: Path) -> Path:
    """The example as a file here, its container paths mapped to the repository's copies."""
    data: dict[str, Any] = example.data() or {}
    policy = PurePosixPath(str(data.get("policy", "policies/default")))
    for inside, here in CONTAINER_PATHS.items():
        if policy.is_relative_to(inside):
            data["policy"] = str(here / policy.relative_to(inside))
    path = tmp_path / "drawbridge.yaml"
    path.write_text(yaml.safe_dump(_mounted_secrets(data, tmp_path)), encoding="utf-8")
    return path


def _mounted_secrets(value: Any, tmp_path: Path) -> Any:
    """Secrets a container reads from mounted files (`{file: /run/secrets/…}`) exist here as stand-ins."""
    if isinstance(value, dict):
        source = value.get("file")
        if set(value) == {"file"} and isinstance(source, str) and source.startswith("/run/secrets/"):
            stand_in = tmp_path / "secrets" / PurePosixPath(source).name
            stand_in.parent.mkdir(exist_ok=True)
            stand_in.write_text("example-secret\n", encoding="utf-8")
            return {"file": str(stand_in)}
        return {k: _mounted_secrets(v, tmp_path) for k, v in value.items()}
    if isinstance(value, list):
        return [_mounted_secrets(v, tmp_path) for v in value]
    return value


# --- every example ---------------------------------------------------------------------------------

@pytest.mark.parametrize("example", of_kind("config"), ids=lambda e: e.id)
def test_every_example_config_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path, example: Example) -> None:
    path = local_copy(example, tmp_path)
    code, out, err = run(capsys, "config", "check", str(path))
    assert code == 0, err
    assert problems(err) == []
    assert lines(out) == [out.strip()] and out.startswith(f"ok: {path}: ")
    assert "policy sha256:" in out


def test_image_config_as_shipped_with_policy_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """The image's own file, unchanged: its policy directory exists only in the image, so --policy points here."""
    config = ROOT / "deploy" / "docker" / "drawbridge.yaml"
    code, out, err = run(capsys, "config", "check", str(config), "--policy", str(ROOT / "proxy/policies/default"))
    assert code == 0, err
    assert "0 upstreams" in out
    assert "warning: " in err and "serve needs --upstream" in err  # the image takes it on the command line


def test_container_path_is_a_missing_policy_here(capsys: pytest.CaptureFixture[str]) -> None:
    config = ROOT / "deploy" / "docker" / "drawbridge.yaml"
    code, out, err = run(capsys, "config", "check", str(config))
    assert code == 2 and out == ""
    assert problems(err) == [f"{config}: policy: policy directory not found: /etc/drawbridge/policies/default"]


# --- one line per problem ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("listn: 127.0.0.1:8080\n", "unknown key 'listn' (did you mean 'listen'?)"),
    ("limits: {max_dept: 8}\n", "limits: unknown key 'max_dept' (did you mean 'max_depth'?)"),
    ("audit: {sinks: [{type: file, path: a.jsonl, fsnyc: true}]}\n",
     "audit.sinks.0: unknown key 'fsnyc' (did you mean 'fsync'?)"),
    ("upstreams: [{url: 'http://127.0.0.1:1/mcp', timeout: 5}]\n",
     "upstreams.0: unknown key 'timeout' (did you mean 'timeout_seconds'?)"),
    ("identity: {jwt: {jwks_url: 'https://idp/jwks', issuer: i, audience: a, algorithm: [RS256]}}\n",
     "identity.jwt: unknown key 'algorithm' (did you mean 'algorithms'?)"),
    ("frobnicate: true\n", "unknown key 'frobnicate'"),
    ("limits: {max_depth: deep}\n", "limits.max_depth: Input should be a valid integer, unable to parse string as "
                                    "an integer"),
    ("workers: many\n", "workers: Input should be a valid integer, unable to parse string as an integer; "
                        "or Input should be 'auto'"),
    ("upstreams: [{url: 'ftp://x/mcp'}]\n", "upstreams.0.url: must be an http:// or https:// URL"),
    ("upstreams: [{url: 'http://a/mcp', headers: {A: {}}}]\n", "upstreams.0.headers.A: give exactly one of env, file"),
    ("- a list\n", "(top level): Input should be a valid dictionary or instance of Config"),
])
def test_a_problem_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str) -> None:
    path = config_file(tmp_path, text) if not text.startswith("-") else tmp_path / "list.yaml"
    if text.startswith("-"):
        path.write_text(text)
    code, out, err = run(capsys, "config", "check", str(path))
    assert code == 2 and out == ""
    assert lines(err) == [f"{path}: {expected}"]


def test_typo_names_the_key_and_the_right_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = config_file(tmp_path, "log_levle: debug\n")
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    (line,) = lines(err)
    assert line.startswith(f"{path}: ") and "'log_levle'" in line and "did you mean 'log_level'?" in line


def test_every_problem_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = config_file(tmp_path, "listn: x\nfrobnicate: 1\nlimits: {max_depth: deep}\nlog_level: loud\n")
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    assert len(lines(err)) == 4 and all(line.startswith(f"{path}: ") for line in lines(err))
    assert f"{path}: unknown key 'frobnicate'" in lines(err)


def test_invalid_yaml_and_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: [\n")
    code, _, err = run(capsys, "config", "check", str(bad))
    assert code == 2 and lines(err)[0].startswith(f"{bad}:") and "invalid YAML" in err and len(lines(err)) == 1
    code, _, err = run(capsys, "config", "check", str(tmp_path / "nope.yaml"))
    assert code == 2 and lines(err) == [f"{tmp_path / 'nope.yaml'}: cannot read (No such file or directory)"]


# --- the files a config refers to ------------------------------------------------------------------------

def test_missing_policy_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = config_file(tmp_path, "", policy=tmp_path / "nowhere")
    code, out, err = run(capsys, "config", "check", str(path))
    assert code == 2 and out == ""
    assert problems(err) == [f"{path}: policy: policy directory not found: {tmp_path / 'nowhere'}"]


def test_invalid_policy_names_the_policy_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    bad = write_policy(policy, "rules:\n  - {id: a, effect: permit, methods: [x], nmaes: [y]}\n")
    code, _, err = run(capsys, "config", "check", str(config_file(tmp_path, "", policy=policy)))
    assert code == 2
    assert problems(err) == [f"{bad}: rules.0: unknown key 'nmaes' (did you mean 'names'?)"]


def test_invalid_policy_test_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    write_policy(policy, GOOD_POLICY)
    cases = write_policy(policy, "cases:\n  - {name: n, request: {method: ping}, expect: {verdcit: allow}}\n",
                         "p.test.yaml")
    code, _, err = run(capsys, "config", "check", str(config_file(tmp_path, "", policy=policy)))
    assert code == 2
    assert problems(err) == [f"{cases}: cases.0.expect.verdict: Field required",
                             f"{cases}: cases.0.expect: unknown key 'verdcit' (did you mean 'verdict'?)"]


def test_a_policy_set_problem_is_the_loaders_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    path = write_policy(policy, GOOD_POLICY + "  - {id: ping, effect: forbid, methods: [x]}\n")
    code, _, err = run(capsys, "config", "check", str(config_file(tmp_path, "", policy=policy)))
    assert code == 2
    assert problems(err) == [f"{path}: duplicate rule id 'ping' (also in {path})"]


def test_policy_flag_overrides_the_configs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good"
    write_policy(good, GOOD_POLICY)
    path = config_file(tmp_path, "", policy=tmp_path / "nowhere")
    code, out, _ = run(capsys, "config", "check", str(path), "--policy", str(good))
    assert code == 0 and f"(1 rule in {good})" in out


def test_secret_files_must_be_readable_env_only_warns(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAWBRIDGE_TEST_UNSET", raising=False)
    (tmp_path / "token").write_text("s3cret-value\n")
    text = ("upstreams:\n  - url: http://127.0.0.1:1/mcp\n    headers:\n"
            f"      A: {{file: {tmp_path / 'token'}}}\n      B: {{env: DRAWBRIDGE_TEST_UNSET}}\n")
    code, out, err = run(capsys, "config", "check", str(config_file(tmp_path, text)))
    assert code == 0, err
    assert "2 secrets" in out and "s3cret" not in out + err
    assert lines(err) == [f"warning: {tmp_path / 'drawbridge.yaml'}: upstreams.0.headers.B: environment variable "
                          "DRAWBRIDGE_TEST_UNSET is not set here (it must be where the proxy runs)"]
    path = config_file(tmp_path, text.replace("/token", "/missing"))
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    assert problems(err) == [f"{path}: upstreams.0.headers.A: cannot read {tmp_path / 'missing'} "
                             "(No such file or directory)"]


def lock(path: Path, upstream: str) -> Path:
    tools = [{"name": "search", "inputSchema": {"type": "object"}}]
    lockfile.write(path, lockfile.Lockfile.build(upstream, ServerIdentity.of("s", "1", None), tools))
    return path


def test_pins_lock_files_are_loaded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good, other = lock(tmp_path / "notes.lock.json", "notes"), lock(tmp_path / "other.lock.json", "other")
    base = "upstreams: [{name: notes, url: 'http://127.0.0.1:1/mcp'}]\npins:\n  upstreams:\n"
    code, out, err = run(capsys, "config", "check", str(config_file(tmp_path, base + f"    notes: {{lock: {good}}}\n")))
    assert code == 0, err
    assert "1 pins lock file" in out
    path = config_file(tmp_path, base + f"    notes: {{lock: {other}}}\n")
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    assert problems(err) == [f"{path}: pins.upstreams.notes.lock: {other} pins upstream 'other', configured for "
                             f"'notes' (re-pin with: drawbridge pin notes -o {other})"]
    missing = tmp_path / "missing.lock.json"
    path = config_file(tmp_path, base + f"    notes: {{lock: {missing}}}\n")
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    assert problems(err) == [f"{path}: pins.upstreams.notes.lock: cannot read pins file {missing} "
                             "(No such file or directory)"]


def test_jwks_and_ca_files_are_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    text = (f"identity: {{jwt: {{jwks_file: {tmp_path / 'jwks.json'}, issuer: i, audience: a}}}}\n"
            f"audit: {{sinks: [{{type: syslog, host: siem, tls: true, ca_file: {tmp_path / 'ca.pem'}}}]}}\n")
    path = config_file(tmp_path, text)
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    found = problems(err)
    assert len(found) == 2
    jwks = tmp_path / "jwks.json"
    assert found[0] == f"{path}: identity.jwt.jwks_file: {jwks}: JWKS contains no usable signature keys"
    assert found[1].startswith(f"{path}: audit.sinks[syslog:siem:6514].ca_file: {tmp_path / 'ca.pem'}: ")


def test_nothing_is_opened_created_or_connected(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = ("upstreams: [{url: 'http://127.0.0.1:1/mcp'}]\n"  # unreachable: serve refuses it, check does not try
            f"audit: {{file: {tmp_path / 'audit' / 'a.jsonl'}}}\n"
            f"store: sqlite:{tmp_path / 'state' / 'db.sqlite'}\n"
            f"admin: {{evidence_dir: {tmp_path / 'evidence'}}}\n")
    path = config_file(tmp_path, text)
    before = sorted(tmp_path.rglob("*"))
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 0, err
    assert sorted(tmp_path.rglob("*")) == before


def test_store_url_and_admin_listener(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAWBRIDGE_ADMIN_TOKEN", raising=False)
    path = config_file(tmp_path, "store: redis://cache\nadmin: {listen: '0.0.0.0:8081'}\n")
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    assert problems(err) == [f"{path}: store: state store URL 'redis://cache' needs a host and a port: expected "
                             "sqlite:PATH, sqlite::memory: or redis://HOST:PORT/DB"]
    assert any("admin.listen: refusing to serve the admin API on non-loopback" in w for w in lines(err))


def test_duplicate_audit_sink_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = config_file(tmp_path, "audit: {sinks: [{type: stdout}, {type: stdout}]}\n")
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    assert problems(err) == [f"{path}: audit.sinks: two sinks are named 'stdout'; give one of them a name"]


# --- --json and usage -------------------------------------------------------------------------------------

def test_json_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = config_file(tmp_path, "upstreams: [{name: notes, url: 'http://127.0.0.1:1/mcp'}]\n")
    code, out, err = run(capsys, "config", "check", str(path), "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["ok"] is True and report["file"] == str(path) and report["problems"] == []
    assert report["summary"].startswith(f"{path}: 1 upstream (notes), policy sha256:")
    assert report["files"][0] == str(path) and len(report["files"]) == 2

    bad = config_file(tmp_path, "listn: x\n")
    code, out, err = run(capsys, "config", "check", str(bad), "--json")
    assert code == 2 and err == ""
    report = json.loads(out)
    assert report == {"ok": False, "file": str(bad), "summary": None, "warnings": [], "files": [str(bad)],
                      "problems": [f"{bad}: unknown key 'listn' (did you mean 'listen'?)"]}


def test_config_without_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config")
    assert code == 2
    assert lines(err) == ["drawbridge: config needs an action: drawbridge config check FILE"]


def test_upstream_tls_files_are_loaded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An upstream's CA bundle and client certificate are loaded as serve loads them: a bad one is one line."""
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    text = (f"upstreams: [{{name: billing, url: 'https://billing.internal/mcp', "
            f"tls: {{ca_file: {tmp_path / 'ca.pem'}}}}}]\n")
    path = config_file(tmp_path, text)
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    found = problems(err)
    assert len(found) == 1 and found[0].startswith(f"{path}: upstreams.0.tls: tls.ca_file: {tmp_path / 'ca.pem'}: ")
    text = text.replace("ca.pem", "missing.pem")
    code, _, err = run(capsys, "config", "check", str(config_file(tmp_path, text)))
    assert code == 2 and "missing.pem" in err and err.count("\n") == 1


def test_a_candidate_policy_is_loaded_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    candidate = tmp_path / "candidate"
    good = write_policy(candidate, GOOD_POLICY)
    path = config_file(tmp_path, f"shadow_policy: {candidate}\n")
    code, _, err = run(capsys, "config", "check", str(path), "--json")
    assert code == 0, err
    good.write_text("rules:\n  - {id: a, effect: permit, methods: [x], nmaes: [y]}\n")
    code, _, err = run(capsys, "config", "check", str(path))
    assert code == 2
    assert problems(err) == [f"{good}: rules.0: unknown key 'nmaes' (did you mean 'names'?)"]
    (candidate / "policy.yaml").unlink()
    code, _, err = run(capsys, "config", "check", str(path))
    assert problems(err) == [f"{candidate}: no policy files (*.yaml)"]
