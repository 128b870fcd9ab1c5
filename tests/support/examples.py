"""Every example config and policy file in the repository, found by walking it (new examples are covered).

A YAML file is a *config* when it is named `drawbridge.yaml` or its `yaml-language-server` modeline names
the config schema; a ConfigMap key `drawbridge.yaml` holds an embedded config. A file in a directory named
`policies` or `policy` (or below one) is a *policy file*, or a *policy test file* when named `*.test.yaml`;
a ConfigMap named like `*polic*` holds embedded policy files under its `*.yaml` keys. `tests/`, hidden and
build directories are not examples.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"tests", "node_modules", "var", "build", "dist", "__pycache__"}
POLICY_DIRS = {"policies", "policy"}
CONFIG_NAMES = {"drawbridge.yaml", "drawbridge.yml"}
MODELINE = re.compile(r"^#\s*yaml-language-server:\s*\$schema=(\S+)\s*$", re.MULTILINE)
TEST_SUFFIXES = (".test.yaml", ".test.yml")


@dataclass(frozen=True)
class Example:
    """One YAML document of a known kind: `config`, `policy` or `policy-test` (the schema names)."""

    kind: str
    path: Path  # the file (the ConfigMap's file for an embedded document)
    text: str
    key: str | None = None  # the ConfigMap data key, for an embedded document

    @property
    def id(self) -> str:
        rel = self.path.relative_to(ROOT).as_posix()
        return f"{rel}[{self.key}]" if self.key else rel

    def data(self) -> Any:
        return yaml.safe_load(self.text)

    def modeline(self) -> str | None:
        """The schema path the file's modeline names (None for embedded documents or without one)."""
        match = MODELINE.search(self.text) if self.key is None else None
        return match.group(1) if match else None


def yaml_files() -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(ROOT):  # symlinked directories are not followed: no duplicates
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                             and not d.endswith(".egg-info"))
        found.extend(Path(dirpath) / name for name in sorted(filenames) if name.endswith((".yaml", ".yml")))
    return found


def _kind(path: Path, text: str) -> str | None:
    named = MODELINE.search(text)
    if named:
        return PurePosixPath(named.group(1)).name.removesuffix(".schema.json")
    if path.name in CONFIG_NAMES:
        return "config"
    if POLICY_DIRS & set(path.relative_to(ROOT).parts[:-1]):
        return "policy-test" if path.name.endswith(TEST_SUFFIXES) else "policy"
    return None


def _embedded(path: Path, text: str) -> list[Example]:
    out = []
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict) or doc.get("kind") != "ConfigMap":
            continue
        policies = "polic" in str(doc.get("metadata", {}).get("name", ""))
        for key, value in (doc.get("data") or {}).items():
            if key in CONFIG_NAMES:
                out.append(Example("config", path, value, key))
            elif policies and key.endswith((".yaml", ".yml")):
                out.append(Example("policy-test" if key.endswith(TEST_SUFFIXES) else "policy", path, value, key))
    return out


def examples() -> list[Example]:
    out = []
    for path in yaml_files():
        text = path.read_text(encoding="utf-8")
        kind = _kind(path, text)
        if kind is not None:
            out.append(Example(kind, path, text))
        elif "kind: ConfigMap" in text:
            out.extend(_embedded(path, text))
    return out


def of_kind(kind: str) -> list[Example]:
    return [e for e in examples() if e.kind == kind]
