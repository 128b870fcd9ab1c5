"""Containment side effects: TTL parsing, the responder webhook and OAuth token revocation (RFC 7009).

Kept import-light on purpose (no eager submodule imports) so configuration modules can depend on it.
"""
