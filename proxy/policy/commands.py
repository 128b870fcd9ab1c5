"""`drawbridge policy check|test DIR`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from proxy.errors import ConfigError
from proxy.policy.loader import load_policy
from proxy.policy.testing import load_policy_tests, run_policy_tests


def run_policy_command(action: str | None, directory: Path, *, as_json: bool = False) -> int:
    """Returns the process exit code: 0 ok, 1 failing tests, 2 invalid policy or usage. `as_json`: one JSON
    object on stdout ({ok, rules, files, test_cases, version} for check; {passed, failed, results} for test)."""
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
        if as_json:
            print(json.dumps({"ok": True, "rules": len(loaded.policy.rules), "files": [str(f) for f in loaded.files],
                              "test_cases": cases, "version": loaded.policy.version, "warnings": loaded.warnings}))
        else:
            print(f"ok: {len(loaded.policy.rules)} rules in {len(loaded.files)} files, "
                  f"{cases} test cases parse, version {loaded.policy.version}")
        return 0
    try:
        results = run_policy_tests(directory)
    except ConfigError as exc:
        print(f"drawbridge: {exc}", file=sys.stderr)
        return 2
    failed = sum(not r.passed for r in results)
    if as_json:
        print(json.dumps({"passed": len(results) - failed, "failed": failed, "results": [
            {"file": str(r.file), "case": r.case.name, "passed": r.passed, "problems": list(r.problems),
             "verdict": r.verdict, "rule_ids": list(r.rule_ids)} for r in results]}))
    else:
        for result in results:
            print(result.describe())
        print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0
