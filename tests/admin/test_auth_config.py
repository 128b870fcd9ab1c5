"""Admin tokens, the listen rule and the strict config models."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from proxy.admin.auth import actor_for, authenticate, check_listen
from proxy.admin.config import AdminConfig, ContainmentConfig, RevocationConfig, SecretRef, WebhookConfig
from proxy.errors import ConfigError
from proxy.identity.apikeys import hash_api_key

H = hash_api_key("tok")


@pytest.mark.parametrize("listen", ["127.0.0.1:8081", "localhost:1", "[::1]:8081", "127.0.0.2:9000"])
def test_loopback_may_listen_without_tokens(listen: str) -> None:
    assert check_listen(listen, ())[1] > 0


@pytest.mark.parametrize("listen", ["0.0.0.0:8081", "10.0.0.5:8081", "[::]:8081", "admin.internal:8081"])
def test_non_loopback_needs_tokens(listen: str) -> None:
    with pytest.raises(ConfigError, match="non-loopback"):
        check_listen(listen, ())
    assert check_listen(listen, {H})[1] == 8081


@pytest.mark.parametrize("listen", ["8081", "host:0", "host:99999", "http://x:1"])
def test_bad_listen_is_a_config_error(listen: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        check_listen(listen, {H})


def test_authenticate_compares_digests() -> None:
    assert authenticate("Bearer tok", {H}) == H
    assert authenticate("bearer  tok ", {H}) == H
    assert authenticate("Bearer tok2", {H}) is None
    assert authenticate("Basic tok", {H}) is None
    assert authenticate(None, {H}) is None
    assert authenticate("Bearer tok", set()) is None
    assert actor_for(H, {}) == f"admin:{H[:12]}"
    assert actor_for(H, {H: "alice"}) == "alice"


def test_token_labels_from_config_and_env() -> None:
    other = hash_api_key("other")
    cfg = AdminConfig(token_sha256=(f"oncall:{H}", other))
    labels = cfg.token_labels({"DRAWBRIDGE_ADMIN_TOKEN": " plain-env-token "})
    assert labels == {H: "oncall", other: f"admin:{other[:12]}", hash_api_key("plain-env-token"): "env-token"}
    assert cfg.token_labels({}) == {H: "oncall", other: f"admin:{other[:12]}"}


def test_config_models_are_strict() -> None:
    with pytest.raises(ValidationError):
        AdminConfig(token_sha256=("not-a-hash",))
    with pytest.raises(ValidationError):
        AdminConfig.model_validate({"listen": "127.0.0.1:1", "tokens": []})
    assert AdminConfig().evidence_dir == Path("var/evidence")
    with pytest.raises(ValidationError, match="https"):
        WebhookConfig(url="http://soc.example/hook", secret=SecretRef(env="X"))
    with pytest.raises(ValidationError, match="exactly one"):
        RevocationConfig(endpoint="https://as.example/revoke", client_id="c", client_secret=SecretRef())
    cfg = ContainmentConfig.model_validate({"webhook": {"url": "https://soc.example/h", "secret": {"env": "S"}}})
    assert cfg.revocation is None
    with pytest.raises(ValidationError, match="auto"):  # thresholds live in policy (settings.auto_containment)
        ContainmentConfig.model_validate({"auto": {"enabled": True}})


def test_secret_ref_resolves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3")
    assert SecretRef(env="HOOK_SECRET").resolve("webhook") == "s3"
    (tmp_path / "s").write_text("from-file\n")
    assert SecretRef(file=tmp_path / "s").resolve("x") == "from-file"
    with pytest.raises(ConfigError, match="MISSING_VAR"):
        SecretRef(env="MISSING_VAR").resolve("webhook")
    with pytest.raises(ConfigError, match="cannot read"):
        SecretRef(file=tmp_path / "nope").resolve("x")
