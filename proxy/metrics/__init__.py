"""Prometheus metrics: counters fed by the audit stream, gauges read when scraped (`prometheus-client`)."""

from proxy.metrics.exposition import CONTENT_TYPE, Scrape, Snapshot, render
from proxy.metrics.families import Metrics

__all__ = ["CONTENT_TYPE", "Metrics", "Scrape", "Snapshot", "render"]
