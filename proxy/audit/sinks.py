"""Build the Auditor's sinks from `audit:` in the configuration.

`audit.file`, `audit.stdout` and `audit.otlp` are shorthands for entries of `audit.sinks` (the first two
take `audit.mode`; OTLP stays best effort, as it always was). With no file or stdout sink configured,
events go to stdout (stderr when stdout carries the protocol), so they are never written nowhere.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from proxy.audit.auditor import FdSink, Outlet, Sink
from proxy.audit.chain import Chain
from proxy.audit.delivery import QueuedSink, Transport
from proxy.audit.filesink import FileSink
from proxy.audit.formats import formatter
from proxy.config import (
    AuditConfig,
    AuditSinkConfig,
    FileSinkConfig,
    HecSinkConfig,
    OtlpSinkConfig,
    StdoutSinkConfig,
    SyslogSinkConfig,
)
from proxy.errors import ConfigError


def sink_configs(audit: AuditConfig) -> list[AuditSinkConfig]:
    """`audit.sinks` with the shorthands added, and a stdout sink when nothing local is configured."""
    entries: list[AuditSinkConfig] = []
    if audit.file is not None:
        entries.append(FileSinkConfig(type="file", path=audit.file, fsync=audit.fsync))
    if audit.otlp is not None:
        otlp = audit.otlp
        entries.append(OtlpSinkConfig(type="otlp", mode="best_effort", endpoint=otlp.endpoint, headers=otlp.headers,
                                      service_name=otlp.service_name, timeout_seconds=otlp.timeout_seconds))
    entries.extend(audit.sinks)
    if audit.stdout or not any(isinstance(e, FileSinkConfig | StdoutSinkConfig) for e in entries):
        entries.append(StdoutSinkConfig(type="stdout"))
    return entries


def sink_name(entry: AuditSinkConfig) -> str:
    if entry.name is not None:
        return entry.name
    if isinstance(entry, FileSinkConfig):
        return f"file:{entry.path}"
    if isinstance(entry, SyslogSinkConfig):
        return f"syslog:{entry.host}:{entry.port}"
    if isinstance(entry, HecSinkConfig | OtlpSinkConfig):
        return f"{entry.type}:{urlsplit(entry.url if isinstance(entry, HecSinkConfig) else entry.endpoint).netloc}"
    return entry.type


def build_outlets(audit: AuditConfig, *, stdout_is_protocol: bool, host: str, replica_id: str) -> list[Outlet]:
    """Open every sink (files are created, network threads started). Raises ConfigError or OSError."""
    key = audit.chain_key.resolve("audit.chain_key").encode() if audit.chain_key is not None else None
    stamp = {"host": host, "replica_id": replica_id}
    outlets: list[Outlet] = []
    try:
        for entry in sink_configs(audit):
            name = sink_name(entry)
            if any(o.name == name for o in outlets):
                raise ConfigError(f"audit sinks: two sinks are named {name!r}; give one of them a name")
            outlets.append(Outlet(name, _open(entry, name, key, audit.checkpoint_every, stamp, stdout_is_protocol),
                                  required=(entry.mode or audit.mode) == "required"))
    except BaseException:
        for outlet in outlets:
            outlet.sink.close()
        raise
    return outlets


def _open(entry: AuditSinkConfig, name: str, key: bytes | None, every: int, stamp: dict[str, str],
          stdout_is_protocol: bool) -> Sink:
    fmt = formatter(entry.format)
    if isinstance(entry, FileSinkConfig):
        try:
            return FileSink.open(entry.path, key=key, every=every, stamp=stamp, fsync=entry.fsync,
                                 max_bytes=entry.max_bytes, max_age_seconds=entry.max_age_seconds, fmt=fmt)
        except OSError as exc:
            raise ConfigError(f"cannot open the audit file {entry.path}: {exc.strerror or exc}") from None
    if isinstance(entry, StdoutSinkConfig):
        stream = sys.stderr if stdout_is_protocol else sys.stdout
        return FileSink(FdSink(stream.fileno(), owned=False), Chain(key=key, every=every, stamp=stamp), fmt=fmt)
    try:
        transport = _transport(entry, name)
    except OSError as exc:  # a CA file that cannot be read
        raise ConfigError(f"audit sink {name}: {exc.strerror or exc}") from None
    return QueuedSink(name, transport, fmt=fmt, capacity=entry.queue_size, batch_size=entry.batch_size,
                      linger=entry.linger_seconds, close_timeout=entry.close_timeout_seconds)


def _transport(entry: OtlpSinkConfig | SyslogSinkConfig | HecSinkConfig, name: str) -> Transport:
    transport: Transport
    if isinstance(entry, SyslogSinkConfig):
        from proxy.audit.syslog import SyslogTransport

        transport = SyslogTransport(entry.host, entry.port, tls=entry.tls, ca_file=entry.ca_file,
                                    server_name=entry.server_name, facility=entry.facility, app_name=entry.app_name,
                                    sd_id=entry.sd_id, timeout=entry.timeout_seconds)
    elif isinstance(entry, HecSinkConfig):
        from proxy.audit.hec import HecTransport

        transport = HecTransport(entry.url, entry.token.resolve(f"audit.sinks[{name}].token"), source=entry.source,
                                 sourcetype=entry.sourcetype, index=entry.index, ca_file=entry.ca_file,
                                 timeout=entry.timeout_seconds)
    else:
        from proxy.audit.otel import OtlpTransport

        headers = {k: v.resolve(f"audit.otlp.headers.{k}") for k, v in entry.headers.items()}
        transport = OtlpTransport(entry.endpoint, headers, entry.service_name, entry.timeout_seconds)
    return transport
