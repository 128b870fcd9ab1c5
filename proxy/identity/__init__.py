"""Caller identity: who is calling the proxy (static API keys or JWT bearer tokens)."""

from .apikeys import ApiKeyStore, generate_api_key, hash_api_key, hash_key_command
from .authenticator import ANONYMOUS_PRINCIPAL, MISSING_CREDENTIALS, Authenticator, AuthFailure, Identity
from .config import ALLOWED_JWT_ALGORITHMS, ApiKeyEntry, IdentityConfig, JwtConfig, ResourceConfig
from .jwks import JwksError, JwksSource, UnknownKeyError, parse_jwks
from .jwt import MAX_TOKEN_CHARS, JwtVerifier, TokenError, VerifiedToken
from .resource import ProtectedResource, RouteSpec, metadata_documents, protected_resources

__all__ = [
    "ALLOWED_JWT_ALGORITHMS",
    "ANONYMOUS_PRINCIPAL",
    "MAX_TOKEN_CHARS",
    "MISSING_CREDENTIALS",
    "ApiKeyEntry",
    "ApiKeyStore",
    "AuthFailure",
    "Authenticator",
    "Identity",
    "IdentityConfig",
    "JwksError",
    "JwksSource",
    "JwtConfig",
    "JwtVerifier",
    "ProtectedResource",
    "ResourceConfig",
    "RouteSpec",
    "TokenError",
    "UnknownKeyError",
    "VerifiedToken",
    "generate_api_key",
    "hash_api_key",
    "hash_key_command",
    "metadata_documents",
    "parse_jwks",
    "protected_resources",
]
