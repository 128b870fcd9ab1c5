"""The `tracing:` section of drawbridge.yaml: OpenTelemetry traces of MCP messages over OTLP/HTTP (off by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from proxy.admin.config import SecretRef

HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")]


class TracingConfig(BaseModel):
    """One SERVER span per agent message and one CLIENT span per upstream call, batched to a collector.

    Sampling is parent-based: an incoming `traceparent` decides; a new trace is kept with `sample_ratio`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    endpoint: str = Field(default="http://127.0.0.1:4318/v1/traces", pattern=r"^https?://\S+$")
    headers: dict[HeaderName, SecretRef] = Field(default_factory=dict)  # e.g. the collector's API key
    ca_file: Path | None = None  # trust anchors for an https endpoint (default: the system's)
    service_name: str = Field(default="drawbridge", min_length=1, max_length=128)
    sample_ratio: float = Field(default=1.0, ge=0, le=1)  # of new traces (parentbased_traceidratio)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)  # one export
    queue_size: int = Field(default=2048, ge=1, le=1_000_000)  # ended spans waiting; beyond, spans are dropped
    batch_size: int = Field(default=512, ge=1, le=10_000)
    linger_seconds: float = Field(default=2.0, gt=0, le=60)  # export at least this often
    close_timeout_seconds: float = Field(default=5.0, gt=0, le=300)  # flushing the tail at shutdown

    @model_validator(mode="after")
    def _batch_fits_queue(self) -> TracingConfig:
        if self.batch_size > self.queue_size:
            raise ValueError("batch_size must not exceed queue_size")
        return self
