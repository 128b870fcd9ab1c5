"""Policy: YAML rules with permit/forbid, compiled, tested and hot-reloaded."""

from proxy.policy.engine import DEFAULT_DENY, Policy, PolicyDecision, Query
from proxy.policy.holder import PolicyHolder
from proxy.policy.loader import LoadedPolicy, load_policy

__all__ = ["DEFAULT_DENY", "LoadedPolicy", "Policy", "PolicyDecision", "PolicyHolder", "Query", "load_policy"]
