"""params.yaml: load, validate against workflows/schema/params.schema.json, and select a profile.

Every hyperparameter lives in params.yaml; `profile` names the active one of `profiles` (smoke, mini, paper).
Validation errors name the offending key and what was expected.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from distill.core.samplers import SAMPLERS
from distill.data.artifacts import CAPTION_METHODS, INCEPTION_EXTRACTOR
from distill.errors import ConfigError  # raised here; a leaf module, so core/ and commands/ need not import this one
from distill.experiment_views import method_sections
from distill.registry import REGISTERED, active, load_registrations

DEFAULT_PARAMS = Path("params.yaml")
SCHEMA_RELATIVE = Path("workflows") / "schema" / "params.schema.json"


def schema_path(params_path: str | Path) -> Path:
    """The schema lives in the project's workflows/schema/, next to the params file."""
    return Path(params_path).resolve().parent / SCHEMA_RELATIVE


def load_schema(params_path: str | Path) -> dict[str, Any]:
    """The params schema with every registered method's section schema (workflows/schema/methods/<name>.json) added
    as an optional key of a profile: a profile without the section does not run the method."""
    path = schema_path(params_path)
    if not path.is_file():
        raise ConfigError(f"schema {path} not found: params.yaml must sit at the project root beside workflows/")
    schema = json.loads(path.read_text())
    for name in REGISTERED:
        part_path = path.parent / "methods" / f"{name}.json"
        if not part_path.is_file():
            raise ConfigError(f"method {name!r} is registered but its schema {part_path} is missing")
        part = json.loads(part_path.read_text())
        schema["$defs"].update(part.pop("$defs", {}))
        schema["$defs"]["profile"]["properties"][name] = part

    load_registrations()  # a method's own samplers (its card's `registers`) are valid sampler names too
    samplers = schema["$defs"]["sampler"]["enum"]
    samplers += [name for name in SAMPLERS if name not in samplers]
    return schema


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def validate(params: Mapping[str, Any], schema: Mapping[str, Any], source: str = "params.yaml") -> None:
    """Raise ConfigError listing every violation as 'key.path: problem'."""
    validator = _validator_class()(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    bad_numbers = list(non_finite(params))
    if errors or bad_numbers:
        lines = [f"  - {_where(path)}: {value} is not a finite number (NaN and infinities are never a setting)"
                 for path, value in bad_numbers]
        for e in errors:
            msg = e.message
            if e.validator == "pattern" and list(e.absolute_path) == ["profiles"]:
                msg = (f"profile name {e.instance!r}: use letters, digits, _ and - (starting with a letter); the name "
                       "is part of paths and of every job's shell command")
            if e.validator == "additionalProperties":
                msg = f"unknown key(s): {msg.split('(')[-1].rstrip(')')}" if "(" in msg else msg
            lines.append(f"  - {_where(e.absolute_path)}: {msg}")
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines) + "\nFix these keys (the schema "
                          f"{SCHEMA_RELATIVE} documents each one).")


def _validator_class():
    """Draft 2020-12, where an integer is an int: JSON Schema counts 64.0 as an integer, but a count written as a
    float (`pairs: 64.0`) is a typo that would reach range() and fail far from params.yaml."""
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool))
    return jsonschema.validators.extend(base, type_checker=checker)


def non_finite(value: Any, path: tuple = ()):
    """(key path, value) of every NaN or infinite number in a loaded YAML tree (`x < low` is false for NaN, so range
    checks alone let it through)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from non_finite(v, (*path, k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from non_finite(v, (*path, i))


def profile_problems(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Checks across keys that the schema cannot express, on one profile (shared ones here, each method's on its
    card): (key path under the profile, problem) pairs."""
    out = []
    ev = cfg["evaluation"]
    if ev["kid_subset_size"] > ev["num_samples"]:  # KID draws subsets of one seed range's images
        out.append(("evaluation.kid_subset_size", f"{ev['kid_subset_size']} exceeds evaluation.num_samples "
                                                  f"({ev['num_samples']}), the images of one seed range"))
    for key in ("pr_neighborhood", "prdc_nearest_k"):  # k nearest neighbours among one seed range's images
        if ev[key] >= ev["num_samples"]:
            out.append((f"evaluation.{key}", f"{ev[key]} must be smaller than evaluation.num_samples "
                                             f"({ev['num_samples']}), the images of one seed range"))
    if (cfg["teacher"].get("label_dropout") or 0) > 0 and not (cfg["network"].get("null_label")
                                                               and cfg["data"].get("conditional")):
        out.append(("teacher.label_dropout", "label dropout trains the unconditional model on a null label: it needs "
                                             "network.null_label: true and class-conditional data (data.conditional)"))
    if cfg["precision"] == "bf16" and cfg["device"] == "cpu":
        out.append(("precision", "bf16 autocast is for CUDA; a CPU profile trains in fp32"))
    out += cluster_problems(cfg)
    for method in active(cfg):
        out += method.check(cfg) if method.check else []
    return out + text_to_image_problems(cfg)


TEXT_EXTRACTOR = INCEPTION_EXTRACTOR  # the extractor of the text-to-image FID statistics (metrics/text_fid.py)


def text_to_image_problems(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The text_to_image section's checks across keys: the Inception as the profile's extractor (the statistics'
    own), each method section's teacher the experiment's, DisBack's one experiment named as this one, and each
    method's own checks on the profile as the experiment sees it."""
    t = cfg.get("text_to_image")
    if not t:
        return []
    out = []
    if cfg["evaluation"]["feature_extractor"] != TEXT_EXTRACTOR:
        out.append(("evaluation.feature_extractor", f"text_to_image's FID compares with statistics of the "
                                                    f"{TEXT_EXTRACTOR} extractor: set it (and its weights file)"))
    for name, exp in t["experiments"].items():
        where = f"text_to_image.experiments.{name}"
        if exp.get("sfd") and exp["sfd"]["teacher"] != exp["teacher"]:
            out.append((f"{where}.sfd.teacher", f"{exp['sfd']['teacher']} is not the experiment's teacher "
                                                f"{exp['teacher']}"))
        if exp.get("disback"):
            inner = exp["disback"]["experiments"]
            if list(inner) != [name] or inner[name]["teacher"] != exp["teacher"]:
                found = {k: e.get("teacher") for k, e in inner.items()}
                out.append((f"{where}.disback", f"one experiment, named {name!r}, distilling {exp['teacher']} "
                                                f"(found {found})"))
                continue
        drawn = [m for m in CAPTION_METHODS if exp.get(m)]
        if drawn and not t.get("captions"):
            out.append(("text_to_image.captions", f"{where} runs {' and '.join(drawn)}, which train on an image-"
                                                  "caption set: name it (coco_train2014)"))
        if exp.get("pd"):
            inner = exp["pd"]["experiments"].get(name)
            made = [inner["teacher_steps"] >> k for k in range(1, inner["teacher_steps"].bit_length())] if inner else []
            bad = [n for n in exp.get("pd_steps") or [] if n not in made]
            if not exp.get("pd_steps") or bad:
                out.append((f"{where}.pd_steps", f"the PD students the table evaluates: step counts the rounds make "
                                                 f"({made}){'; not made: ' + str(bad) if bad else ''}"))
        for m in drawn:
            inner = exp[m]["experiments"]
            if name not in inner:  # (beside its training-seed copies, spread_seeds)
                out.append((f"{where}.{m}.experiments", f"an experiment named {name!r} (found {list(inner)})"))
                continue
            own = [k for k in ("data", "network", "teacher_training") if inner[name].get(k) is not None]
            if own:
                out.append((f"{where}.{m}.experiments.{name}",
                            f"{', '.join(own)} must be null: the teacher is the experiment's diffusers pipeline, its "
                            "data the captions"))
            if m == "cd" and inner[name]["teacher"] != exp["teacher"]:
                out.append((f"{where}.cd.experiments.{name}.teacher", f"{inner[name]['teacher']} is not the "
                                                                      f"experiment's teacher {exp['teacher']}"))
            if inner[name]["train"]["random_flip"] or inner[name]["train"]["dropout"]:
                out.append((f"{where}.{m}.experiments.{name}.train", "random_flip false and dropout 0: the latents "
                                                                     "are encoded already, the UNet keeps its own "
                                                                     "dropout"))
        view = {**cfg, **method_sections(cfg, "text_to_image", name)}
        for method in active(view):
            if method.check and method.name in exp:
                out += [(f"{where}.{key}", problem) for key, problem in method.check(view)
                        if key.split(".")[0] == method.name]
    return out


def cluster_problems(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """GPUs asked for where the profile runs (none on a CPU profile, at least one per network job on a CUDA one),
    and a teacher batch that splits over them."""
    out = []
    for kind, want in cfg["cluster"].items():
        gpus = want.get("gpus")
        if gpus is None:
            continue
        if cfg["device"] == "cpu" and gpus > 0:
            out.append((f"cluster.{kind}.gpus", f"{gpus} GPUs asked for by a profile whose device is cpu; set 0, or "
                                                "set device: cuda"))
        if cfg["device"] == "cuda" and gpus < 1:
            out.append((f"cluster.{kind}.gpus", "0 GPUs for a network job of a profile whose device is cuda; set 1 "
                                                "or more"))
    gpus = cfg["cluster"]["teacher"]["gpus"]
    if gpus > 1 and cfg["teacher"]["batch_size"] % gpus:
        out.append(("teacher.batch_size", f"{cfg['teacher']['batch_size']} does not split over the "
                                          f"{gpus} GPUs of cluster.teacher.gpus; set a multiple of {gpus}"))
    return out


def check_semantics(params: Mapping[str, Any], source: str = "params.yaml") -> None:
    """Raise ConfigError listing every cross-key problem of every profile as 'profiles.<name>.key.path: problem'."""
    lines = [f"  - profiles.{name}.{key}: {problem}" for name, cfg in params["profiles"].items()
             for key, problem in profile_problems(cfg)]
    if lines:
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines))


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key written twice in one mapping is an error: PyYAML keeps the last one silently,
    so a setting edited in one place and left in another would be ambiguous."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice in one mapping (lines {seen[key] + 1} and "
                                f"{key_node.start_mark.line + 1}); keep one", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file {path} not found; run from the project root or pass --params")
    try:
        params = yaml.load(path.read_text(), Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    validate(params, load_schema(path), str(path))
    check_semantics(params, str(path))
    return params


def select_profile(params: Mapping[str, Any], profile: str | None = None) -> dict[str, Any]:
    """The settings of `profile` (default: params['profile']), with its name under 'profile'."""
    name = profile or params["profile"]
    if name not in params["profiles"]:
        raise ConfigError(f"profile {name!r} is not defined in params.yaml; defined: {sorted(params['profiles'])}")
    return {"profile": name, **params["profiles"][name]}


def load_profile(path: str | Path = DEFAULT_PARAMS, profile: str | None = None) -> dict[str, Any]:
    return select_profile(load_params(path), profile)
