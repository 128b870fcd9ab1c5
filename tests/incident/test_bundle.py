"""The bundle proves itself: `verify_bundle` names the first file that breaks its manifest."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import orjson
import pytest

from proxy.incident.bundle import BundleWriter, read_bundle, verify_bundle


def bundle(tmp_path: Path) -> Path:
    writer = BundleWriter()
    writer.add("timeline.json", '{"events": []}')
    writer.add_json("secrets.json", [{"type": "github_token", "masked": "ghp_…[40 chars]"}])
    writer.add("evidence/20261205T000000Z-abcd1234/exchanges.jsonl", b'{"n": 1}\n')
    out = tmp_path / "bundle.tar.gz"
    writer.write(out, {"exported_by": "oncall"})
    return out


def rewrite(path: Path, change: dict[str, bytes | None]) -> None:
    """Rebuild the archive with some members replaced (bytes), removed (None) or added."""
    members = read_bundle(path)
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_an_untouched_bundle_verifies_and_records_its_custody(tmp_path: Path) -> None:
    path = bundle(tmp_path)
    assert verify_bundle(path) == []
    custody = orjson.loads(read_bundle(path)["custody.json"])
    assert custody["exported_by"] == "oncall" and len(custody["manifest_sha256"]) == 64


@pytest.mark.parametrize(("change", "problem"), [
    ({"timeline.json": b'{"events": [1]}'}, "timeline.json: altered (SHA-256 differs from the manifest)"),
    ({"evidence/20261205T000000Z-abcd1234/exchanges.jsonl": None},
     "evidence/20261205T000000Z-abcd1234/exchanges.jsonl: missing"),
    ({"extra.txt": b"planted"}, "extra.txt: not in the manifest"),
    ({"manifest.json": b'{"format": "x", "files": {}}'}, "manifest.json: does not match the custody record"),
])
def test_any_change_is_named(tmp_path: Path, change: dict[str, bytes | None], problem: str) -> None:
    path = bundle(tmp_path)
    rewrite(path, change)
    assert verify_bundle(path)[0].startswith(problem)


def test_links_and_garbage_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "hostile.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        link = tarfile.TarInfo("manifest.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    assert verify_bundle(path) == ["manifest.json: not a regular file"]
    (tmp_path / "garbage.tar.gz").write_bytes(b"not gzip at all")
    assert "not a readable bundle" in verify_bundle(tmp_path / "garbage.tar.gz")[0]


def test_paths_that_escape_the_bundle_are_refused() -> None:
    for bad in ("../x", "/etc/x", "manifest.json"):
        with pytest.raises(ValueError):
            BundleWriter().add(bad, b"")
