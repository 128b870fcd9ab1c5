"""CI loads every policy directory shipped under policies/ and runs the cases beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.policy.loader import TEST_SUFFIX, load_policy
from proxy.policy.testing import policy_test_files, run_policy_tests

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def policy_sets() -> list[Path]:
    """Every directory that directly holds a policy file (`*.yaml`/`*.yml`, not a test file).

    Symlinked directories are followed: `policies/default` links to the copy shipped in the package.
    """
    found = set()
    for root, _, files in os.walk(POLICIES, followlinks=True):
        if any(f.endswith((".yaml", ".yml")) and not f.endswith(TEST_SUFFIX) for f in files):
            found.add(Path(root))
    return sorted(found)


SETS = policy_sets()


def test_policies_exist() -> None:
    assert POLICIES / "default" in SETS
    assert POLICIES / "examples" / "permit-all" in SETS


@pytest.mark.parametrize("directory", SETS, ids=[str(d.relative_to(POLICIES)) for d in SETS])
def test_policy_set_loads_cleanly_and_its_cases_pass(directory: Path) -> None:
    loaded = load_policy(directory)
    assert loaded.policy.rules
    assert loaded.warnings == ()
    results = run_policy_tests(directory)
    failures = [r.describe() for r in results if not r.passed]
    assert failures == []
    if policy_test_files(directory):
        assert results


def test_default_policy_has_cases() -> None:
    assert policy_test_files(POLICIES / "default")
    assert load_policy(POLICIES / "default").policy.settings.unknown_methods == "deny"
