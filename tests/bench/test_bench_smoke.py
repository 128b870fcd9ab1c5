"""Smoke test of the benchmark tooling: the load client, the bench upstream and the guarded target.

Bounded call counts only; no timing assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.client import check_answer, find_answer, loopback_target
from bench.load import LoadSpec, run_load
from bench.payload import make_blob
from bench.targets import Procs, Target, free_port, start_target, start_upstream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Procs, Target, Path]]:
    work = tmp_path_factory.mktemp("bench")
    with Procs(work) as procs:
        yield procs, start_upstream(procs), work


def load(url: str, **kw: object) -> dict[str, object]:
    spec = LoadSpec(url, warmup=0, max_seconds=60, **kw)  # type: ignore[arg-type]
    return asyncio.run(run_load(spec))


@pytest.mark.parametrize(("tool", "size"), [("blob", 100), ("blob", 65536), ("echo", 300)])
def test_direct_calls_are_counted_and_checked(running: tuple[Procs, Target, Path], tool: str, size: int) -> None:
    _, upstream, _ = running
    result = load(upstream.url, concurrency=3, size=size, tool=tool, calls=50)
    assert result["error_samples"] == []
    assert (result["calls"], result["errors"]) == (50, 0)
    assert result["total_calls"] == 50


def test_guarded_drawbridge_with_api_key(running: tuple[Procs, Target, Path]) -> None:
    procs, upstream, work = running
    target = start_target(procs, "drawbridge-guarded", upstream, work)
    try:
        ok = load(target.url, concurrency=2, size=1000, calls=50, headers=target.headers)
        assert (ok["calls"], ok["errors"]) == (50, 0), ok["error_samples"]
        wrong = load(target.url, concurrency=2, calls=50, headers=(("x-api-key", "not-the-key"),))
        assert wrong["calls"] == 0 and wrong["errors"] == 2
        assert "HTTP 401" in str(wrong["error_samples"])
    finally:
        assert target.proc is not None
        procs.stop(target.proc)


def test_nothing_listening_is_reported_as_errors() -> None:
    result = load(f"http://127.0.0.1:{free_port()}/mcp", concurrency=2, calls=50)
    assert result["calls"] == 0
    assert result["errors"] == 2
    assert "initialize" in str(result["error_samples"])


def test_wrong_answers_are_errors() -> None:
    body = b'{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"short"}]}}'
    with pytest.raises(Exception, match="wrong text"):
        check_answer(find_answer(b"application/json", body, 3), make_blob(100))
    sse = b"event: message\r\ndata: " + body + b"\r\n\r\n"
    assert find_answer(b"text/event-stream", sse, 3) == find_answer(b"application/json", body, 3)
    assert find_answer(b"application/json", body, 4) is None


def test_non_loopback_is_refused() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        loopback_target("http://192.0.2.1:8080/mcp")


def test_multi_worker_upstream_and_the_workers_target(tmp_path: Path) -> None:
    """The bench's upstream under two uvicorn workers (stateless) and `serve --workers 2` in front of it."""
    with Procs(tmp_path) as procs:
        upstream = start_upstream(procs, workers=2)
        direct = load(upstream.url, concurrency=2, size=100, calls=40)
        assert (direct["calls"], direct["errors"]) == (40, 0), direct["error_samples"]
        target = start_target(procs, "drawbridge-guarded-workers", upstream, tmp_path, proxy_workers=2)
        through = load(target.url, concurrency=4, size=4096, calls=40, headers=target.headers)
        assert (through["calls"], through["errors"]) == (40, 0), through["error_samples"]
