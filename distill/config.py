"""params.yaml: load, validate against workflows/schema/params.schema.json, and select a profile.

Every hyperparameter lives in params.yaml; `profile` names the active one of `profiles` (smoke, mini, paper).
Validation errors name the offending key and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS = Path("params.yaml")
SCHEMA_RELATIVE = Path("workflows") / "schema" / "params.schema.json"


class ConfigError(ValueError):
    """params.yaml is missing, unreadable or invalid."""


def schema_path(params_path: str | Path) -> Path:
    """The schema lives in the project's workflows/schema/, next to the params file."""
    return Path(params_path).resolve().parent / SCHEMA_RELATIVE


def load_schema(params_path: str | Path) -> dict[str, Any]:
    path = schema_path(params_path)
    if not path.is_file():
        raise ConfigError(f"schema {path} not found: params.yaml must sit at the project root beside workflows/")
    return json.loads(path.read_text())


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def validate(params: Mapping[str, Any], schema: Mapping[str, Any], source: str = "params.yaml") -> None:
    """Raise ConfigError listing every violation as 'key.path: problem'."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = []
        for e in errors:
            msg = e.message
            if e.validator == "additionalProperties":
                msg = f"unknown key(s): {msg.split('(')[-1].rstrip(')')}" if "(" in msg else msg
            lines.append(f"  - {_where(e.absolute_path)}: {msg}")
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines) + "\nFix these keys (the schema "
                          f"{SCHEMA_RELATIVE} documents each one).")


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file {path} not found; run from the project root or pass --params")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    validate(params, load_schema(path), str(path))
    return params


def select_profile(params: Mapping[str, Any], profile: str | None = None) -> dict[str, Any]:
    """The settings of `profile` (default: params['profile']), with its name under 'profile'."""
    name = profile or params["profile"]
    if name not in params["profiles"]:
        raise ConfigError(f"profile {name!r} is not defined in params.yaml; defined: {sorted(params['profiles'])}")
    return {"profile": name, **params["profiles"][name]}


def load_profile(path: str | Path = DEFAULT_PARAMS, profile: str | None = None) -> dict[str, Any]:
    return select_profile(load_params(path), profile)
