"""Read YAML files with a size limit and validate them against strict models, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from proxy.errors import ConfigError

MAX_FILE_BYTES = 1024 * 1024
M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read one YAML document; errors name the file (and line for syntax errors)."""
    try:
        if path.stat().st_size > max_bytes:
            raise ConfigError(f"{path}: file exceeds {max_bytes} bytes")
        text = path.read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        detail = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ConfigError(f"{path}: cannot read ({detail})") from None


def validate_model(model: type[M], data: Any, path: Path | str) -> M:
    """Validate against a strict model; errors are short lines naming the file and field."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{path}: {loc}: {err['msg']}")
        raise ConfigError("; ".join(lines)) from None
