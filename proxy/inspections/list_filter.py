"""Filter tools/list, prompts/list and resources/list answers to what the caller may use."""

from __future__ import annotations

from typing import Any

from proxy.decision import Decision
from proxy.exchange import Exchange
from proxy.inspections.canary import is_canary
from proxy.inspections.containment import denied_by_overlay
from proxy.mcp_methods import LISTINGS
from proxy.pipeline import Inspection
from proxy.policy import PolicyHolder, Query
from proxy.state.model import Store
from proxy.types import Direction, Era, MessageKind, Verdict


class ListingFilter(Inspection):
    """Hide items the caller could not use (policy, or a responder's deny-tools overlay); modern-era
    answers become `cacheScope: private`."""

    name = "listing_filter"
    methods = frozenset(LISTINGS)
    directions = frozenset({Direction.TO_CLIENT})
    kinds = frozenset({MessageKind.RESPONSE})

    def __init__(self, holder: PolicyHolder, store: Store) -> None:
        self._holder = holder
        self._store = store

    def inspect(self, ex: Exchange) -> Decision | None:
        result = ex.result
        method = ex.method or ""
        key, call_method, _ = LISTINGS[method]
        if not isinstance(result, dict) or not isinstance(result.get(key), list):
            return None  # nothing to filter; shape problems are the client's to judge
        policy = self._holder.policy
        overlays = self._store.state().deny_overlays if method == "tools/list" else ()
        kept: list[Any] = []
        hidden: list[str | None] = []
        for item in result[key]:
            name = item.get("uri" if method == "resources/list" else "name") if isinstance(item, dict) else None
            if isinstance(name, str) and method == "tools/list" and denied_by_overlay(overlays, ex, name):
                hidden.append(name[:200])
            elif isinstance(name, str) and method == "tools/list" and is_canary(self._holder, name):
                kept.append(item)  # honeytokens stay visible, like any other tool
            elif isinstance(name, str) and policy.evaluate(Query(
                direction="to_server", principal=ex.principal, agent=ex.agent, upstream=ex.upstream,
                method=call_method, name=name, arguments=None,
            )).allowed:
                kept.append(item)
            else:
                hidden.append(name[:200] if isinstance(name, str) else None)
        private = ex.era is Era.MODERN and result.get("cacheScope") != "private"
        if not hidden and not private:
            return None
        new_result = {**result, key: kept}
        if ex.era is Era.MODERN:
            new_result["cacheScope"] = "private"
        ex.notes["hidden_items"] = len(hidden)
        note: dict[str, Any] = {"hidden": hidden[:100], "hidden_count": len(hidden)}
        if private:
            note["cache_scope"] = "private"
        return Decision(Verdict.REWRITE, message={**ex.message, "result": new_result}, check=self.name, note=note)
