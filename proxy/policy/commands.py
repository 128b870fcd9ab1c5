"""`drawbridge policy check|test DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

from proxy.errors import ConfigError
from proxy.policy.loader import load_policy
from proxy.policy.testing import load_policy_tests, run_policy_tests


def run_policy_command(action: str | None, directory: Path) -> int:
    """Returns the process exit code: 0 ok, 1 failing tests, 2 invalid policy or usage."""
    if action not in ("check", "test"):
        print("drawbridge: policy needs an action: check or test", file=sys.stderr)
        return 2
    loaded = load_policy(directory)  # PolicyError (a ConfigError) propagates as one line
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if action == "check":
        try:
            cases = sum(len(parsed.cases) for _, parsed in load_policy_tests(directory))
        except ConfigError as exc:
            print(f"drawbridge: {exc}", file=sys.stderr)
            return 2
        print(f"ok: {len(loaded.policy.rules)} rules in {len(loaded.files)} files, "
              f"{cases} test cases parse, version {loaded.policy.version}")
        return 0
    try:
        results = run_policy_tests(directory)
    except ConfigError as exc:
        print(f"drawbridge: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(result.describe())
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0
