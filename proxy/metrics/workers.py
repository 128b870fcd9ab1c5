"""Metrics across `--workers N`: prometheus-client's multiprocess mode, set up by the supervisor.

Each worker writes its counters and histograms to files in `PROMETHEUS_MULTIPROC_DIR`; the worker that
serves `/metrics` sums them all. The supervisor prepares the directory before it forks: the operator's
(emptied first, as the library asks) or a private temporary one, removed when it exits.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import values

log = logging.getLogger("drawbridge.metrics")
ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_workers() -> Path | None:
    """Switch this process (and the workers it forks) to multiprocess metrics. Returns the directory to
    remove at exit when it is a private one, else None."""
    given = os.environ.get(ENV)
    if given:
        directory, private = Path(given), None
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # a previous run's counters would be summed with ours
            stale.unlink(missing_ok=True)
    else:
        directory = private = Path(tempfile.mkdtemp(prefix="drawbridge-metrics-"))
        os.environ[ENV] = str(directory)
    # The library picks its value class when first imported; metrics are built after the fork, so
    # choosing again here makes every worker's metrics file-backed.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    log.debug("multiprocess metrics in %s", directory)
    return private


def cleanup(private: Path | None) -> None:
    if private is not None:
        shutil.rmtree(private, ignore_errors=True)
