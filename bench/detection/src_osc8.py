"""Benign coloured terminal output with OSC 8 hyperlinks, from real programs.

- `osc8-rich`: Rich (PyPI wheel, MIT, imported from the cache, not installed) rendering real
  READMEs as Markdown (links become OSC 8 hyperlinks with ids), tables of linked names, `log()` lines
  linking their source file, trees of linked files, pretty-printed data and a traceback.
- `osc8-cli`: GNU `ls --hyperlink=always --color=always` over the unpacked package trees in the
  cache, and GCC's coloured diagnostics with `-fdiagnostics-urls=always` (links to the warning
  options' documentation) over the C sources of real sdists (simplejson, ujson, MarkupSafe).
Programs that are not installed are skipped.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.detection import records as rec
from bench.detection.cache import deb_package, npm_package, pip_package, pip_sdist
from bench.detection.records import BENIGN, Record, chunks, fair_sample, record
from bench.detection.src_docs import MCP_NPM
from bench.detection.src_gettext import GNOME_DEBS

RICH = ("rich==15.0.0", "markdown-it-py==4.3.0", "mdurl==0.1.2")
README_WHEELS = ("rich==15.0.0", "markdown-it-py==4.3.0", "faker", "django==5.2.19", "sphinx==9.0.4")
C_SDISTS = ("simplejson==4.3.0", "ujson==6.1.0", "markupsafe==3.0.4")
GCC_FLAGS = ("-Wall", "-Wextra", "-Wconversion", "-Wsign-conversion", "-Wshadow", "-Wcast-qual", "-Wpedantic",
             "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wundef")
COLOR_SYSTEMS = ("standard", "256", "truecolor")


_LINK_ID = re.compile(r"\x1b\]8;id=([^;]*);")


def _stable_ids(text: str) -> str:
    """Rich numbers link ids from a random start (and a per-process hash): renumber them in order of
    appearance so the corpus is the same on every run."""
    ids: dict[str, int] = {}
    return _LINK_ID.sub(lambda m: f"\x1b]8;id={100000 + ids.setdefault(m.group(1), len(ids))};", text)


def _pieces(text: str, lines: int = 40) -> list[str]:
    return [p for p in chunks(text.splitlines(), size=lines * 100) if p.strip()]


def _rich() -> Any:
    """The `rich` package from the cached wheels (with markdown-it-py and mdurl on the path)."""
    roots = [pip_package(spec) for spec in RICH]
    if any(root is None for root in roots):
        return None
    for root in roots:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    import rich  # type: ignore[import-not-found,unused-ignore]

    return rich


def _readmes() -> list[str]:
    texts = []
    for spec in README_WHEELS:
        root = pip_package(spec)
        for meta in sorted(root.glob("*.dist-info/METADATA")) if root else []:
            head, _, body = meta.read_text(encoding="utf-8", errors="replace").partition("\n\n")
            if "text/markdown" in head and len(body) > 200:
                texts.append(body)
    for spec in MCP_NPM:
        package = npm_package(spec)
        if package is not None and (package / "README.md").exists():
            texts.append((package / "README.md").read_text(encoding="utf-8", errors="replace"))
    return texts


def _rich_outputs() -> Iterator[str]:
    if _rich() is None:
        return
    from rich.console import Console  # type: ignore[import-not-found,unused-ignore]
    from rich.markdown import Markdown  # type: ignore[import-not-found,unused-ignore]
    from rich.pretty import Pretty  # type: ignore[import-not-found,unused-ignore]
    from rich.style import Style  # type: ignore[import-not-found,unused-ignore]
    from rich.table import Table  # type: ignore[import-not-found,unused-ignore]
    from rich.text import Text  # type: ignore[import-not-found,unused-ignore]
    from rich.traceback import Traceback  # type: ignore[import-not-found,unused-ignore]
    from rich.tree import Tree  # type: ignore[import-not-found,unused-ignore]

    def console(n: int) -> tuple[Any, io.StringIO]:
        buf = io.StringIO()
        return Console(file=buf, force_terminal=True, color_system=COLOR_SYSTEMS[n % 3], width=100,
                       log_time=False, legacy_windows=False), buf

    for n, readme in enumerate(_readmes()):
        con, buf = console(n)
        con.print(Markdown(readme[:20000], hyperlinks=True))
        yield buf.getvalue()
    for n, root in enumerate(_trees()[:len(README_WHEELS)]):
        con, buf = console(n)
        table = Table(title=f"Files of {root.name}")
        for column in ("file", "bytes"):
            table.add_column(column)
        tree = Tree(Text(root.name, style=Style(link=root.as_uri())))
        for path in sorted(p for p in root.rglob("*") if p.is_file())[:60]:
            rel = path.relative_to(root)
            table.add_row(Text(str(rel), style=Style(link=path.as_uri())), str(path.stat().st_size))
            tree.add(Text(str(rel), style=Style(link=path.as_uri())))
        con.print(table)
        con.print(tree)
        con.log(f"listed {root.name}", log_locals=False)
        con.print(Pretty({"package": root.name, "files": len(table.rows), "url": f"https://pypi.org/project/"
                          f"{root.name.rsplit('-', 1)[0]}/"}))
        try:
            int(root.name)
        except ValueError as exc:
            con.print(Traceback.from_exception(type(exc), exc, exc.__traceback__, width=100))
        yield buf.getvalue()


def _trees() -> list[Path]:
    """Unpacked package trees in the cache: the wheels above, then Debian packages' /usr/share."""
    trees = [root for root in (pip_package(spec) for spec in README_WHEELS) if root is not None]
    for name in (*GNOME_DEBS, "manpages-de"):
        root = deb_package(name)
        if root is not None:
            trees.append(root / "usr" / "share")
    return trees


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    env = {**os.environ, "TERM": "xterm-256color", "LC_ALL": "C.UTF-8", "GCC_URLS": "st"}
    try:
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=60, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (result.stdout + result.stderr).decode("utf-8", "replace")


def _cli_outputs() -> Iterator[tuple[str, str]]:
    if shutil.which("ls"):
        for tree in _trees():
            yield "ls", _run(["ls", "-lR", "--hyperlink=always", "--color=always", str(tree)])
    gcc = shutil.which("gcc")
    if gcc is None:
        return
    include = sysconfig.get_paths()["include"]
    for spec in C_SDISTS:
        root = pip_sdist(spec)
        if root is None:
            continue
        for source in sorted(root.rglob("*.c")):
            if "test" not in source.parts:
                yield "gcc", _run([gcc, "-fsyntax-only", *GCC_FLAGS, "-fdiagnostics-urls=always",
                                   "-fdiagnostics-color=always", f"-I{include}", f"-I{source.parent}",
                                   str(source.relative_to(root))], cwd=root)


def records() -> Iterator[Record]:
    rich_pieces = {"rich": [p for out in _rich_outputs() for p in _pieces(_stable_ids(out))]}
    for _, text in fair_sample(rich_pieces, rec.PER_SOURCE, seed="osc8-rich"):
        yield record("osc8-rich", "osc8.rich", BENIGN, None, "tool_result", text)
    cli: dict[str, list[str]] = {}
    for name, out in _cli_outputs():
        cli.setdefault(name, []).extend(_pieces(out))
    for name, text in fair_sample(cli, rec.PER_SOURCE, seed="osc8-cli"):
        yield record("osc8-cli", f"osc8.{name}", BENIGN, None, "tool_result", text)
