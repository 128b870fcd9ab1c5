"""JSON Schemas (draft 2020-12) of `drawbridge.yaml`, of policy files and of policy test files.

They are generated from the pydantic models that load those files (`proxy.config.Config`,
`proxy.policy.model.PolicyFile`, `proxy.policy.model.PolicyTestFile`) and committed beside this module
(`proxy/schema/*.schema.json`), so they ship in the package and are in the repository once. An editor
with the YAML language server picks one up from a first-line comment:

    # yaml-language-server: $schema=../../proxy/schema/config.schema.json

`python -m proxy.schema` writes the files again after a model changed; `--check` exits 1 when they are
stale (tests/test_schema.py does the same).

What a schema cannot say is left to the loader rather than imitated: validators written in Python
(exactly one of `env` or `file`, unique upstream names, URL and listen-address forms, one test per
argument condition, ...) are named in a `$comment` where they apply, and files the config refers to are
read by `drawbridge config check`, not by the schema. A validator that runs *before* the model and so
widens what a field accepts (a single glob for a list of globs, an action name for `{action: …}`) must
be described here (`INPUT_FORMS`) or declare `json_schema_input_type`: generation stops on one that
does neither, since the schema would otherwise refuse what the loader accepts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from proxy.config import Config
from proxy.content.settings import Action
from proxy.policy.model import PolicyFile, PolicyTestFile

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://drawbridge.dev/schema/"
FOLDER = Path(__file__).parent
REGENERATE = "python -m proxy.schema"


@dataclass(frozen=True, slots=True)
class SchemaSpec:
    """One published schema: the model it is generated from, and how it presents itself."""

    name: str  # file stem: NAME.schema.json
    model: type[BaseModel]
    title: str
    description: str

    @property
    def filename(self) -> str:
        return f"{self.name}.schema.json"

    @property
    def id(self) -> str:
        return f"{ID_BASE}{self.name}.json"


SCHEMAS: dict[str, SchemaSpec] = {spec.name: spec for spec in (
    SchemaSpec("config", Config, "Drawbridge configuration (drawbridge.yaml)",
               "The static configuration of the Drawbridge proxy; changes need a restart. Unknown keys are "
               "errors. Checks written in Python (named in $comment where they apply) and the files the "
               "configuration refers to (policy directory, pins lock files, secret files, JWKS and CA files) "
               "are checked by `drawbridge config check FILE`. Generated from proxy.config.Config by "
               f"`{REGENERATE}`: do not edit."),
    SchemaSpec("policy", PolicyFile, "Drawbridge policy file",
               "One YAML file of a Drawbridge policy directory (every *.yaml except *.test.yaml). Unknown keys "
               "are errors. Checks across the set (unique rule ids, settings in at most one file, regexes "
               "that compile) and those written in Python (named in $comment) are made by "
               "`drawbridge policy check DIR`. Generated from proxy.policy.model.PolicyFile by "
               f"`{REGENERATE}`: do not edit."),
    SchemaSpec("policy-test", PolicyTestFile, "Drawbridge policy test file (*.test.yaml)",
               "Cases run through the full pipeline by `drawbridge policy test DIR`. Unknown keys are errors. "
               "Generated from proxy.policy.model.PolicyTestFile by "
               f"`{REGENERATE}`: do not edit."),
)}


# --- validators that run before the model -----------------------------------------------------------

def _also_string(inner: JsonSchemaValue) -> JsonSchemaValue:
    """A bare string stands for a list of one."""
    alternatives = inner["anyOf"] if set(inner) == {"anyOf"} else [inner]
    return {"anyOf": [{"type": "string"}, *alternatives]}


def _action_shorthand(inner: JsonSchemaValue) -> JsonSchemaValue:
    """`surfaces.SURFACE.FAMILY` may be an action name instead of `{action: NAME}`."""
    families = inner["additionalProperties"]
    setting = families["additionalProperties"]
    return {**inner, "additionalProperties": {**families, "additionalProperties": {
        "anyOf": [setting, {"type": "string", "enum": list(get_args(Action))}]}}}


def _unchanged(inner: JsonSchemaValue) -> JsonSchemaValue:
    """The validator only refuses (with a clearer message); it accepts nothing more than the model."""
    return inner


#: Every before/wrap validator of the published models (module:qualname) → what it does to the input schema.
INPUT_FORMS: dict[str, Callable[[JsonSchemaValue], JsonSchemaValue]] = {
    "proxy.policy.model:Rule._one_glob_is_a_list": _also_string,
    "proxy.policy.model:AutoContainmentRule._one_glob_is_a_list": _also_string,
    "proxy.policy.model:ApprovalSettings._one_glob_is_a_list": _also_string,
    "proxy.content.settings:ContentSettings._shorthand": _action_shorthand,
    "proxy.detections.settings:DetectionSettings._pairs": _unchanged,
}


class SchemaError(Exception):
    """A model does something the generator does not know how to describe."""


def _function_name(schema: Any) -> str:
    func = schema["function"]["function"]
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"


def _ours(name: str) -> bool:
    """A validator of the models (pydantic's own, e.g. for Path, are described by pydantic)."""
    return not name.startswith(("pydantic.", "pydantic_core."))


class _Generator(GenerateJsonSchema):
    """pydantic's generator, told what Drawbridge's own validators accept and check."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        return self._widened(schema, super().function_before_schema(schema))

    def function_wrap_schema(self, schema: core_schema.WrapValidatorFunctionSchema) -> JsonSchemaValue:
        return self._widened(schema, super().function_wrap_schema(schema))

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        json_schema = super().function_after_schema(schema)
        name = _function_name(schema)
        if not _ours(name):
            return json_schema
        func = schema["function"]["function"]
        doc = (getattr(func, "__doc__", None) or "").strip().splitlines()
        what = name.split(":", 1)[1] + (f" ({doc[0].rstrip('.')})" if doc else "")
        earlier = json_schema.get("$comment")
        note = f"the loader also runs (beyond this schema): {what}"
        return {**json_schema, "$comment": f"{earlier}; {what}" if earlier else note}

    def _widened(self, schema: Any, inner: JsonSchemaValue) -> JsonSchemaValue:
        name = _function_name(schema)
        if not _ours(name) or (self.mode == "validation" and schema.get("json_schema_input_schema")):
            return inner
        try:
            form = INPUT_FORMS[name]
        except KeyError:
            raise SchemaError(f"{name} runs before validation and may accept input the schema would refuse: "
                              "describe it in proxy.schema.INPUT_FORMS or give the validator "
                              "json_schema_input_type=...") from None
        return form(inner)


# --- generation and the committed files ---------------------------------------------------------------

def generate(name: str) -> dict[str, Any]:
    """The schema `name` (a key of SCHEMAS) as the models describe it now."""
    spec = SCHEMAS[name]
    body = spec.model.model_json_schema(by_alias=True, mode="validation", schema_generator=_Generator)
    for key in ("title", "description"):
        body.pop(key, None)
    return {"$schema": DIALECT, "$id": spec.id, "title": spec.title, "description": spec.description, **body}


def render(name: str) -> str:
    """The text of the schema file: two-space JSON, keys in model order, a final newline."""
    return json.dumps(generate(name), indent=2, ensure_ascii=False) + "\n"


def schema_file(name: str) -> Path:
    """Where the committed schema lives in this checkout (or installation)."""
    return FOLDER / SCHEMAS[name].filename


def load(name: str) -> dict[str, Any]:
    """The committed (shipped) schema `name`."""
    text = (files("proxy.schema") / SCHEMAS[name].filename).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def stale() -> list[str]:
    """Names of the committed schemas that differ from what the models generate now."""
    out = []
    for name in SCHEMAS:
        path = schema_file(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            out.append(name)
    return out


def write_all() -> list[Path]:
    """(Re)write every schema file; returns the files that changed."""
    changed = []
    for name in SCHEMAS:
        path, text = schema_file(name), render(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
