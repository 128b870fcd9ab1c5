"""Policy test cases kept beside the policies (`*.test.yaml`), run by the CLI and by pytest alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxy.policy.engine import Policy, Query
from proxy.policy.loader import TEST_SUFFIXES
from proxy.policy.model import PolicyCase, PolicyTestFile
from proxy.yamlfile import read_yaml, validate_model


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: Path
    case: PolicyCase
    passed: bool
    verdict: str
    rule_ids: tuple[str, ...]

    def describe(self) -> str:
        status = "ok  " if self.passed else "FAIL"
        line = f"{status} {self.file.name}: {self.case.name}"
        if not self.passed:
            want = self.case.expect
            line += (f" (expected {want.verdict} {list(want.rule_ids or [])}, "
                     f"got {self.verdict} {list(self.rule_ids)})")
        return line


def policy_test_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.test.y*ml") if p.is_file() and p.name.endswith(TEST_SUFFIXES)
                  and not any(part.startswith(".") for part in p.relative_to(directory).parts))


def run_case(policy: Policy, case: PolicyCase, file: Path) -> CaseResult:
    req = case.request
    decision = policy.evaluate(Query(
        direction=req.direction, principal=req.principal, agent=req.agent, upstream=req.upstream,
        method=req.method, name=req.name, arguments=req.arguments,
    ))
    verdict = "allow" if decision.allowed else "deny"
    passed = verdict == case.expect.verdict and (
        case.expect.rule_ids is None or tuple(sorted(case.expect.rule_ids)) == tuple(sorted(decision.rule_ids)))
    return CaseResult(file, case, passed, verdict, decision.rule_ids)


def run_policy_tests(policy: Policy, directory: Path) -> list[CaseResult]:
    """Run every case of every test file under `directory`. Raises ConfigError on a malformed file."""
    results: list[CaseResult] = []
    for path in policy_test_files(directory):
        parsed: PolicyTestFile = validate_model(PolicyTestFile, read_yaml(path), path)
        results.extend(run_case(policy, case, path) for case in parsed.cases)
    return results
