"""The source-code corpus: real files by package, test suites, minified files and this project left out;
a dev source of benign tool text."""

from __future__ import annotations

from pathlib import Path

from bench.detection import src_code
from bench.detection.splits import DEV, TOOL_TEXT, kind_of, split_of


def test_test_suites_minified_files_and_this_project_are_left_out(tmp_path: Path) -> None:
    for name in ("pkg/core.py", "pkg/tests/test_core.py", "proxy/pipeline.py", "web/app.min.js", "web/app.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    assert {k: [p.name for p in v] for k, v in src_code._files(tmp_path, "*.py").items()} == {"pkg": ["core.py"]}
    assert [p.name for p in src_code._files(tmp_path, "*.js")["web"]] == ["app.js"]


def test_generated_code_with_very_long_lines_is_not_text(tmp_path: Path) -> None:
    long, short = tmp_path / "bundle.js", tmp_path / "module.js"
    long.write_text("var a=1;" * 500 + "\n", encoding="utf-8")
    short.write_text("const a = 1;\nexport default a;\n", encoding="utf-8")
    assert src_code._pieces([long]) == [] and src_code._pieces([short]) == ["const a = 1;\nexport default a;"]


def test_code_is_dev_tool_text() -> None:
    assert split_of("code-python") == DEV and kind_of("code-python") == TOOL_TEXT and kind_of("code-js") == TOOL_TEXT
