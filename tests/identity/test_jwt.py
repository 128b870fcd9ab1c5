"""JWT verification against a JWKS file: claims, algorithms, key rotation and refresh limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from pydantic import ValidationError

from proxy.identity.config import JwtConfig
from proxy.identity.jwks import JwksError, JwksSource, parse_jwks
from proxy.identity.jwt import MAX_TOKEN_CHARS, JwtVerifier, TokenError

ISSUER = "https://idp.example.test/"
AUDIENCE = "https://drawbridge.example.test/mcp"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture(scope="module")
def rotated_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice@example.test",
        "azp": "agent-42",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: RSAKey | ECKey, payload: dict[str, Any], alg: str = "RS256", **header: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid, **header}, payload, key, algorithms=[alg])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_input(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def write_jwks(path: Path, *keys: RSAKey | ECKey) -> Path:
    path.write_text(json.dumps({"keys": [k.as_dict(private=False) for k in keys]}))
    return path


def make_verifier(jwks: Path, **config: Any) -> JwtVerifier:
    return JwtVerifier(JwtConfig(jwks_file=jwks, issuer=ISSUER, audience=AUDIENCE, **config))


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: RSAKey, ec_key: ECKey) -> Path:
    return write_jwks(tmp_path / "jwks.json", rsa_key, ec_key)


async def rejected(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    assert token not in str(info.value) and token not in repr(info.value)
    return info.value.reason


async def test_valid_rsa_and_ec_tokens(jwks_file: Path, rsa_key: RSAKey, ec_key: ECKey) -> None:
    verifier = make_verifier(jwks_file)
    result = await verifier.verify(sign(rsa_key, claims()))
    assert (result.subject, result.agent) == ("alice@example.test", "agent-42")
    result = await verifier.verify(sign(ec_key, claims(sub="bob", azp=None, client_id="cli-7"), "ES256"))
    assert (result.subject, result.agent) == ("bob", "cli-7")
    token = sign(rsa_key, claims())
    shown = repr(await verifier.verify(token))
    assert token not in shown and "claims" not in shown


async def test_audience_list_and_custom_agent_claim(jwks_file: Path, rsa_key: RSAKey) -> None:
    verifier = make_verifier(jwks_file, agent_claim="agent_id")
    token = sign(rsa_key, claims(aud=["other", AUDIENCE], agent_id="custom", azp=None))
    assert (await verifier.verify(token)).agent == "custom"
    assert (await verifier.verify(sign(rsa_key, claims(azp=None)))).agent is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 86_400}, "invalid token: expired"),
        ({"nbf": int(time.time()) + 86_400}, "invalid token: not yet valid"),
        ({"iat": int(time.time()) + 86_400}, "invalid token: issued in the future"),
        ({"iss": "https://evil.example.test/"}, "invalid token: wrong issuer"),
        ({"aud": "https://other.example.test/mcp"}, "invalid token: wrong audience"),
        ({"aud": ["a", "b"]}, "invalid token: wrong audience"),
        ({"exp": None}, "invalid token: missing claim exp"),
        ({"sub": None}, "invalid token: missing claim sub"),
        ({"aud": None}, "invalid token: missing claim aud"),
        ({"sub": ""}, "invalid token: invalid subject"),
    ],
)
async def test_claim_failures(jwks_file: Path, rsa_key: RSAKey, overrides: dict[str, Any], reason: str) -> None:
    assert await rejected(make_verifier(jwks_file), sign(rsa_key, claims(**overrides))) == reason


async def test_clock_skew_is_honoured(jwks_file: Path, rsa_key: RSAKey) -> None:
    token = sign(rsa_key, claims(exp=int(time.time()) - 30))
    assert (await make_verifier(jwks_file, clock_skew_seconds=60).verify(token)).subject
    assert await rejected(make_verifier(jwks_file, clock_skew_seconds=0), token) == "invalid token: expired"


async def test_bad_signature(jwks_file: Path, rsa_key: RSAKey) -> None:
    header, _, signature = sign(rsa_key, claims()).split(".")
    forged = f"{header}.{b64(json.dumps(claims(sub='mallory')).encode())}.{signature}"
    assert await rejected(make_verifier(jwks_file), forged) == "invalid token: bad signature"
    impostor = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})  # same kid, different key
    assert await rejected(make_verifier(jwks_file), sign(impostor, claims())) == "invalid token: bad signature"


async def test_alg_none_is_rejected(jwks_file: Path) -> None:
    token = signing_input({"alg": "none", "kid": "rsa-1"}, claims()) + "."
    assert await rejected(make_verifier(jwks_file), token) == "invalid token: unsupported algorithm"


async def test_hs256_signed_with_public_key_is_rejected(jwks_file: Path, rsa_key: RSAKey) -> None:
    public_pem = rsa_key.as_pem(private=False)
    unsigned = signing_input({"alg": "HS256", "kid": "rsa-1"}, claims())
    mac = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    token = f"{unsigned}.{b64(mac)}"
    assert await rejected(make_verifier(jwks_file), token) == "invalid token: unsupported algorithm"


async def test_algorithm_outside_allowlist_and_key_type_mismatch(jwks_file: Path, rsa_key: RSAKey) -> None:
    verifier = make_verifier(jwks_file, algorithms=("ES256",))
    assert await rejected(verifier, sign(rsa_key, claims())) == "invalid token: unsupported algorithm"
    # An ES256 header pointing at the RSA key's kid: the key cannot serve that algorithm.
    token = signing_input({"alg": "ES256", "kid": "rsa-1"}, claims()) + "." + b64(b"x" * 64)
    assert await rejected(verifier, token) == "invalid token: key not usable for algorithm"


@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "RS1", ""])
def test_config_refuses_unsafe_algorithms(jwks_file: Path, alg: str) -> None:
    with pytest.raises(ValidationError):
        JwtConfig(jwks_file=jwks_file, issuer=ISSUER, audience=AUDIENCE, algorithms=(alg,))


def test_config_takes_at_most_one_jwks_source(jwks_file: Path) -> None:
    assert JwtConfig(issuer=ISSUER, audience=AUDIENCE).discovers_jwks  # neither: discovered from the issuer
    with pytest.raises(ValidationError, match="issuer must be an absolute http"):
        JwtConfig(issuer="my-idp", audience=AUDIENCE)
    with pytest.raises(ValidationError, match="at most one"):
        JwtConfig(jwks_file=jwks_file, jwks_url="https://idp.test/jwks", issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValidationError, match="https"):
        JwtConfig(jwks_url="http://idp.example.test/jwks", issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValidationError, match="extra"):
        JwtConfig.model_validate({"jwks_file": str(jwks_file), "issuer": ISSUER, "audience": AUDIENCE, "x": 1})


async def test_oversized_and_malformed_tokens(jwks_file: Path, rsa_key: RSAKey) -> None:
    verifier = make_verifier(jwks_file)
    huge = sign(rsa_key, claims(pad="x" * MAX_TOKEN_CHARS))
    assert await rejected(verifier, huge) == "invalid token: too large"
    for token in ("not-a-jwt", "a.b", "a.b.c.d.e", "!!.??.xx", f"{b64(b'[1]')}.{b64(b'{}')}.sig"):
        assert await rejected(verifier, token) == "invalid token: malformed"


async def test_unknown_kid_then_rotation_via_file(tmp_path: Path, rsa_key: RSAKey, rotated_key: RSAKey) -> None:
    path = write_jwks(tmp_path / "jwks.json", rsa_key)
    now = [1000.0]
    source_config = JwtConfig(jwks_file=path, issuer=ISSUER, audience=AUDIENCE)
    source = JwksSource(source_config, clock=lambda: now[0])
    verifier = JwtVerifier(source_config, source)
    new_token = sign(rotated_key, claims(sub="rotated"))
    assert await rejected(verifier, new_token) == "invalid token: unknown key id"  # uses the refresh

    write_jwks(path, rsa_key, rotated_key)  # the IdP rotates keys
    assert await rejected(verifier, new_token) == "invalid token: unknown key id"  # rate-limited
    now[0] += 31
    assert (await verifier.verify(new_token)).subject == "rotated"
    assert (await verifier.verify(sign(rsa_key, claims()))).subject == "alice@example.test"


async def test_unreadable_file_after_startup_keeps_known_keys(tmp_path: Path, rsa_key: RSAKey) -> None:
    path = write_jwks(tmp_path / "jwks.json", rsa_key)
    verifier = make_verifier(path)
    path.write_text("{ broken")
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    assert await rejected(verifier, sign(stranger, claims())) == "invalid token: signing keys unavailable"
    assert (await verifier.verify(sign(rsa_key, claims()))).subject == "alice@example.test"


def test_missing_or_invalid_jwks_file_fails_at_startup(tmp_path: Path) -> None:
    with pytest.raises(JwksError, match="cannot read"):
        make_verifier(tmp_path / "absent.json")
    (tmp_path / "big.json").write_text(" " * (256 * 1024 + 1))
    with pytest.raises(JwksError, match="size limit"):
        make_verifier(tmp_path / "big.json")


def test_parse_jwks_drops_symmetric_and_private_material(rsa_key: RSAKey) -> None:
    secret = OctKey.generate_key(256, parameters={"kid": "hmac"})
    with pytest.raises(JwksError, match="no usable"):
        parse_jwks(json.dumps({"keys": [secret.as_dict(private=True)]}).encode())
    doc = {"keys": [secret.as_dict(private=True), rsa_key.as_dict(private=True), {"kty": "XYZ"}]}
    keys = parse_jwks(json.dumps(doc).encode())
    assert [k.kid for k in keys] == ["rsa-1"]
    assert not keys.keys[0].is_private
    for bad in (b"[]", b'{"keys": 1}', b"\xff"):
        with pytest.raises(JwksError):
            parse_jwks(bad)


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
async def test_eddsa_tokens(tmp_path: Path, alg: str) -> None:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc flags "EdDSA" as deprecated by RFC 9864 when signing
        token = jwt.encode({"alg": alg, "kid": "ed-1"}, claims(), key, algorithms=[alg])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verification itself stays quiet
        assert (await make_verifier(path, algorithms=("EdDSA", "Ed25519")).verify(token)).subject
    default_ok = alg in JwtConfig.model_fields["algorithms"].default
    if not default_ok:
        assert await rejected(make_verifier(path), token) == "invalid token: unsupported algorithm"
