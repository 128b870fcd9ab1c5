"""`drawbridge policy diff`: two policy sets compared file by file, rule by rule and setting by setting.

Without a second directory the current set is the one in force, as the running proxy reports it through
the admin API (`GET /v1/policy`). Exit codes: 0 identical (same version hash), 1 different, 2 errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from proxy.errors import ConfigError
from proxy.policy.loader import LoadedPolicy, load_policy
from proxy.policy.model import Rule

EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class PolicySet:
    """One side of a comparison: where it came from, and the set as loaded."""

    label: str
    directory: Path
    loaded: LoadedPolicy

    @property
    def version(self) -> str:
        return self.loaded.policy.version

    def files(self) -> dict[str, str]:
        """File name (relative, POSIX) → SHA-256 of its content."""
        return {path.relative_to(self.directory).as_posix(): hashlib.sha256(data).hexdigest()
                for path, data in zip(self.loaded.files, self.loaded.sources, strict=True)}

    def describe(self) -> str:
        rules, files = len(self.loaded.policy.rules), len(self.loaded.files)
        return f"{self.version} {self.label} ({rules} rule{'s' * (rules != 1)}, {files} file{'s' * (files != 1)})"


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """The differences, one line each: `+`/`-`/`~` then `file`, `rule` or a `settings.` path."""

    baseline: PolicySet
    current: PolicySet
    lines: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return self.baseline.version == self.current.version and not self.lines


def policy_set(directory: Path, label: str | None = None) -> PolicySet:
    """Load a directory (PolicyError, one line, when it does not load)."""
    return PolicySet(label or str(directory), directory, load_policy(directory))


def _value(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def changes(prefix: str, old: Any, new: Any) -> Iterator[tuple[str, Any, Any]]:
    """(dotted path, old, new) for every leaf that differs; lists of objects are compared item by item."""
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            yield from changes(_join(prefix, str(key)), old.get(key, _ABSENT), new.get(key, _ABSENT))
    elif isinstance(old, list) and isinstance(new, list) and any(isinstance(v, dict) for v in (*old, *new)):
        for index in range(max(len(old), len(new))):
            yield from changes(f"{prefix}[{index}]", old[index] if index < len(old) else _ABSENT,
                               new[index] if index < len(new) else _ABSENT)
    else:
        yield prefix, old, new


def _dump(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True)


def rule_summary(rule: Rule) -> str:
    """What a rule matches, in one line: effect, direction, then the matchers that are not `*`."""
    data = _dump(rule)
    parts = [rule.effect, rule.direction, f"methods={_value(data['methods'])}"]
    parts += [f"{key}={_value(data[key])}" for key in ("names", "principals", "agents", "upstreams")
              if data[key] not in (None, ["*"])]
    if rule.arguments:
        parts.append(f"arguments={_value(data['arguments'])}")
    if rule.severity:
        parts.append(f"severity={rule.severity}")
    return " ".join(parts)


def _file_lines(old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines = [f"- file {name}" for name in old if name not in new]
    lines += [f"~ file {name}" for name in old if name in new and old[name] != new[name]]
    return lines + [f"+ file {name}" for name in new if name not in old]


def _rule_lines(old: tuple[Rule, ...], new: tuple[Rule, ...]) -> list[str]:
    before, after = {r.id: r for r in old}, {r.id: r for r in new}
    lines: list[str] = []
    for rule_id, rule in before.items():
        if rule_id not in after:
            lines.append(f"- rule {rule_id} ({rule_summary(rule)})")
            continue
        lines += [f"~ rule {rule_id}: {path}: {_value(a)} → {_value(b)}"
                  for path, a, b in changes("", _dump(rule), _dump(after[rule_id]))]
    return lines + [f"+ rule {rule_id} ({rule_summary(rule)})" for rule_id, rule in after.items()
                    if rule_id not in before]


def diff_policies(baseline: PolicySet, current: PolicySet) -> PolicyDiff:
    """Files, then rules (by id), then settings (dotted paths) that differ."""
    old, new = baseline.loaded.policy, current.loaded.policy
    settings = [f"~ {path}: {_value(a)} → {_value(b)}" for path, a, b in changes(
        "settings", old.settings.model_dump(mode="json", by_alias=True),
        new.settings.model_dump(mode="json", by_alias=True))]
    lines = [*_file_lines(baseline.files(), current.files()), *_rule_lines(old.rules, new.rules), *settings]
    return PolicyDiff(baseline, current, tuple(lines))


def render(diff: PolicyDiff, out: TextIO) -> None:
    out.write(f"baseline: {diff.baseline.describe()}\n")
    out.write(f"current:  {diff.current.describe()}\n")
    for line in diff.lines:
        out.write("".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in line) + "\n")
    if diff.identical:
        out.write("identical\n")
        return
    kinds = [line.split(" ", 2)[1] for line in diff.lines]
    rules, files = kinds.count("rule"), kinds.count("file")
    counts = [f"{n} {what}" for n, what in ((files, "file(s)"), (rules, "rule(s)"), (len(kinds) - rules - files,
                                                                                     "setting(s)")) if n]
    out.write(f"DIFFERENT: {', '.join(counts)} changed\n")
    if not rules and len(kinds) == files:
        out.write("same rules and settings: the files differ only in comments, layout or names\n")


# -- the set in force, through the admin API ------------------------------------------------------
def _safe_name(name: object) -> str:
    """A relative name with no hidden or parent parts (the answer decides where files are written)."""
    parts = PurePosixPath(name).parts if isinstance(name, str) else ()
    if not parts or str(name).startswith("/") or any(p.startswith(".") for p in parts):
        raise ConfigError(f"the admin API sent an unsafe policy file name {name!r}")
    return str(name)


def in_force(data: dict[str, Any], scratch: Path, label: str) -> PolicySet:
    """Write the files `GET /v1/policy` returned under `scratch` and load them; their hash must match."""
    files = data.get("files")
    if not isinstance(files, list):
        raise ConfigError("the admin API answered GET /v1/policy without a file list")
    for item in files:
        target = scratch / _safe_name(item.get("name") if isinstance(item, dict) else None)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(item.get("content", "")), encoding="utf-8")
    loaded = policy_set(scratch, label)
    if loaded.version != data.get("version"):
        raise ConfigError(f"the files the admin API sent hash to {loaded.version}, not to the version in force "
                          f"{data.get('version')}")
    return loaded


def _fetch(ns: argparse.Namespace, scratch: Path) -> PolicySet:
    from proxy.admin.client import AdminClient, resolve_target

    url, token = resolve_target(ns.admin, ns.token, ns.token_file)
    with AdminClient(url, token) as client:
        data = client.get("/v1/policy")
    return in_force(data, scratch, f"in force at {url}")


def add_diff_parser(policy_sub: Any) -> None:
    """`drawbridge policy diff BASELINE_DIR [CURRENT_DIR]` (admin flags as the responder commands')."""
    p = policy_sub.add_parser("diff", help="compare two policy sets, or a baseline with the set in force")
    p.add_argument("directory", type=Path, metavar="BASELINE_DIR")
    p.add_argument("current", type=Path, nargs="?", metavar="CURRENT_DIR",
                   help="default: the policy in force, read through the admin API")
    p.add_argument("--admin", metavar="URL", help="admin API URL (env DRAWBRIDGE_ADMIN_URL)")
    p.add_argument("--token", help="admin token (prefer env DRAWBRIDGE_ADMIN_TOKEN)")
    p.add_argument("--token-file", type=Path, help="read the admin token from this file")
    p.add_argument("--json", dest="as_json", action="store_true",
                   help="print {identical, baseline, current, changes} as one JSON object")


def run_diff_command(ns: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """0 identical, 1 different, 2 a set that does not load or an admin API that cannot be read."""
    from proxy.admin.client import AdminError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        baseline = policy_set(ns.directory)
        with tempfile.TemporaryDirectory(prefix="drawbridge-policy-") as scratch:
            current = policy_set(ns.current) if ns.current is not None else _fetch(ns, Path(scratch))
            diff = diff_policies(baseline, current)
    except (ConfigError, AdminError) as exc:
        err.write(f"drawbridge: {exc}\n")
        return EXIT_ERROR
    except OSError as exc:
        err.write(f"drawbridge: cannot write the policy in force ({exc.strerror or type(exc).__name__})\n")
        return EXIT_ERROR
    if getattr(ns, "as_json", False):
        out.write(json.dumps({"identical": diff.identical, "changes": list(diff.lines),
                              "baseline": {"label": diff.baseline.label, "version": diff.baseline.version},
                              "current": {"label": diff.current.label, "version": diff.current.version}}) + "\n")
    else:
        render(diff, out)
    return EXIT_SAME if diff.identical else EXIT_DIFFERENT
