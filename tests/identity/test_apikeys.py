"""Static API keys: hashing, config validation and authentication through the Authenticator."""

from __future__ import annotations

import hashlib
import io

import pytest
from pydantic import ValidationError

from proxy.identity import (
    ApiKeyEntry,
    ApiKeyStore,
    Authenticator,
    AuthFailure,
    Identity,
    IdentityConfig,
    generate_api_key,
    hash_api_key,
    hash_key_command,
)

pytestmark = pytest.mark.anyio

ALICE_KEY = "dbk_alice-secret-key-0123456789"
BOT_KEY = "dbk_bot-secret-key-9876543210"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def authenticator() -> Authenticator:
    return Authenticator(
        IdentityConfig(
            api_keys=(
                ApiKeyEntry(sha256=hash_api_key(ALICE_KEY), principal="alice"),
                ApiKeyEntry(sha256=hash_api_key(BOT_KEY), principal="ci-bot", agent="release-agent"),
            )
        )
    )


def test_hash_api_key_is_sha256_hex() -> None:
    assert hash_api_key("abc") == hashlib.sha256(b"abc").hexdigest()
    key = generate_api_key()
    assert key.startswith("dbk_") and len(key) > 40 and key != generate_api_key()


def test_hash_key_command_reads_stdin_and_prints_hash() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert hash_key_command(io.StringIO(ALICE_KEY + "\n"), out, err) == 0
    assert out.getvalue() == f"sha256: {hash_api_key(ALICE_KEY)}\n"
    assert ALICE_KEY not in out.getvalue() + err.getvalue()

    out = io.StringIO()
    assert hash_key_command(io.StringIO(""), out, io.StringIO()) == 0
    key_line, hash_line = out.getvalue().splitlines()
    new_key = key_line.removeprefix("key: ")
    assert hash_line == f"sha256: {hash_api_key(new_key)}"


@pytest.mark.parametrize("digest", ["abc", "A" * 64, "g" * 64, hash_api_key("x") + "0"])
def test_entry_rejects_malformed_hash(digest: str) -> None:
    with pytest.raises(ValidationError):
        ApiKeyEntry(sha256=digest, principal="p")


def test_config_rejects_unknown_keys_and_duplicates() -> None:
    with pytest.raises(ValidationError, match="extra"):
        IdentityConfig.model_validate({"api_keys": [{"sha256": hash_api_key("k"), "principal": "p", "x": 1}]})
    with pytest.raises(ValidationError, match="duplicate"):
        IdentityConfig(
            api_keys=(
                ApiKeyEntry(sha256=hash_api_key("k"), principal="a"),
                ApiKeyEntry(sha256=hash_api_key("k"), principal="b"),
            )
        )
    with pytest.raises(ValidationError):
        IdentityConfig(api_key_header="Authorization")
    assert IdentityConfig(api_key_header=" X-My-Key ").api_key_header == "x-my-key"


def test_store_lookup_and_repr() -> None:
    store = ApiKeyStore([ApiKeyEntry(sha256=hash_api_key(ALICE_KEY), principal="alice")])
    entry = store.lookup(ALICE_KEY)
    assert entry is not None and entry.principal == "alice"
    assert store.lookup("wrong") is None
    assert ALICE_KEY not in repr(store) and ALICE_KEY not in repr(entry)


async def test_valid_key_via_header_and_bearer(authenticator: Authenticator) -> None:
    by_header = await authenticator.authenticate({"x-api-key": ALICE_KEY})
    by_bearer = await authenticator.authenticate({"authorization": f"Bearer {ALICE_KEY}"})
    expected = Identity("alice", None, "api_key", hash_api_key(ALICE_KEY))
    assert by_header == expected and by_bearer == expected
    for shown in (repr(by_header), str(by_header)):
        assert ALICE_KEY not in shown


async def test_agent_from_key_entry_wins_over_header(authenticator: Authenticator) -> None:
    bot = await authenticator.authenticate({"x-api-key": BOT_KEY, "x-drawbridge-agent": "spoofed"})
    assert isinstance(bot, Identity) and (bot.principal, bot.agent) == ("ci-bot", "release-agent")
    alice = await authenticator.authenticate({"x-api-key": ALICE_KEY, "x-drawbridge-agent": "claude-code"})
    assert isinstance(alice, Identity) and alice.agent == "claude-code"
    bad = await authenticator.authenticate({"x-api-key": ALICE_KEY, "x-drawbridge-agent": "a\x01b"})
    assert isinstance(bad, AuthFailure) and bad.reason == "invalid agent header"


async def test_unknown_key_is_refused_without_echoing_it(authenticator: Authenticator) -> None:
    for headers in ({"x-api-key": "dbk_guess"}, {"authorization": "Bearer dbk_guess"}):
        result = await authenticator.authenticate(headers)
        assert isinstance(result, AuthFailure)
        assert result.reason == "unknown api key"
        assert result.www_authenticate == (
            'Bearer realm="drawbridge", error="invalid_token", error_description="unknown api key"'
        )
        assert "dbk_guess" not in repr(result) + str(result)


async def test_missing_and_malformed_credentials(authenticator: Authenticator) -> None:
    missing = await authenticator.authenticate({"accept": "application/json"})
    assert isinstance(missing, AuthFailure) and missing.missing_credentials
    assert missing.www_authenticate == 'Bearer realm="drawbridge"'  # RFC 6750 §3.1: no error code

    cases = {
        "unsupported authorization scheme": {"authorization": f"Basic {ALICE_KEY}"},
        "multiple credentials": {"authorization": f"Bearer {ALICE_KEY}", "x-api-key": ALICE_KEY},
        "invalid token: too large": {"x-api-key": "k" * (16 * 1024 + 1)},
    }
    for reason, headers in cases.items():
        result = await authenticator.authenticate(headers)
        assert isinstance(result, AuthFailure) and result.reason == reason
        assert not result.missing_credentials
        assert ALICE_KEY not in repr(result)


async def test_anonymous_and_credential_stripping(authenticator: Authenticator) -> None:
    headers = {"authorization": "Bearer x", "X-API-Key": ALICE_KEY, "x-drawbridge-agent": "a1", "accept": "*/*"}
    assert authenticator.strip_credentials(headers) == {"x-drawbridge-agent": "a1", "accept": "*/*"}
    assert authenticator.anonymous(headers) == Identity("anonymous", "a1", "anonymous", None)


async def test_anonymous_agent_header_is_validated_like_the_authenticated_one(authenticator: Authenticator) -> None:
    for bad in ("evil\x00agent", "x" * 300, "agent\u202e"):
        refused = authenticator.anonymous({"x-drawbridge-agent": bad})
        assert isinstance(refused, AuthFailure) and refused.reason == "invalid agent header"
        authenticated = await authenticator.authenticate({"x-api-key": ALICE_KEY, "x-drawbridge-agent": bad})
        assert isinstance(authenticated, AuthFailure) and authenticated.reason == "invalid agent header"


async def test_no_methods_configured_refuses_everything() -> None:
    auth = Authenticator(IdentityConfig())
    result = await auth.authenticate({"authorization": "Bearer a.b.c"})
    assert isinstance(result, AuthFailure) and result.reason == "unknown api key"
    await auth.aclose()
