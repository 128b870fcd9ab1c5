"""The `ssl.SSLContext` of one https:// upstream, built once at start-up from its `tls:` settings.

TLS 1.2 at least; hostname verification on. `ca_file` replaces the system's trust store (an enterprise
usually wants "this CA bundle only"; to trust both, concatenate the system bundle into it). A file that is
missing, unreadable, not PEM, or a certificate that does not match its key is a one-line `ConfigError`.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from proxy.errors import ConfigError
from proxy.upstream.settings import UpstreamTLS

__all__ = ["MAX_PEM_BYTES", "client_context"]

log = logging.getLogger("drawbridge")
MAX_PEM_BYTES = 4 << 20  # a CA bundle with every public root is ~0.25 MiB
_PEM_LIB = "cannot load a PEM certificate and its private key (not PEM, no key, or a wrong key_password)"


def client_context(tls: UpstreamTLS | None, what: str) -> ssl.SSLContext:
    """A client context for the upstream named in ``what`` (e.g. ``upstream billing``)."""
    if tls is None:
        return _harden(ssl.create_default_context())
    for key, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if path is not None:
            _check_size(path, f"{what}: tls.{key}")
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{what}: tls.ca_file: {tls.ca_file}: {reason(exc)}") from None
    if tls.cert_file is not None:
        password = tls.key_password.resolve(f"{what}: tls.key_password") if tls.key_password else None
        key = f" with {tls.key_file}" if tls.key_file else ""
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None,
                                    password=lambda: _key_password(password))
        except (OSError, ssl.SSLError, _Encrypted) as exc:
            why = _PEM_LIB if isinstance(exc, ssl.SSLError) and not exc.reason else reason(exc)
            raise ConfigError(f"{what}: tls.cert_file: {tls.cert_file}{key}: {why}") from None
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        log.warning("%s: tls.insecure_skip_verify is true: its certificate and name are NOT checked; anyone on "
                    "the path can read and change this traffic (test set-ups only)", what)
    return _harden(context)


def reason(exc: BaseException) -> str:
    """A short, secret-free reason for an OSError or ssl.SSLError (file or handshake)."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class _Encrypted(ValueError):
    """The key file is encrypted and no key_password was given."""


def _key_password(password: str | None) -> str:
    if password is None:  # never let OpenSSL prompt on the terminal
        raise _Encrypted("the key is encrypted: give tls.key_password")
    return password


def _check_size(path: Path, key: str) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{key}: {path}: {reason(exc)}") from None
    if size > MAX_PEM_BYTES:
        raise ConfigError(f"{key}: {path}: larger than {MAX_PEM_BYTES >> 20} MiB: not a PEM file")


def _harden(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
