"""Benign documentation: READMEs and docs of installed Python packages (dist-info METADATA bodies,
*.md / *.rst) and of Node packages (the MCP rig's node_modules, or npm-packed MCP servers), cut into
tool-result-sized chunks; and tool descriptions and parameter descriptions of real MCP servers."""

from __future__ import annotations

import ast
import re
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from bench.detection.cache import npm_package, pip_package
from bench.detection.records import BENIGN, Record, record

RIG_MODULES = Path.home() / ".cache" / "drawbridge-rig" / "npm" / "node_modules"
MCP_NPM = ["@modelcontextprotocol/server-everything", "@modelcontextprotocol/server-filesystem",
           "@modelcontextprotocol/server-memory", "@modelcontextprotocol/server-sequential-thinking",
           "@modelcontextprotocol/server-github", "@modelcontextprotocol/server-slack",
           "@modelcontextprotocol/server-brave-search", "@modelcontextprotocol/server-puppeteer",
           "@modelcontextprotocol/server-postgres", "@modelcontextprotocol/server-gdrive",
           "@modelcontextprotocol/server-google-maps", "@modelcontextprotocol/server-redis",
           "@playwright/mcp"]
MCP_PYPI = ["mcp-server-fetch", "mcp-server-git", "mcp-server-time"]
_JS_DESCRIPTION = re.compile(r"""(?:description|\.describe\()\s*:?\s*(["'`])((?:\\.|(?!\1).){12,2000})\1""", re.S)


def _chunks(text: str, size: int = 1800) -> Iterator[str]:
    parts, length = [], 0
    for para in re.split(r"\n\s*\n", text):
        if length + len(para) > size and parts:
            yield "\n\n".join(parts)
            parts, length = [], 0
        parts.append(para)
        length += len(para) + 2
    if parts:
        yield "\n\n".join(parts)


def _python_docs() -> Iterator[tuple[str, str]]:
    site = Path(sysconfig.get_paths()["purelib"])
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        if meta.parent.name.startswith("mcp_drawbridge"):
            continue  # our own README quotes attacks on purpose: it is not third-party benign text
        body = meta.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)
        if len(body) == 2 and len(body[1]) > 200:
            yield meta.parent.name, body[1]
    for doc in sorted(list(site.rglob("*.md")) + list(site.rglob("*.rst")))[:400]:
        yield doc.name, doc.read_text(encoding="utf-8", errors="replace")


def _node_docs() -> Iterator[tuple[str, str]]:
    roots = [RIG_MODULES] if RIG_MODULES.is_dir() else []
    roots += [p.parent for p in (npm_package(s) for s in MCP_NPM[:4]) if p is not None]
    for root in roots:
        for readme in sorted(root.rglob("README.md"))[:400]:
            yield str(readme.parent.name), readme.read_text(encoding="utf-8", errors="replace")


def records() -> Iterator[Record]:
    for _name, text in _python_docs():
        for chunk in _chunks(text):
            yield record("pypi-docs", "docs.python", BENIGN, None, "tool_result", chunk)
    for _name, text in _node_docs():
        for chunk in _chunks(text):
            yield record("npm-docs", "docs.node", BENIGN, None, "tool_result", chunk)
    for text in tool_descriptions():
        yield record("mcp-servers", "mcp.tool_description", BENIGN, None, "tool_description", text)


def _py_descriptions(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "description":
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and len(value.value) > 12:
                    yield value.value
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc and "mcp" in str(path).lower() and len(doc) > 20:
                    yield doc


def tool_descriptions() -> list[str]:
    """Description strings of real MCP servers (deduplicated)."""
    found: dict[str, None] = {}
    for spec in MCP_NPM:
        package = npm_package(spec)
        base = package if package else RIG_MODULES / spec
        for js in sorted(base.rglob("*.js"))[:200] if base.is_dir() else []:
            if "node_modules" in js.relative_to(base).parts:
                continue
            for m in _JS_DESCRIPTION.finditer(js.read_text(encoding="utf-8", errors="replace")):
                text = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\'", "'")
                found.setdefault(text)
    for spec in MCP_PYPI:
        root = pip_package(spec)
        if root is not None:
            for text in _py_descriptions(root):
                found.setdefault(text)
    print(f"bench: {len(found)} MCP tool/parameter descriptions", file=sys.stderr)
    return list(found)
