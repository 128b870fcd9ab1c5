"""Run the official MCP conformance suite against a server and normalise its result.

`run_conformance(url, spec_version)` drives `@modelcontextprotocol/conformance` in
server mode and returns per-scenario and per-check outcomes, so a test can compare a
run straight against a server with a run through Drawbridge.

A check "fails" as the suite's baseline logic has it: status FAILURE or WARNING.
A scenario fails when any of its checks fails.

CLI (URL may be `everything` or `conformance-server` to start that peer first):

    python -m tests.support.conformance run URL 2025-11-25 [--expected-failures FILE]
    python -m tests.support.conformance record URL 2026-07-28 OUT.yml [--whole-scenarios]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.rig import ensure_rig, start_conformance_server, start_everything

SPEC_VERSIONS = ("2025-11-25", "2026-07-28")
FAILING = frozenset({"FAILURE", "WARNING"})
_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")
_SUMMARY_LINE = re.compile(r"^(?P<mark>[✓✗]) (?P<scenario>[\w.-]+): \d+ passed, \d+ failed", re.M)


@dataclass(frozen=True)
class Check:
    scenario: str
    id: str
    status: str  # SUCCESS | FAILURE | WARNING | SKIPPED | INFO
    message: str = ""

    @property
    def key(self) -> str:
        return f"{self.scenario}:{self.id}"


@dataclass
class ConformanceResult:
    """One suite run: `passed`/`failed` scenario names, every check, and the raw output."""

    url: str
    spec_version: str
    returncode: int
    output: str
    checks: list[Check] = field(default_factory=list)
    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    @property
    def scenarios(self) -> set[str]:
        return self.passed | self.failed

    @property
    def failed_checks(self) -> set[str]:
        """`scenario:check-id` of every FAILURE/WARNING check."""
        return {c.key for c in self.checks if c.status in FAILING}

    def messages(self, scenario: str) -> list[str]:
        return [
            f"{c.id} {c.status}: {c.message}" for c in self.checks if c.scenario == scenario and c.status in FAILING
        ]

    def diff(self, other: ConformanceResult) -> dict[str, list[str]]:
        """What changed from `self` (e.g. straight) to `other` (e.g. through the proxy); empty lists if nothing."""
        return {
            "newly_failing": sorted(other.failed_checks - self.failed_checks),
            "newly_passing": sorted(self.failed_checks - other.failed_checks),
            "missing_scenarios": sorted(self.scenarios - other.scenarios),
            "extra_scenarios": sorted(other.scenarios - self.scenarios),
        }

    def summary(self) -> str:
        lines = [
            f"conformance {self.spec_version} against {self.url}: exit {self.returncode}, "
            f"{len(self.passed)} passed, {len(self.failed)} failed"
        ]
        for name in sorted(self.failed):
            lines.append(f"  FAIL {name}")
            lines += [f"       {m[:200]}" for m in self.messages(name)]
        return "\n".join(lines)


def _parse(result_root: Path, output: str) -> tuple[list[Check], set[str], set[str]]:
    checks: list[Check] = []
    seen: set[str] = set()
    for path in sorted(result_root.glob("*/checks.json")):
        m = _RESULT_DIR.match(path.parent.name)
        if not m:
            continue
        scenario = m["scenario"]
        seen.add(scenario)
        for raw in json.loads(path.read_text()):
            checks.append(
                Check(
                    scenario,
                    str(raw.get("id", scenario)),
                    str(raw.get("status", "FAILURE")),
                    str(raw.get("errorMessage") or ""),
                )
            )
    failed = {c.scenario for c in checks if c.status in FAILING}
    # A scenario that crashed before writing checks still appears in the printed summary.
    for m in _SUMMARY_LINE.finditer(output):
        if m["scenario"] not in seen:
            (failed.add if m["mark"] == "✗" else seen.add)(m["scenario"])
    return checks, seen - failed, failed


def run_conformance(
    url: str,
    spec_version: str,
    *,
    suite: str | None = "all",
    scenario: str | None = None,
    expected_failures: str | Path | None = None,
    timeout: float = 900.0,
    extra_args: Sequence[str] = (),
) -> ConformanceResult:
    """Run the suite in server mode against `url` (`suite=None` = the suite's default, "active")."""
    if spec_version not in SPEC_VERSIONS:
        raise ValueError(f"spec_version must be one of {SPEC_VERSIONS}, got {spec_version!r}")
    paths = ensure_rig()
    with tempfile.TemporaryDirectory(prefix="drawbridge-conformance-") as tmp:
        argv = [
            str(paths.node22),
            str(paths.conformance_js),
            "server",
            "--url",
            url,
            "--spec-version",
            spec_version,
            "--output-dir",
            tmp,
        ]
        if scenario:
            argv += ["--scenario", scenario]
        elif suite:
            argv += ["--suite", suite]
        if expected_failures is not None:
            argv += ["--expected-failures", str(Path(expected_failures).resolve())]
        argv += list(extra_args)
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL, cwd=tmp
            )
            returncode, output = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            returncode = -1
            output = f"{_text(exc.stdout)}{_text(exc.stderr)}\n[timed out after {timeout:.0f} s]"
        checks, passed, failed = _parse(Path(tmp), output)
    return ConformanceResult(url, spec_version, returncode, output, checks, passed, failed)


def _text(data: Any) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def load_expected_failures(path: str | Path) -> set[str]:
    """Entries (`scenario` or `scenario:check-id`) of a baseline file's `server:` list."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    return {str(e) for e in data.get("server") or []}


def baseline_entries(result: ConformanceResult, *, whole_scenarios: bool = False) -> list[str]:
    """Expected-failure entries that make `--expected-failures` accept `result` as is."""
    return sorted(result.failed) if whole_scenarios else sorted(result.failed_checks)


def write_baseline(
    result: ConformanceResult, out: str | Path, *, label: str = "", whole_scenarios: bool = False
) -> list[str]:
    entries = baseline_entries(result, whole_scenarios=whole_scenarios)
    header = [
        f"# Expected failures of {label or result.url} in the MCP conformance suite",
        f"# (server mode, --spec-version {result.spec_version}, --suite all).",
        f"# Passing scenarios: {len(result.passed)}; failing: {len(result.failed)}.",
        "# Regenerate: python -m tests.support.conformance record "
        f"{label or result.url} {result.spec_version} {Path(out).as_posix()}",
    ]
    body = yaml.safe_dump({"server": entries}, sort_keys=False, default_flow_style=False, width=200)
    Path(out).write_text("\n".join(header) + "\n" + body)
    return entries


@contextlib.contextmanager
def _target(url: str) -> Iterator[str]:
    if url == "everything":
        with start_everything() as real:
            yield real
    elif url == "conformance-server":
        with start_conformance_server() as real:
            yield real
    else:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.conformance",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the suite and print a summary")
    rec = sub.add_parser("record", help="run the suite and write its failures as a baseline")
    for p in (run, rec):
        p.add_argument("url", help="server URL, or 'everything' / 'conformance-server' to start one")
        p.add_argument("spec_version", choices=SPEC_VERSIONS)
    run.add_argument("--expected-failures")
    run.add_argument("--verbose", action="store_true", help="print the suite's own output too")
    rec.add_argument("out")
    rec.add_argument("--whole-scenarios", action="store_true", help="list scenarios, not scenario:check")
    ns = parser.parse_args(argv)
    with _target(ns.url) as url:
        result = run_conformance(url, ns.spec_version, expected_failures=getattr(ns, "expected_failures", None))
    if ns.cmd == "run":
        if ns.verbose:
            print(result.output)
        print(result.summary())
        print("passed:", " ".join(sorted(result.passed)))
        return result.returncode
    label = ns.url if ns.url in ("everything", "conformance-server") else ""
    entries = write_baseline(result, ns.out, label=label, whole_scenarios=ns.whole_scenarios)
    print(result.summary())
    print(f"wrote {len(entries)} entries to {ns.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
