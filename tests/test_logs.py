"""Process logs: text or JSON lines on stderr, one level for Drawbridge and its libraries, no access log."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from proxy.logs import configure_logging
from tests.support.drawbridge import run_drawbridge, run_module_server
from tests.support.mcp_http import call_tool, open_session


def test_json_lines_carry_level_logger_message_and_extra(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    logging.getLogger("drawbridge.http").warning("upstream %s unreachable", "notes", extra={"upstream": "notes"})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("drawbridge").exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "warning" and first["logger"] == "drawbridge.http"
    assert first["message"] == "upstream notes unreachable" and first["upstream"] == "notes"
    assert first["time"].endswith("Z")
    assert second["level"] == "error" and "ValueError: boom" in second["exception"]


def test_the_level_holds_for_libraries_too(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("warning", "text", stream=out)
    logging.getLogger("redis.asyncio").info("connected")
    logging.getLogger("drawbridge").info("started")
    logging.getLogger("uvicorn.error").warning("shutting down")
    assert out.getvalue() == "drawbridge: WARNING shutting down\n"


def test_chatty_libraries_stay_quiet_at_info(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=out)
    logging.getLogger("httpx").info('HTTP Request: POST http://x "HTTP/1.1 200 OK"')
    logging.getLogger("drawbridge").info("serving")
    assert out.getvalue() == "drawbridge: INFO serving\n"
    configure_logging("debug", "text", stream=out)  # asked for: then they speak
    logging.getLogger("httpx").debug("pool")
    assert out.getvalue().endswith("drawbridge: DEBUG pool\n")


def test_a_running_proxy_logs_json_and_no_access_lines(tmp_path: Path) -> None:
    with run_module_server("proxy.demo.server") as demo, \
            run_drawbridge(tmp_path, {"notes": demo}, extra={"log_format": "json", "log_level": "info"}) as proxy:
        url = proxy.mcp_url("notes")
        assert "result" in call_tool(url, open_session(url, {}), "get_weather", {"city": "Oslo"})
    lines = [line for line in proxy.log().splitlines() if line.strip()]
    assert lines, "the proxy logged nothing at info"
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e["logger"] == "drawbridge" and "serving notes" in e["message"] for e in entries)
    assert not any("POST /notes/mcp" in e["message"] for e in entries)
