"""Reading YAML with a size limit, and strict validation with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from proxy.errors import ConfigError
from proxy.yamlfile import MAX_FILE_BYTES, read_yaml, validate_model


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "x"
    count: int = 0


def error_of(fn: object, *args: object) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args)  # type: ignore[operator]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_reads_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("name: é\ncount: 3\nlist: [1, 2]\n", encoding="utf-8")
    assert read_yaml(path) == {"name": "é", "count": 3, "list": [1, 2]}


def test_empty_file_is_none(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("")
    assert read_yaml(path) is None


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: " + "x" * 100)
    assert read_yaml(path, max_bytes=200) == {"a": "x" * 100}
    assert error_of(read_yaml, path, 50) == f"{path}: file exceeds 50 bytes"
    assert MAX_FILE_BYTES == 1024 * 1024


def test_default_limit_is_one_mebibyte(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    assert "exceeds" in error_of(read_yaml, path)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\nb: 2\nc: [3\nd: 4\n")
    message = error_of(read_yaml, path)
    assert message.startswith(f"{path}:")
    assert "invalid YAML" in message
    line = int(message[len(str(path)) + 1:].split(":", 1)[0])
    assert 3 <= line <= 5


def test_tab_indentation_error(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a:\n\t- b\n")
    assert error_of(read_yaml, path).startswith(f"{path}:2: invalid YAML")


def test_multiple_documents_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\n---\nb: 2\n")
    assert "invalid YAML" in error_of(read_yaml, path)


def test_python_tags_are_not_constructed(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: !!python/object/apply:os.system ['true']\n")
    assert "invalid YAML" in error_of(read_yaml, path)


def test_unreadable_files(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"
    assert error_of(read_yaml, absent) == f"{absent}: cannot read (No such file or directory)"
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"a: \xff\n")
    assert error_of(read_yaml, bad) == f"{bad}: cannot read (UnicodeDecodeError)"
    assert "cannot read" in error_of(read_yaml, tmp_path)


def test_validate_model_ok_and_none_means_defaults() -> None:
    assert validate_model(Thing, {"name": "n", "count": 2}, "f.yaml") == Thing(name="n", count=2)
    assert validate_model(Thing, None, "f.yaml") == Thing()


def test_validate_model_errors_name_file_and_field() -> None:
    message = error_of(validate_model, Thing, {"count": "many", "extra": 1}, "f.yaml")
    parts = message.split("; ")
    assert len(parts) == 2
    assert any(p.startswith("f.yaml: count: ") for p in parts)
    assert any(p.startswith("f.yaml: extra: Extra inputs are not permitted") for p in parts)


def test_validate_model_top_level_error() -> None:
    assert error_of(validate_model, Thing, [1, 2], Path("p.yaml")).startswith("p.yaml: (top level): ")


def test_validate_model_reports_at_most_five_errors() -> None:
    data = {f"k{i}": i for i in range(20)}
    assert len(error_of(validate_model, Thing, data, "f.yaml").split("; ")) == 5
