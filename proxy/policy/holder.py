"""The live policy: one reference swapped whole on reload; a bad set never replaces a good one.

A candidate set may be held beside it (`serve --shadow-policy DIR`): loaded, watched and reloaded the same
way, never enforced; the policy check evaluates every request against it too and audits where they differ.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from proxy.errors import PolicyError
from proxy.policy.engine import Policy
from proxy.policy.loader import LoadedPolicy, load_policy, policy_files

log = logging.getLogger("drawbridge.policy")

ReloadListener = Callable[[bool, str, str], None]  # (ok, policy version, detail)


class PolicyHolder:
    """Holds the compiled policy in force (and an optional candidate) and reloads it on demand or on file change."""

    def __init__(self, directory: Path, listener: ReloadListener | None = None, *, candidate: Path | None = None,
                 candidate_listener: ReloadListener | None = None, role: str = "policy") -> None:
        self.directory = directory
        self._listener = listener
        self._role = role
        try:
            self._loaded = load_policy(directory)
        except PolicyError as exc:
            if role == "policy":
                raise
            raise PolicyError(f"{role}: {exc}") from None
        self._signature = self._scan()
        for warning in self._loaded.warnings:
            log.warning("%s: %s", role, warning)
        # The candidate set, or None (then nothing else is evaluated: the policy check asks this attribute).
        self.candidate: PolicyHolder | None = None if candidate is None else PolicyHolder(
            candidate, candidate_listener, role="candidate policy")

    @property
    def policy(self) -> Policy:
        return self._loaded.policy

    @property
    def loaded(self) -> LoadedPolicy:
        return self._loaded

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = policy_files(self.directory)
            return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        except (OSError, PolicyError):
            return ()

    def reload(self) -> bool:
        """Compile the directory (and the candidate's) again and swap each in; on error keep the old set and
        report. True when every set reloaded."""
        ok = self._reload_own()
        if self.candidate is not None:
            ok = self.candidate._reload_own() and ok
        return ok

    def _reload_own(self) -> bool:
        self._signature = self._scan()
        try:
            fresh = load_policy(self.directory)
        except PolicyError as exc:
            log.error("%s reload refused, %s stays in force: %s", self._role, self.policy.version, exc)
            if self._listener:
                self._listener(False, self.policy.version, str(exc))
            return False
        old = self.policy.version
        self._loaded = fresh
        for warning in fresh.warnings:
            log.warning("%s: %s", self._role, warning)
        log.info("%s reloaded: %s -> %s", self._role, old, fresh.policy.version)
        if self._listener:
            self._listener(True, fresh.policy.version, f"replaced {old}")
        return True

    def changed_on_disk(self) -> bool:
        return self._scan() != self._signature

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the directory (and the candidate's) and reload a set when one of its files changes (runs until
        cancelled)."""
        while True:
            await asyncio.sleep(interval)
            for holder in (self, self.candidate):
                if holder is not None and holder.changed_on_disk():
                    holder._reload_own()
