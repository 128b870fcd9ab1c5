"""Load a policy directory: every `*.yaml` file (except `*.test.yaml`), compiled whole or not at all."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import regex

from proxy.errors import ConfigError, PolicyError
from proxy.policy.engine import Policy
from proxy.policy.model import PolicyFile, Rule, Settings
from proxy.yamlfile import read_yaml, validate_model

MAX_FILES = 256
TEST_SUFFIX = ".test.yaml"
TEST_SUFFIXES = (".test.yaml", ".test.yml")


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    policy: Policy
    files: tuple[Path, ...]
    warnings: tuple[str, ...]
    sources: tuple[bytes, ...] = ()  # each file's bytes as loaded (same order as `files`)


def policy_files(directory: Path) -> list[Path]:
    """The policy files of a directory, sorted (recursive; test files excluded)."""
    if not directory.is_dir():
        raise PolicyError(f"policy directory not found: {directory}")
    files = sorted(p for p in directory.rglob("*.y*ml") if p.is_file() and p.suffix in (".yaml", ".yml")
                   and not p.name.endswith(TEST_SUFFIXES) and not _hidden(p.relative_to(directory)))
    if len(files) > MAX_FILES:
        raise PolicyError(f"{directory}: more than {MAX_FILES} policy files")
    return files


def _hidden(relative: Path) -> bool:
    """Dot-directories and dot-files are skipped (e.g. the `..data` copies of a Kubernetes ConfigMap mount)."""
    return any(part.startswith(".") for part in relative.parts)


def load_policy(directory: Path) -> LoadedPolicy:
    """Load, validate and compile a whole policy directory. Raises `PolicyError` on any problem."""
    files = policy_files(directory)
    if not files:
        raise PolicyError(f"{directory}: no policy files (*.yaml)")
    digest = hashlib.sha256()
    rules: list[Rule] = []
    settings: Settings | None = None
    settings_from: Path | None = None
    seen_ids: dict[str, Path] = {}
    sources: list[bytes] = []
    for path in files:
        try:
            raw = read_yaml(path)
            parsed = validate_model(PolicyFile, raw, path)
        except ConfigError as exc:
            raise PolicyError(str(exc)) from None
        sources.append(path.read_bytes())
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + sources[-1] + b"\0")
        if parsed.settings is not None:
            if settings_from is not None:
                raise PolicyError(f"{path}: settings already given in {settings_from}")
            settings, settings_from = parsed.settings, path
        for rule in parsed.rules:
            if rule.id in seen_ids:
                raise PolicyError(f"{path}: duplicate rule id {rule.id!r} (also in {seen_ids[rule.id]})")
            seen_ids[rule.id] = path
            _check_regexes(rule, path)
            rules.append(rule)
    version = "sha256:" + digest.hexdigest()[:16]
    policy = Policy(tuple(rules), settings or Settings(), version)
    return LoadedPolicy(policy, tuple(files), tuple(unreachable_rule_warnings(rules)), tuple(sources))


def _check_regexes(rule: Rule, path: Path) -> None:
    for cond in rule.arguments:
        if cond.regex is not None:
            try:
                regex.compile(cond.regex)
            except regex.error as exc:
                raise PolicyError(f"{path}: rule {rule.id}: bad regex for {cond.path}: {exc}") from None


def _covers(wide: tuple[str, ...] | None, narrow: tuple[str, ...] | None) -> bool:
    if wide is None or "*" in wide:
        return True
    return narrow is not None and set(narrow) <= set(wide)


def unreachable_rule_warnings(rules: list[Rule]) -> list[str]:
    """Permit rules that an unconditional forbid rule always overrides can never allow anything."""
    warnings = []
    forbids = [r for r in rules if r.effect == "forbid" and not r.arguments]
    for permit in (r for r in rules if r.effect == "permit"):
        for forbid in forbids:
            if forbid.direction == permit.direction and all(
                _covers(getattr(forbid, f), getattr(permit, f))
                for f in ("principals", "agents", "upstreams", "methods", "names")
            ):
                warnings.append(f"rule {permit.id!r} is unreachable: forbid rule {forbid.id!r} always overrides it")
                break
    return warnings
