"""The published JSON Schemas: generated from the models, committed, and true to every example in the repo."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError, field_validator

from proxy.config import Config
from proxy.policy.model import PolicyFile, PolicyTestFile
from proxy.schema import DIALECT, REGENERATE, SCHEMAS, SchemaError, _Generator, load, render, schema_file, stale
from proxy.schema.__main__ import main as schema_main
from tests.support.examples import ROOT, Example, examples

MODELS: dict[str, type[BaseModel]] = {"config": Config, "policy": PolicyFile, "policy-test": PolicyTestFile}
EXAMPLES = examples()


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load(name))


def errors(name: str, data: Any) -> list[str]:
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in validator(name).iter_errors(data)]


# --- generated, committed, shipped ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_is_what_the_models_generate(name: str) -> None:
    path = schema_file(name)
    assert path.is_file(), f"{path} is missing: run `{REGENERATE}` to regenerate"
    assert path.read_text(encoding="utf-8") == render(name), \
        f"{path} differs from the models: run `{REGENERATE}` to regenerate, and commit it"


def test_generator_check_mode_agrees() -> None:
    assert stale() == []
    assert schema_main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_a_valid_2020_12_schema_with_an_identity(name: str) -> None:
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == f"https://drawbridge.dev/schema/{name}.json"
    assert schema["title"] and schema["description"]
    assert schema["additionalProperties"] is False  # unknown top-level keys are refused, as by the model


def test_schemas_are_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["proxy"]
    for name in SCHEMAS:
        relative = schema_file(name).relative_to(ROOT / "proxy").as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not in package-data"


# --- every example fits its schema (and its model) ---------------------------------------------------

def test_examples_are_found() -> None:
    kinds = [e.kind for e in EXAMPLES]
    assert kinds.count("config") >= 3  # the image's config, the Kubernetes overlays' and the compose stack's
    assert kinds.count("policy") >= 6 and kinds.count("policy-test") >= 3
    configs = {e.path.relative_to(ROOT).as_posix() for e in EXAMPLES if e.kind == "config"}
    assert {"deploy/docker/drawbridge.yaml", "deploy/compose/drawbridge.yaml",
            "deploy/kubernetes/base/drawbridge.yaml"} <= configs


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.kind}:{e.id}")
def test_example_fits_its_schema(example: Example) -> None:
    data = example.data()
    assert errors(example.kind, {} if data is None else data) == []
    MODELS[example.kind].model_validate({} if data is None else data)  # the model agrees


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.modeline()], ids=lambda e: e.id)
def test_modeline_names_the_shipped_schema(example: Example) -> None:
    target = (example.path.parent / str(example.modeline())).resolve()
    expected = schema_file(example.kind).resolve()
    assert target == expected, f"{example.id}: $schema should name {expected}"


# --- what the schema refuses and accepts, as the loader does --------------------------------------

RULE = {"id": "r", "effect": "permit", "methods": ["tools/call"]}


@pytest.mark.parametrize(("name", "data", "fragment"), [
    ("config", {"listn": "127.0.0.1:8080"}, "'listn' was unexpected"),
    ("config", {"limits": {"max_dept": 3}}, "'max_dept' was unexpected"),
    ("config", {"audit": {"sinks": [{"type": "file", "path": "a", "fsnyc": True}]}}, "is not valid under any"),
    ("config", {"limits": {"max_depth": "deep"}}, "'deep' is not of type 'integer'"),
    ("config", {"log_level": "verbose"}, "'verbose' is not one of"),
    ("config", {"upstreams": [{"name": "Bad Name", "url": "http://a/mcp"}]}, "does not match"),
    ("config", {"upstreams": "http://a/mcp"}, "is not of type 'array'"),
    ("policy", {"rules": [{**RULE, "nmaes": ["x"]}]}, "'nmaes' was unexpected"),
    ("policy", {"rules": [{**RULE, "effect": "allow"}]}, "'allow' is not one of"),
    ("policy", {"version": 2}, "1 was expected"),
    ("policy", {"rules": [{**RULE, "arguments": [{"path": "q", "one_of": [1]}]}]}, "'one_of' was unexpected"),
    ("policy-test", {"cases": []}, "should be non-empty"),
])
def test_schema_refuses_what_the_model_refuses(name: str, data: Any, fragment: str) -> None:
    found = errors(name, data)
    assert any(fragment in line for line in found), found
    with pytest.raises(ValidationError):
        MODELS[name].model_validate(data)


@pytest.mark.parametrize(("name", "data"), [
    ("policy", {"rules": [{**RULE, "methods": "tools/call", "names": "search", "principals": "team-*"}]}),
    ("policy", {"rules": [{**RULE, "arguments": [{"path": "q", "in": ["a", "b"]}]}]}),
    ("policy", {"settings": {"content": {"surfaces": {"tool_result": {"injection": "block",
                                                                      "secrets": {"action": "redact"}}}}}}),
    ("policy", {"settings": {"auto_containment": [{"id": "a", "detectors": "secrets.*"}]}}),
    ("config", {"workers": "auto", "policy_reload": {"interval_seconds": 2}}),
    ("config", {"audit": {"sinks": [{"type": "syslog", "host": "siem", "tls": True}]}}),
])
def test_schema_accepts_the_loaders_shorthands(name: str, data: Any) -> None:
    assert errors(name, data) == []
    MODELS[name].model_validate(data)


def test_python_only_checks_are_named_not_imitated() -> None:
    """`give exactly one of env, file` is the model's: the schema names the validator in a $comment."""
    secret = load("config")["$defs"]["SecretSource"]
    assert "SecretSource._one_source" in secret["$comment"]
    assert errors("config", {"upstreams": [{"url": "http://a/mcp", "headers": {"A": {}}}]}) == []
    with pytest.raises(ValidationError, match="exactly one of env, file"):
        Config.model_validate({"upstreams": [{"url": "http://a/mcp", "headers": {"A": {}}}]})


def test_an_undescribed_before_validator_stops_generation() -> None:
    class Widened(BaseModel):
        tags: tuple[str, ...] = ()

        @field_validator("tags", mode="before")
        @classmethod
        def _split(cls, value: Any) -> Any:
            return value.split(",") if isinstance(value, str) else value

    with pytest.raises(SchemaError, match="_split runs before validation"):
        Widened.model_json_schema(schema_generator=_Generator)


def test_before_validator_with_declared_input_type_is_fine() -> None:
    class Declared(BaseModel):
        tags: tuple[str, ...] = ()

        @field_validator("tags", mode="before", json_schema_input_type=str | list[str])
        @classmethod
        def _split(cls, value: Any) -> Any:
            return value.split(",") if isinstance(value, str) else value

    schema = Declared.model_json_schema(schema_generator=_Generator)
    assert {"type": "string"} in schema["properties"]["tags"]["anyOf"]


def test_shipped_file_is_the_one_in_the_repository() -> None:
    """One copy: the package's file is the repository's (modelines point into proxy/schema/)."""
    assert not (ROOT / "schema").exists() or not any((ROOT / "schema").glob("*.schema.json"))
    assert schema_file("config") == Path(__file__).resolve().parents[1] / "proxy" / "schema" / "config.schema.json"
