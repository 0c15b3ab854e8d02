"""One name for each sampler, time grid, parameterization, weighting and method, everywhere it appears: the CLI's
choices, the params schema's enums, the Snakemake wildcard constraints, the report labels and dvc.yaml all agree
with the registries they are read from."""

import argparse
import json
import re

from conftest import ROOT

from distill.cli import build_parser
from distill.config import load_params, load_schema, select_profile
from distill.core.grids import GRIDS
from distill.core.parameterization import PARAMETERIZATIONS
from distill.core.samplers import SAMPLERS
from distill.core.weighting import WEIGHTINGS
from distill.registry import REGISTERED, active, methods
from distill.reports.labels import LABELS
from distill.workflow import dvc


def _subcommands(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def _choices(parser, command, option):
    sub = _subcommands(parser)[command]
    return set(next(a for a in sub._actions if option in a.option_strings).choices)


def test_cli_choices_come_from_the_registries():
    parser = build_parser()
    assert _choices(parser, "sample", "--sampler") == set(SAMPLERS)
    assert _choices(parser, "sample", "--grid") == set(GRIDS)
    assert _choices(parser, "train-teacher", "--parameterization") == set(PARAMETERIZATIONS)
    assert _choices(parser, "train-teacher", "--weighting") == set(WEIGHTINGS)


def test_schema_enums_agree_with_the_registries():
    defs = load_schema(ROOT / "params.yaml")["$defs"]
    assert set(defs["sampler"]["enum"]) == set(SAMPLERS)
    assert set(defs["grid"]["enum"]) == set(GRIDS)
    assert set(defs["parameterization"]["enum"]) == set(PARAMETERIZATIONS)
    assert set(defs["weighting"]["enum"]) == set(WEIGHTINGS)
    text = "".join(p.read_text() for p in (ROOT / "workflows" / "schema").rglob("*.json"))
    for name in ("ddim", "ancestral", "snr_trunc", "eps"):  # named only through the shared definitions
        assert text.count(f'"{name}"') == 1, name


def test_snakemake_wildcards_are_read_from_the_registries():
    rules = "".join(p.read_text() for p in (ROOT / "workflows").rglob("*.smk"))
    assert not re.search(r"ddim\|ancestral|snr\|snr_trunc|both\|x\|eps", rules)
    common = (ROOT / "workflows" / "common.smk").read_text()
    assert 'SAMPLER_NAMES = "|".join(SAMPLERS)' in common


def test_every_name_has_a_label():
    for name in [*SAMPLERS, *PARAMETERIZATIONS, *WEIGHTINGS]:
        assert name in LABELS, name
    assert all(LABELS[s] == spec.label for s, spec in SAMPLERS.items())


def test_every_registered_method_has_its_files_and_its_names_agree():
    commands = set(_subcommands(build_parser()))
    for m in methods():
        assert m.name in REGISTERED
        for path in (m.rule_file, m.schema_file, f"distill/reports/{m.name}.py", f"distill/claims/{m.name}.py",
                     f"workflows/report/{m.name}.rst" if m.name != "pd" else "workflows/report/pd_fig4.rst"):
            assert (ROOT / path).is_file(), (m.name, path)
        assert any(c == m.name or c.startswith(f"{m.name}-") for c in commands), m.name
        assert m.name in json.loads((ROOT / m.schema_file).read_text())["description"]


def test_dvc_yaml_is_generated_from_the_registry():
    params = load_params(ROOT / "params.yaml")
    assert (ROOT / "dvc.yaml").read_text() == dvc.render(params), "run: distill dvc-yaml --write dvc.yaml"
    stages = dvc.stages(params)
    for profile in params["profiles"]:  # each profile: a stage per method it runs, so each keeps its own lock entry
        cfg = select_profile(params, profile)
        assert [s for s in stages if s.endswith(f"-{profile}") and s.split("-")[0] in REGISTERED] == \
            [f"{m.name}-{profile}" for m in active(cfg)]
        for m in active(cfg):
            stage = stages[f"{m.name}-{profile}"]
            assert all(p.startswith(f"profiles.{profile}.") for p in stage["params"])
            assert [list(x)[0] for x in stage.get("metrics", [])] == [f"results/{profile}/{j}" for j in m.dvc_metrics(cfg)]
    outs = [list(o)[0] for s in stages.values() for key in ("outs", "metrics", "plots") for o in s.get(key, [])]
    assert len(outs) == len(set(outs)), "two stages declare the same output (DVC refuses overlapping outputs)"
