"""`admin.metrics_listen` is checked at load like every listen address."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from proxy.admin.config import AdminConfig


def test_a_bad_metrics_listen_address_is_refused_at_load() -> None:
    assert AdminConfig(metrics_listen="0.0.0.0:9464").metrics_listen == "0.0.0.0:9464"
    with pytest.raises(ValidationError, match="metrics_listen address must be HOST:PORT"):
        AdminConfig(metrics_listen="9464")
