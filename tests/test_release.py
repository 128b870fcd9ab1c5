"""Release hygiene: licence, version, changelog, security policy and the container's pinned dependencies."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

import proxy

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "scripts" / "check-constraints.py"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def check_constraints(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_license_is_the_apache_2_text_and_the_declared_expression() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in project.get("classifiers", [])), "PEP 639: no licence classifier"
    metadata = importlib.metadata.metadata("mcp-drawbridge")
    assert metadata["License-Expression"] == "Apache-2.0"


def test_version_is_defined_once() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    assert "version" not in project and "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", proxy.__version__)
    assert importlib.metadata.version("mcp-drawbridge") == proxy.__version__


def test_cli_reports_the_version() -> None:
    done = subprocess.run([sys.executable, "-m", "proxy", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"drawbridge {proxy.__version__}"


def test_changelog_has_unreleased_and_the_current_version() -> None:
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert proxy.__version__ in headings


def test_security_policy_says_how_to_report() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert re.search(r"^## Reporting a vulnerability", text, re.MULTILINE)
    assert re.search(r"security@\S+", text)
    assert "#threat-model" in text


def test_constraints_check_passes_on_the_repository() -> None:
    done = check_constraints()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mcp==" in CONSTRAINTS.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda text: re.sub(r"^prometheus-client==.*\n", "", text, flags=re.MULTILINE), "prometheus-client"),
        (lambda text: re.sub(r"^mcp==\S+", "mcp==1.0.0", text, flags=re.MULTILINE), "mcp"),
        (lambda text: re.sub(r"^orjson==", "orjson>=", text, flags=re.MULTILINE), "orjson"),
    ],
    ids=["missing-pin", "pin-outside-specifier", "not-exact"],
)
def test_constraints_check_fails_and_names_the_package(
    edit: Callable[[str], str], named: str, tmp_path: Path
) -> None:
    broken = tmp_path / "constraints.txt"
    broken.write_text(edit(CONSTRAINTS.read_text(encoding="utf-8")), encoding="utf-8")
    done = check_constraints("--constraints", broken, "--pyproject", ROOT / "pyproject.toml")
    assert done.returncode == 1
    problems = done.stderr.splitlines()
    assert problems, "one line per problem"
    assert all(re.search(rf"(^|\s){re.escape(named)}:", line) for line in problems), problems


def test_image_builds_with_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"pip wheel .*--constraint requirements/constraints\.txt", dockerfile)
