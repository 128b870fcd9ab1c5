"""Static configuration: strict, frozen, with one-line errors that name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from proxy.config import (
    Config,
    HttpConfig,
    LimitsConfig,
    SecretSource,
    UpstreamConfig,
    load_config,
    split_listen,
)
from proxy.errors import ConfigError
from proxy.jsonrpc import Limits
from proxy.policy import load_policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drawbridge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "policies" / "default").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    c = Config()
    assert c.listen == "127.0.0.1:8080"
    assert c.policy == Path("policies/default")
    assert c.upstreams == ()
    assert c.audit.file is None and c.audit.stdout is False and c.audit.fsync is False
    assert c.limits.message_limits() == Limits(4 * 1024 * 1024, 64, 32) == Limits()
    assert c.http.allowed_hosts == ("127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*")
    assert all(o.startswith(("http://localhost", "http://127.0.0.1", "http://[::1]")) for o in c.http.allowed_origins)
    assert c.stdio.principal == "local"
    assert c.stdio.upstream_name == "stdio"
    assert c.policy_reload.watch is True and c.policy_reload.interval_seconds == 1.0
    assert c.log_level == "info"


def test_default_policy_falls_back_to_the_packaged_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./policies/default here
    policy = Config().policy
    assert policy.is_absolute() and policy.is_dir()
    assert load_policy(policy).policy.rules
    assert load_config(write(tmp_path, "")).policy == policy


def test_explicit_policy_dir_is_kept_even_if_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Config(policy=Path("elsewhere")).policy == Path("elsewhere")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


def test_full_file_loads(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, """\
listen: "[::1]:9090"
policy: /etc/drawbridge/policies
upstreams:
  - url: http://127.0.0.1:3000/mcp
  - name: notes
    url: https://notes.example/mcp
    headers:
      authorization: {env: NOTES_TOKEN}
    timeout_seconds: 30
audit: {file: /var/log/drawbridge.jsonl, fsync: true}
limits: {max_depth: 32, max_batch: 8, max_body_bytes: 65536}
http: {allowed_origins: ["http://localhost:*"]}
log_level: debug
"""))
    assert c.listen == "[::1]:9090"
    assert [u.name for u in c.upstreams] == ["default", "notes"]
    assert c.upstreams[1].headers["authorization"].env == "NOTES_TOKEN"
    assert c.upstreams[1].timeout_seconds == 30
    assert c.audit.fsync is True
    assert c.limits.message_limits() == Limits(65536, 32, 8)
    assert c.http.allowed_origins == ("http://localhost:*",)


@pytest.mark.parametrize(("text", "field"), [
    ("lisen: 127.0.0.1:1\n", "lisen"),
    ("audit: {files: x}\n", "audit.files"),
    ("upstreams: [{url: 'http://a/mcp', token: x}]\n", "upstreams.0.token"),
    ("limits: {max_size: 5}\n", "limits.max_size"),
])
def test_unknown_key_is_an_error_naming_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}: {field}:")
    assert "Extra inputs are not permitted" in message


@pytest.mark.parametrize(("text", "field"), [
    ("log_level: verbose\n", "log_level"),
    ("limits: {max_depth: 2}\n", "limits.max_depth"),
    ("limits: {max_body_bytes: 10}\n", "limits.max_body_bytes"),
    ("upstreams: [{url: 'ftp://a/mcp'}]\n", "upstreams.0.url"),
    ("upstreams: [{url: 'http://a/mcp', name: 'Bad Name'}]\n", "upstreams.0.name"),
    ("upstreams: [{url: 'http://a/mcp', timeout_seconds: 0}]\n", "upstreams.0.timeout_seconds"),
    ("listen: nonsense\n", "listen"),
    ("upstreams: [{url: 'http://a/mcp', headers: {x: {env: A, file: /b}}}]\n", "upstreams.0.headers.x"),
    ("upstreams: [{url: 'http://a/mcp', headers: {x: {}}}]\n", "upstreams.0.headers.x"),
])
def test_invalid_values_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    assert message_names(config_error(path), path, field)


def message_names(message: str, path: Path, field: str) -> bool:
    return message.startswith(f"{path}: {field}")


def test_upstream_names_must_be_unique(tmp_path: Path) -> None:
    path = write(tmp_path, "upstreams:\n  - {url: 'http://a/mcp'}\n  - {url: 'http://b/mcp'}\n")
    assert "upstream names must be unique" in config_error(path)
    with pytest.raises(ValidationError):
        Config(upstreams=(UpstreamConfig(name="a", url="http://a/"), UpstreamConfig(name="a", url="http://b/")))


def test_distinct_upstream_names_are_fine() -> None:
    c = Config(upstreams=(UpstreamConfig(url="http://a/mcp"), UpstreamConfig(name="git", url="http://b/mcp")))
    assert [u.name for u in c.upstreams] == ["default", "git"]


def test_config_is_frozen() -> None:
    c = Config()
    with pytest.raises(ValidationError):
        c.listen = "0.0.0.0:1"


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    assert "cannot read" in config_error(tmp_path / "absent.yaml")
    path = write(tmp_path, "listen: [unclosed\n")
    message = config_error(path)
    assert message.startswith(f"{path}:") and "invalid YAML" in message


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:1", ("0.0.0.0", 1)),
    ("localhost:65535", ("localhost", 65535)),
    ("[::1]:9000", ("::1", 9000)),
    ("[::]:80", ("::", 80)),
    ("[::ffff:127.0.0.1]:8080", ("::ffff:127.0.0.1", 8080)),
])
def test_split_listen(value: str, expected: tuple[str, int]) -> None:
    assert split_listen(value) == expected


@pytest.mark.parametrize("value", [
    "127.0.0.1", "::1:8080", "[::1]", "host:", ":8080", "host:0", "host:65536", "host:123456", "host:port",
    "[evil]:80", "",
])
def test_bad_listen_addresses(value: str) -> None:
    with pytest.raises(ValueError, match=r"listen address|port out of range"):
        split_listen(value)
    with pytest.raises(ValidationError):
        Config(listen=value)


def test_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAWBRIDGE_TEST_TOKEN", "s3cret")
    assert SecretSource(env="DRAWBRIDGE_TEST_TOKEN").resolve("upstream notes header authorization") == "s3cret"


def test_missing_env_secret_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAWBRIDGE_TEST_ABSENT", raising=False)
    with pytest.raises(ConfigError) as info:
        SecretSource(env="DRAWBRIDGE_TEST_ABSENT").resolve("upstream notes header authorization")
    assert str(info.value) == ("upstream notes header authorization: environment variable "
                               "DRAWBRIDGE_TEST_ABSENT is not set")


def test_secret_from_file_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  file-secret\n")
    assert SecretSource(file=path).resolve("x") == "file-secret"


def test_missing_secret_file_is_a_config_error_without_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        SecretSource(file=tmp_path / "absent").resolve("upstream a header b")
    assert str(info.value).startswith("upstream a header b: cannot read")
    assert str(tmp_path / "absent") in str(info.value)


@pytest.mark.parametrize("fields", [{}, {"env": "A", "file": Path("/b")}])
def test_secret_source_needs_exactly_one(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="exactly one of env, file"):
        SecretSource.model_validate(fields)


def test_limits_and_http_models_are_strict() -> None:
    with pytest.raises(ValidationError):
        LimitsConfig.model_validate({"max_batch": 0})
    with pytest.raises(ValidationError):
        HttpConfig.model_validate({"allowed_host": ["x"]})
