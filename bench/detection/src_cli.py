"""Benign coloured CLI output: real commands run with colour forced (ls, grep, git log/diff/show,
pytest) and Pygments' terminal formatters (8/256/true-colour) over source files."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.detection.records import BENIGN, Record, record

REPO = Path(__file__).resolve().parents[2]
_ENV = {**os.environ, "FORCE_COLOR": "1", "CLICOLOR_FORCE": "1", "TERM": "xterm-256color", "GIT_PAGER": "cat"}


def _run(cmd: list[str], cwd: Path = REPO) -> str:
    try:
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=60, env=_ENV, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.decode("utf-8", "replace")


def _pieces(text: str, lines: int = 40) -> Iterator[str]:
    rows = text.splitlines(keepends=True)
    for i in range(0, len(rows), lines):
        piece = "".join(rows[i:i + lines])
        if piece.strip():
            yield piece


_STDLIB = Path(os.__file__).parent
_SAMPLE_FILES = ("json/__init__.py", "json/decoder.py", "json/encoder.py", "textwrap.py", "csv.py", "shlex.py",
                 "fnmatch.py", "glob.py")


def _sample_repo(root: Path) -> Path:
    """A throwaway git history of standard-library modules (third-party text): each file is added in a
    first half, then completed, so logs, shows and diffs have real content. Not this project's history,
    whose tests and commit messages quote attacks on purpose."""
    repo = root / "sample"
    repo.mkdir()
    git = ["git", "-c", "user.name=Sample", "-c", "user.email=sample@example.invalid", "-c", "commit.gpgsign=false"]
    _run([*git, "init", "-q"], repo)
    for stage in ("half", "full"):
        for name in _SAMPLE_FILES:
            source = (_STDLIB / name).read_text(encoding="utf-8")
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source[:len(source) // 2] if stage == "half" else source, encoding="utf-8")
            _run([*git, "add", name], repo)
            _run([*git, "commit", "-q", "-m", f"{'Add' if stage == 'half' else 'Complete'} {name}"], repo)
    return repo


def _commands() -> Iterator[tuple[str, str]]:
    yield "ls", _run(["ls", "-la", "--color=always", "/usr/lib", "/usr/bin"])
    with tempfile.TemporaryDirectory() as tmp:
        repo = _sample_repo(Path(tmp))
        yield "grep", _run(["grep", "-rn", "--color=always", "-E", "def |class ", "."], repo)
        yield "git-log", _run(["git", "log", "--color=always", "--stat", "-n", "60"], repo)
        yield "git-log-graph", _run(["git", "log", "--color=always", "--graph", "--oneline", "--decorate"], repo)
        yield "git-show", _run(["git", "show", "--color=always", "HEAD~3"], repo)
        yield "git-diff", _run(["git", "diff", "--color=always", "HEAD~12", "HEAD~3"], repo)
        test = Path(tmp) / "test_demo.py"
        test.write_text("def test_ok():\n    assert 1 + 1 == 2\n\ndef test_fails():\n    assert [1, 2] == [1, 3]\n")
        yield "pytest", _run([sys.executable, "-m", "pytest", "--color=yes", "-p", "no:cacheprovider", str(test)],
                             cwd=Path(tmp))


def _pygments() -> Iterator[tuple[str, str]]:
    try:
        from pygments import highlight
        from pygments.formatters import Terminal256Formatter, TerminalFormatter, TerminalTrueColorFormatter
        from pygments.lexers import get_lexer_for_filename
    except ImportError:
        return
    formatters = [TerminalFormatter(), Terminal256Formatter(style="monokai"), TerminalTrueColorFormatter()]
    # proxy/content holds attack strings as data (detector vocabularies), so it is not sample CLI output
    files = [p for p in sorted((REPO / "proxy").rglob("*.py")) if "content" not in p.parts][:40]
    files += sorted((REPO / "policies").rglob("*.yaml"))[:10]
    for n, path in enumerate(files):
        source = path.read_text(encoding="utf-8")[:6000]
        yield "pygments", highlight(source, get_lexer_for_filename(path.name), formatters[n % 3])


def _rich() -> Iterator[tuple[str, str]]:
    """Rich (pip's vendored copy, MIT): a progress bar, a table, highlighted code and a traceback."""
    import io

    try:
        from pip._vendor.rich.console import Console
        from pip._vendor.rich.progress import Progress
        from pip._vendor.rich.syntax import Syntax
        from pip._vendor.rich.table import Table
    except ImportError:
        return
    for system in ("standard", "256", "truecolor"):
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=True, color_system=system, width=100)  # type: ignore[arg-type]
        with Progress(console=console, auto_refresh=False) as progress:
            task = progress.add_task("Downloading mcp-server-fetch", total=8)
            for _ in range(8):
                progress.advance(task)
                progress.refresh()
        table = Table(title="Tools")
        for column in ("name", "description", "calls"):
            table.add_column(column)
        table.add_row("read_file", "Read a file from disk", "12")
        table.add_row("fetch", "Fetch a URL and return markdown", "3")
        console.print(table)
        console.print(Syntax((REPO / "proxy" / "decision.py").read_text(encoding="utf-8")[:1500], "python"))
        try:
            {}["missing"]
        except KeyError:
            console.print_exception()
        yield "rich", buf.getvalue()


def records() -> Iterator[Record]:
    for name, output in [*_commands(), *_pygments(), *_rich()]:
        for piece in _pieces(output):
            yield record("cli", f"cli.{name}", BENIGN, None, "tool_result", piece)
