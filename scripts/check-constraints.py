#!/usr/bin/env python3
"""Check that the container's pinned dependency set covers pyproject.toml's runtime dependencies.

    python scripts/check-constraints.py [--constraints requirements/constraints.txt] [--pyproject pyproject.toml]

Every runtime dependency ([project] dependencies, not the extras) must have exactly one `name==version`
pin in the constraints file, and that version must satisfy pyproject's specifier. Problems are printed
one a line; the exit status is 1 when there is any, 0 otherwise. Regenerate the file with
`make constraints`.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # pragma: no cover - without the dev tools: the copy that pip vendors
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement  # type: ignore[assignment]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent


def read_pins(path: Path, problems: list[str]) -> dict[str, str]:
    """The constraints file's pins, canonical name -> version; malformed or loose lines are problems."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}:{number}"
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            problems.append(f"{where}: not a requirement: {line!r} ({exc})")
            continue
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
            problems.append(f"{where}: {req.name}: not an exact pin (name==version): {line!r}")
            continue
        name = canonicalize_name(req.name)
        if name in pins:
            problems.append(f"{where}: {req.name}: pinned more than once")
            continue
        pins[name] = specs[0].version
    return pins


def check(constraints: Path, pyproject: Path) -> list[str]:
    problems: list[str] = []
    pins = read_pins(constraints, problems)
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("dependencies", [])
    for declared in dependencies:
        req = Requirement(declared)
        if req.marker is not None and not req.marker.evaluate():
            continue
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: no pin in {constraints.name} (pyproject: {declared!r})")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: pinned {version}, which does not satisfy pyproject's {req.specifier}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--constraints", type=Path, default=ROOT / "requirements" / "constraints.txt")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args(argv)
    for path in (args.constraints, args.pyproject):
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 1
    problems = check(args.constraints, args.pyproject)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
