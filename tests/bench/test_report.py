"""The hop table divides each hop's CPU by the bare splice's in the same cell and shows its memory."""

from __future__ import annotations

from typing import Any

from bench import report


def _row(target: str, cpu: float | None, rss: int | None = None, size: int = 100, conc: int = 1) -> dict[str, Any]:
    row: dict[str, Any] = {"target": target, "run": 1, "size": size, "concurrency": conc, "calls": 100,
                           "calls_per_s": 1000.0, "p50_ms": 1.0, "p90_ms": 1.5, "p99_ms": 2.0, "errors": 0}
    if cpu is not None:
        row.update(proxy_cpu_us_per_call=cpu, proxy_rss_bytes=rss)
    return row


def test_the_ratio_to_the_splice_is_per_cell() -> None:
    rows = [_row("direct", None), _row("bare-tcp", 60.0, 20 * 2**20), _row("drawbridge-guarded", 600.0, 80 * 2**20),
            _row("bare-tcp", 100.0, size=65536), _row("drawbridge-guarded", 450.0, size=65536)]
    lines = {tuple(c.strip() for c in line.split("|")[1:4]): line for line in report.table(rows).splitlines()[2:]}
    guarded_small = lines[("drawbridge-guarded", "100 B", "1")].split("|")
    assert guarded_small[11].strip() == "10.0" and guarded_small[13].strip() == "80"
    assert lines[("drawbridge-guarded", "64 KiB", "1")].split("|")[11].strip() == "4.5"
    assert lines[("bare-tcp", "100 B", "1")].split("|")[11].strip() == "-"
