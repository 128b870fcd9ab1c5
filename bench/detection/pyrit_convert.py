"""Run every PyRIT text converter that works offline over our attack sentences (run by a Python that has
`pyrit` installed; see `src_pyrit_converters`).

    python pyrit_convert.py SENTENCES.json OUT.jsonl

Each converter of `pyrit.converter` is built with its defaults; one that needs a model or a target, or
that does not turn text into text, fails to build or to convert and is left out. One JSON line per
(converter, sentence): {"converter": name, "sentence": index, "text": output}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path


async def _convert(converter: object, text: str) -> str | None:
    try:
        result = await asyncio.wait_for(converter.convert_async(prompt=text, input_type="text"), 10)  # type: ignore[attr-defined]
    except Exception:
        return None
    output = getattr(result, "output_text", None)
    kind = getattr(result, "output_type", "text")
    return output if isinstance(output, str) and kind == "text" else None


async def convert_all(sentences: list[str]) -> list[dict[str, object]]:
    import pyrit.converter as converters

    rows: list[dict[str, object]] = []
    for name in sorted(getattr(converters, "__all__", dir(converters))):
        if not name.endswith("Converter"):
            continue
        try:
            cls = getattr(converters, name)  # imported on first use: media converters need more packages
        except Exception:  # noqa: S112
            continue
        if not isinstance(cls, type):
            continue
        try:
            converter = cls()
        except Exception:  # noqa: S112 - needs arguments (a model, a target, a key)
            continue
        for index, sentence in enumerate(sentences):
            output = await _convert(converter, sentence)
            if output is None:
                break
            rows.append({"converter": name, "sentence": index, "text": output})
    return rows


def main(sentences_path: str, out_path: str) -> None:
    sentences = json.loads(Path(sentences_path).read_text(encoding="utf-8"))
    rows = asyncio.run(convert_all(sentences))
    Path(out_path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
