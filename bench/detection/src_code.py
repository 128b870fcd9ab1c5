"""Benign source code and data files, the text an agent reads most: Python files of the standard library
and of the installed packages, their JSON, YAML, TOML, XML and CSV data files, and JavaScript of the MCP
rig's Node modules when they are there, cut into tool-result-sized chunks and sampled fairly over
packages (dev split).

Test suites are left out (they hold deliberate edge cases: invisible characters, escape sequences), and
so are minified files (one line of many kilobytes is no text anybody reads) and this project.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Iterator
from pathlib import Path

from bench.detection import records as rec
from bench.detection.records import BENIGN, Record, chunks, fair_sample, record
from bench.detection.src_docs import RIG_MODULES

FILES_PER_PACKAGE = 12
DATA_FILES = ("*.json", "*.yaml", "*.yml", "*.toml", "*.xml", "*.csv")
MAX_LINE = 1000  # characters: a longer line means generated or minified code
_SKIP_PARTS = frozenset({"test", "tests", "testing", "idle_test", "__pycache__", "proxy", "bench"})


def _files(root: Path, pattern: str) -> dict[str, list[Path]]:
    """Source files under `root` by top-level package (at most FILES_PER_PACKAGE each, in name order)."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(root.rglob(pattern)):
        parts = path.relative_to(root).parts
        if _SKIP_PARTS.intersection(parts) or path.name.endswith(".min.js") or "site-packages" in parts[:-1]:
            continue
        group = groups.setdefault(parts[0].removesuffix(".py"), [])
        if len(group) < FILES_PER_PACKAGE:
            group.append(path)
    return groups


def _pieces(paths: list[Path]) -> list[str]:
    out: list[str] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        if lines and max(len(line) for line in lines) <= MAX_LINE:
            out.extend(chunks(lines, size=1800))
    return out


def records() -> Iterator[Record]:
    paths = sysconfig.get_paths()
    python = {**_files(Path(paths["stdlib"]), "*.py"), **_files(Path(paths["purelib"]), "*.py")}
    groups = {name: _pieces(files) for name, files in python.items()}
    for _, text in fair_sample(groups, rec.PER_SOURCE, seed="code-python"):
        yield record("code-python", "code.python", BENIGN, None, "tool_result", text)
    data: dict[str, list[Path]] = {}
    for pattern in DATA_FILES:
        for name, files in _files(Path(paths["purelib"]), pattern).items():
            data.setdefault(name, []).extend(files)
    for _, text in fair_sample({name: _pieces(files) for name, files in data.items()}, rec.PER_SOURCE,
                               seed="code-data"):
        yield record("code-data", "code.data", BENIGN, None, "tool_result", text)
    if RIG_MODULES.is_dir():
        js = {name: _pieces(files) for name, files in _files(RIG_MODULES, "*.js").items()}
        for _, text in fair_sample(js, rec.PER_SOURCE, seed="code-js"):
            yield record("code-js", "code.js", BENIGN, None, "tool_result", text)
