"""`drawbridge config check FILE [--policy DIR] [--json]`: validate a config and the files it refers to.

The config is read and validated as `serve` reads it (the same YAML reader and model; relative paths are
taken from the current directory, as `serve` takes them). Then what `serve` would load at start-up is
loaded too, with nothing opened, created or connected: the policy directory (and its test files, as
`policy check` parses them), the pins lock files, secrets given as files, a JWKS file and CA files.
Each problem is one line, `FILE: problem`; a key the model does not know is named, with the closest
valid key. A secret taken from an environment variable that is not set here is only a warning: the
check usually runs somewhere else than the proxy.

Exit codes: 0 valid (warnings allowed), 2 a problem (or usage).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import ssl
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from proxy.admin.config import SecretRef
from proxy.config import Config, SecretSource
from proxy.errors import ConfigError
from proxy.yamlfile import read_yaml

if TYPE_CHECKING:
    from proxy.policy.loader import LoadedPolicy

EXIT_OK, EXIT_INVALID = 0, 2
Loc = tuple[int | str, ...]


@dataclass
class Report:
    file: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: list[Path] = field(default_factory=list)  # every file read, the config first
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def files(self) -> list[Path]:
        return list(dict.fromkeys(self.checked))

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "file": str(self.file), "problems": self.problems, "warnings": self.warnings,
                "files": [str(p) for p in self.files()], "summary": self.summary if self.ok else None}


def add_config_parser(subparsers: Any) -> None:
    """Add `config check` to the `drawbridge` subcommands (an argparse subparsers action)."""
    config = subparsers.add_parser("config", help="check a drawbridge.yaml without starting")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION")
    check = actions.add_parser("check", help="validate a config and the files it refers to (exit 0 ok, 2 invalid)")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--policy", type=Path, metavar="DIR",
                       help="check with this policy directory instead of the config's (as serve --policy)")
    check.add_argument("--json", action="store_true", help="print {ok, file, problems, warnings, files, summary}")
    config.set_defaults(command="config")


def run_config_command(ns: argparse.Namespace) -> int:
    if getattr(ns, "config_command", None) != "check":
        raise ConfigError("config needs an action: drawbridge config check FILE")
    report = check_config(ns.file, policy=ns.policy)
    if ns.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for problem in report.problems:
            print(problem, file=sys.stderr)
        if report.ok:
            print(f"ok: {report.summary}")
    return EXIT_OK if report.ok else EXIT_INVALID


def check_config(path: Path, *, policy: Path | None = None) -> Report:
    """Every problem of the config at `path` and of the files it refers to (never raises ConfigError)."""
    report = Report(path)
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        report.problems.append(str(exc))
        return report
    report.checked.append(path)
    data = {} if data is None else data
    if policy is not None and isinstance(data, dict):
        data = {**data, "policy": policy}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        report.problems.extend(f"{path}: {line}" for line in _describe_all(Config, exc.errors(), data))
        return report
    _Referenced(config, report).check()
    return report


# --- model errors, with the valid key closest to an unknown one ------------------------------------

def _describe_all(root: type[BaseModel], errors: list[Any], data: Any) -> list[str]:
    """One line per location; a union's alternatives (tagged locations) are joined into one line."""
    lines: dict[tuple[str, str], list[str]] = {}
    locs = [tuple(err["loc"]) for err in errors]
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(other[:len(loc)] == loc and other != loc for other in locs):
            continue  # a list left short by its invalid items: those are the problem
        where, message = _describe(root, err, data)
        group = (where, message if err["type"] == "extra_forbidden" else "")  # each unknown key on its own line
        if message not in lines.setdefault(group, []):
            lines[group].append(message)
    return [f"{where}: {'; or '.join(messages)}" if where else "; or ".join(messages)
            for (where, _), messages in lines.items()]


def _describe(root: type[BaseModel], err: Any, data: Any) -> tuple[str, str]:
    loc: Loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and loc:
        key = loc[-1]
        close = difflib.get_close_matches(str(key), sorted(_keys_at(root, loc[:-1])), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return _dotted(_in_data(loc[:-1], data, "")), f"unknown key {str(key)!r}{hint}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return _dotted(_in_data(loc, data, err["type"])) or "(top level)", message


def _in_data(loc: Loc, data: Any, kind: str) -> Loc:
    """The location as keys and indexes of the file: pydantic's union tags (`file`, `int`) left out."""
    out: list[int | str] = []
    for n, part in enumerate(loc):
        step = ((isinstance(data, dict) and part in data)
                or (isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)))
        if step:
            data = data[part]
        elif not (isinstance(data, dict) and n == len(loc) - 1 and kind == "missing"):
            continue  # a tag naming the union member that was tried (a missing key is kept)
        out.append(part)
    return tuple(out)


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def _members(annotation: Any) -> Iterator[Any]:
    """The types an annotation may be: Annotated and unions unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _members(get_args(annotation)[0])
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _members(arg)
    else:
        yield annotation


def _key_of(model: type[BaseModel], key: int | str) -> Any | None:
    for name, info in model.model_fields.items():
        if key == (info.alias or name):
            return info.annotation
    return None


def _is_tag(model: type[BaseModel], part: int | str) -> bool:
    """A union member's tag in an error location: a discriminator value or the class name."""
    if part == model.__name__:
        return True
    return any(get_origin(info.annotation) is Literal and part in get_args(info.annotation)
               for info in model.model_fields.values())


def _step(annotation: Any, part: int | str) -> list[Any]:
    out: list[Any] = []
    for member in _members(annotation):
        origin = get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            inner = _key_of(member, part)
            if inner is not None:
                out.append(inner)
            elif _is_tag(member, part):
                out.append(member)
        elif origin in (tuple, list, set, frozenset) and isinstance(part, int):
            out.extend(arg for arg in get_args(member) if arg is not Ellipsis)
        elif origin is dict:
            out.append(get_args(member)[1])
    return out


def _keys_at(root: type[BaseModel], loc: Loc) -> set[str]:
    """The keys valid at an error location (union members merged)."""
    current: list[Any] = [root]
    for part in loc:
        current = [found for annotation in current for found in _step(annotation, part)]
    return {info.alias or name for annotation in current for member in _members(annotation)
            if isinstance(member, type) and issubclass(member, BaseModel)
            for name, info in member.model_fields.items()}


# --- the files a valid config refers to ------------------------------------------------------------------

class _Referenced:
    """Loads what `serve` loads at start-up from a valid config, recording problems instead of stopping."""

    def __init__(self, config: Config, report: Report) -> None:
        self.config, self.report = config, report
        self.file = report.file

    def problem(self, key: str, message: str, referenced: Path | None = None) -> None:
        """A line naming the file at fault: the referenced one when its loader already names it."""
        if referenced is not None and message.startswith(str(referenced)):
            self.report.problems.append(message)
        else:
            self.report.problems.append(f"{self.file}: {key}: {message}")

    def warn(self, key: str, message: str) -> None:
        self.report.warnings.append(f"{self.file}: {key}: {message}")

    def check(self) -> None:
        policy = self._policy()
        self._candidate()
        locks = self._pins()
        secrets = self._secrets()
        self._jwks()
        self._upstream_tls()
        self._audit()
        self._store()
        self._admin()
        upstreams = [u.name for u in self.config.upstreams]
        if not upstreams:
            self.warn("upstreams", "none configured: serve needs --upstream URL")
        described = f"{len(upstreams)} upstream{'s' if len(upstreams) != 1 else ''}"
        if upstreams:
            described += f" ({', '.join(upstreams)})"
        parts = [described, policy, f"{locks} pins lock file{'s' if locks != 1 else ''}",
                 f"{secrets} secret{'s' if secrets != 1 else ''}",
                 f"{len(self.report.files())} file{'s' if len(self.report.files()) != 1 else ''} read"]
        self.report.summary = f"{self.file}: " + ", ".join(parts)

    def _policy(self) -> str:
        from proxy.policy.testing import load_policy_tests

        directory = self.config.policy
        loaded = self._load_policy("policy", directory)
        if loaded is None:
            return f"policy {directory} invalid"
        try:
            tests = load_policy_tests(directory)
        except ConfigError as exc:
            self._policy_problem("policy", directory, exc)
            return f"policy {directory} invalid"
        self.report.checked.extend(path for path, _ in tests)
        rules = len(loaded.policy.rules)
        return f"policy {loaded.policy.version} ({rules} rule{'s' if rules != 1 else ''} in {directory})"

    def _candidate(self) -> None:
        """The candidate policy beside it (`shadow_policy`), loaded as serve loads it."""
        if self.config.shadow_policy is not None:
            self._load_policy("shadow_policy", self.config.shadow_policy)

    def _load_policy(self, key: str, directory: Path) -> LoadedPolicy | None:
        """A policy directory as serve loads it: its files read, its warnings kept; None when invalid."""
        from proxy.policy.loader import load_policy

        try:
            loaded = load_policy(directory)
        except ConfigError as exc:
            self._policy_problem(key, directory, exc)
            return None
        self.report.checked.extend(loaded.files)
        self.report.warnings.extend(f"{directory}: {w}" for w in loaded.warnings)
        return loaded

    def _policy_problem(self, key: str, directory: Path, exc: ConfigError) -> None:
        lines = _policy_model_problems(directory)  # each model error on its line, typos with a suggestion
        if lines:
            self.report.problems.extend(lines)
        else:
            self.problem(key, str(exc), directory)

    def _pins(self) -> int:
        from proxy.pins import lockfile

        if self.config.pins is None:
            return 0
        count = 0
        for name, upstream in self.config.pins.upstreams.items():
            key = f"pins.upstreams.{name}.lock"
            if upstream.lock is None:
                if upstream.mode == "strict":
                    self.warn(key, "strict without a lock file: nothing is visible until approved")
                continue
            try:
                lock = lockfile.load(upstream.lock)
            except ConfigError as exc:
                self.problem(key, str(exc), upstream.lock)
                continue
            self.report.checked.append(upstream.lock)
            count += 1
            if lock.upstream != name:
                self.problem(key, f"{upstream.lock} pins upstream {lock.upstream!r}, configured for {name!r} "
                                  f"(re-pin with: drawbridge pin {name} -o {upstream.lock})")
        return count

    def _secrets(self) -> int:
        """Resolve every secret (the value is dropped at once): files must be readable; env vars only warn."""
        count = 0
        for key, source in _secret_sources(self.config):
            count += 1
            try:
                source.resolve(key)
            except ConfigError as exc:
                message = str(exc).removeprefix(f"{key}: ")
                if source.env is not None:
                    self.warn(key, f"{message} here (it must be where the proxy runs)")
                else:
                    self.problem(key, message)
                continue
            if source.file is not None:
                self.report.checked.append(source.file)
        return count

    def _jwks(self) -> None:
        from proxy.identity.jwks import JwksError, JwksSource

        jwt = self.config.identity.jwt
        if jwt is None or jwt.jwks_file is None:
            return
        try:
            JwksSource(jwt)  # a file source reads and parses the key set at once, as at start-up
        except JwksError as exc:
            self.problem("identity.jwt.jwks_file", f"{jwt.jwks_file}: {exc}")
            return
        self.report.checked.append(jwt.jwks_file)

    def _upstream_tls(self) -> None:
        """Each upstream's CA bundle and client certificate, loaded as serve loads them (no connection)."""
        from proxy.upstream.tls import client_context

        for index, upstream in enumerate(self.config.upstreams):
            tls = upstream.tls
            if tls is None:
                continue
            password = tls.key_password
            if password is not None and password.env is not None and not os.environ.get(password.env):
                continue  # the unset variable is already a warning; the key cannot be opened without it
            try:
                client_context(tls, f"upstream {upstream.name}")
            except ConfigError as exc:
                self.problem(f"upstreams.{index}.tls", str(exc).removeprefix(f"upstream {upstream.name}: "))
                continue
            self.report.checked.extend(p for p in (tls.ca_file, tls.cert_file, tls.key_file) if p is not None)

    def _audit(self) -> None:
        from proxy.audit.formats import formatter
        from proxy.audit.sinks import sink_configs, sink_name

        names: set[str] = set()
        for entry in sink_configs(self.config.audit):
            name = sink_name(entry)
            key = f"audit.sinks[{name}]"
            if name in names:
                self.problem("audit.sinks", f"two sinks are named {name!r}; give one of them a name")
            names.add(name)
            try:
                formatter(entry.format)
            except ConfigError as exc:
                self.problem(key, str(exc))
            ca_file: Path | None = getattr(entry, "ca_file", None)
            if ca_file is not None:
                try:
                    ssl.create_default_context(cafile=str(ca_file))
                except (OSError, ssl.SSLError) as exc:
                    self.problem(f"{key}.ca_file", f"{ca_file}: {getattr(exc, 'strerror', None) or exc}")
                else:
                    self.report.checked.append(ca_file)

    def _store(self) -> None:
        from proxy.state.factory import check_store

        stores = [("store", self.config.store, self.config.redis)]
        if self.config.pins is not None and self.config.pins.store is not None:
            stores.append(("pins.store", self.config.pins.store, None))
        for key, url, redis in stores:
            try:
                check_store(url, redis)  # the URL with the redis: section (TLS files read); nothing connects
            except ConfigError as exc:
                self.problem(key, str(exc))

    def _admin(self) -> None:
        from proxy.admin.auth import check_listen
        from proxy.admin.config import ADMIN_TOKEN_ENV

        admin = self.config.admin
        if admin is None:
            return
        try:
            check_listen(admin.listen, admin.token_labels())
        except ConfigError as exc:
            if admin.token_sha256:
                self.problem("admin.listen", str(exc))
            else:  # DRAWBRIDGE_ADMIN_TOKEN may be set where the proxy runs
                self.warn("admin.listen", f"{exc}; {ADMIN_TOKEN_ENV} is not set here")


def _policy_model_problems(directory: Path) -> list[str]:
    """The model errors of a policy directory's files, one line each (empty when its problem lies elsewhere)."""
    from proxy.policy.loader import policy_files
    from proxy.policy.model import PolicyFile, PolicyTestFile
    from proxy.policy.testing import policy_test_files

    out: list[str] = []
    try:
        pairs: list[tuple[Path, type[BaseModel]]] = [(path, PolicyFile) for path in policy_files(directory)]
    except ConfigError:
        return out
    pairs += [(path, PolicyTestFile) for path in policy_test_files(directory)]
    for path, model in pairs:
        try:
            data = read_yaml(path)
            model.model_validate({} if data is None else data)
        except ConfigError:
            return []  # unreadable or not YAML: the loader's own line says so
        except ValidationError as exc:
            out.extend(f"{path}: {line}" for line in _describe_all(model, exc.errors(), data))
    return out


def _secret_sources(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, SecretSource | SecretRef]]:
    """Every secret reference in a config, with its dotted key (walks all models, lists and maps)."""
    for name, info in type(model).model_fields.items():
        yield from _secrets_in(getattr(model, name), f"{prefix}{info.alias or name}")


def _secrets_in(value: Any, key: str) -> Iterator[tuple[str, SecretSource | SecretRef]]:
    if isinstance(value, SecretSource | SecretRef):
        yield key, value
    elif isinstance(value, BaseModel):
        yield from _secret_sources(value, f"{key}.")
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _secrets_in(item, f"{key}.{index}")
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _secrets_in(item, f"{key}.{name}")

