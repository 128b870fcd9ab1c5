"""Refuse (-32602) a request whose routing parameters are missing or malformed.

Policy decides on the name a request carries (`tools/call` → `params.name`, `resources/read` →
`params.uri` …). A request without a string name, or with positional params or non-object arguments,
would be judged on something other than what the server executes, so it is never forwarded.
"""

from __future__ import annotations

from proxy.decision import Decision, deny
from proxy.errors import ErrorCode
from proxy.exchange import ARGUMENT_METHODS, Exchange
from proxy.pipeline import Inspection
from proxy.types import MessageKind

RULE = "invalid-params"
# The methods whose name policy decides on and that every protocol era has (resources/subscribe is gone in
# 2026-07-28: its shape is the server's to judge, with a method-not-found).
NAME_KEYS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


class ParamsShapeGate(Inspection):
    name = "params_shape"
    methods = frozenset(NAME_KEYS)
    kinds = frozenset({MessageKind.REQUEST})

    def inspect(self, ex: Exchange) -> Decision | None:
        method = ex.method or ""
        key = NAME_KEYS[method]
        params = ex.message.get("params")
        if not isinstance(params, dict):
            return self._refuse(f"{method} needs params as an object")
        value = params.get(key)
        if not isinstance(value, str) or not value:
            return self._refuse(f"{method} needs {key!r} as a non-empty string")
        if method in ARGUMENT_METHODS and params.get("arguments") is not None and not isinstance(
                params["arguments"], dict):
            return self._refuse(f"{method} needs 'arguments' as an object")
        return None

    def _refuse(self, what: str) -> Decision:
        return deny(f"invalid params: {what}", code=ErrorCode.INVALID_PARAMS, rule_ids=(RULE,), check=self.name)
