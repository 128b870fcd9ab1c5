"""Lock files: sorted, stable, ASCII-escaped, verified on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.pins import lockfile
from proxy.pins.hashing import ServerIdentity, tool_sha256
from tests.pins.conftest import tool, weather

SERVER = ServerIdentity.of("srv", "1.0", "Use wisely.")


def test_round_trip_and_stable_text(tmp_path: Path) -> None:
    lock = lockfile.Lockfile.build("wx", SERVER, [weather(), tool("alpha")], instructions="Use wisely.")
    path = tmp_path / "wx.lock.json"
    lockfile.write(path, lock)
    text = path.read_text()
    data = json.loads(text)
    assert list(data) == sorted(data) and list(data["tools"]) == ["alpha", "weather"]
    assert data["drawbridge_pins"] == 1 and data["upstream"] == "wx"
    assert data["server"] == {"name": "srv", "version": "1.0", "instructions": "Use wisely.",
                              "instructions_sha256": SERVER.instructions_sha256}
    assert data["tools"]["weather"]["sha256"] == tool_sha256(weather())
    loaded = lockfile.load(path)
    assert loaded == lock
    assert lockfile.dumps(loaded) == text  # byte-stable


def test_invisible_characters_are_escaped() -> None:
    sneaky = tool("t", "ok\u200b\U000e0041")
    text = lockfile.dumps(lockfile.Lockfile.build("u", SERVER, [sneaky]))
    assert text.isascii() and "\\u200b" in text and "\\udb40\\udc41" in text
    assert lockfile.loads(text).tools["t"].definition == sneaky


def test_hand_edits_are_refused() -> None:
    data = lockfile.Lockfile.build("wx", SERVER, [weather()]).to_json()
    data["tools"]["weather"]["definition"]["description"] = "edited"
    with pytest.raises(ConfigError, match="sha256 does not match"):
        lockfile.loads(json.dumps(data))


@pytest.mark.parametrize(("text", "message"), [
    ("nope", "not JSON"),
    ("{}", "not a drawbridge pins file"),
    ('{"drawbridge_pins": 1, "upstream": 3, "server": {}, "tools": {}}', "needs"),
    ('{"drawbridge_pins": 1, "upstream": "u", "server": {"name": 1}, "tools": {}}', "server.name"),
    ('{"drawbridge_pins": 1, "upstream": "u", "server": {}, "tools": {"a": {"sha256": "x"}}}', "definition"),
    ('{"drawbridge_pins": 1, "upstream": "u", "server": {"instructions": "x"}, "tools": {}}', "instructions"),
])
def test_malformed_files_fail_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        lockfile.loads(text)
    assert "\n" not in str(err.value)


def test_definition_name_must_match_its_key() -> None:
    data = lockfile.Lockfile.build("wx", SERVER, [weather()]).to_json()
    data["tools"]["other"] = data["tools"].pop("weather")
    with pytest.raises(ConfigError, match="definition named"):
        lockfile.loads(json.dumps(data))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        lockfile.load(tmp_path / "absent.json")


def test_accepted_instruction_findings_round_trip() -> None:
    lock = lockfile.Lockfile.build("wx", SERVER, [weather()], instructions="Use wisely.",
                                   findings={"@server": [{"detector": "d"}], "weather": [{"detector": "e"}]})
    loaded = lockfile.loads(lockfile.dumps(lock))
    assert loaded.server_findings == ({"detector": "d"},) and loaded.tools["weather"].findings == ({"detector": "e"},)
    assert loaded == lock
