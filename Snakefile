# distill workflow: every table and figure of the papers is a target here.
#   snakemake --cores all -- reports/table1.pdf                      # the active profile (params.yaml: profile)
#   snakemake --cores all --config profile=smoke -- reports/table1.pdf
# Hyperparameters live in params.yaml only; the only key --config may set is `profile`.
import sys
from pathlib import Path

from distill.config import ConfigError, load_params, select_profile, validate, load_schema

PARAMS_FILE = "params.yaml"
configfile: PARAMS_FILE

try:
    validate(config, load_schema(PARAMS_FILE), PARAMS_FILE + " (with --config overrides)")
    if {k: v for k, v in config.items() if k != "profile"} != {k: v for k, v in load_params(PARAMS_FILE).items() if k != "profile"}:
        raise ConfigError("--config may only set `profile`; change hyperparameters in params.yaml (one source of truth)")
    PROFILE = config["profile"]
    CFG = select_profile(config, PROFILE)
except ConfigError as exc:
    sys.exit(f"error: {exc}")


# reports/ holds the active profile's tables. This stamp changes (and only then) when the profile does, so every
# report built for another profile is older than it and is rebuilt from this profile's results.
PROFILE_STAMP = Path("results/active_profile.txt")
if not PROFILE_STAMP.exists() or PROFILE_STAMP.read_text().strip() != PROFILE:
    PROFILE_STAMP.parent.mkdir(parents=True, exist_ok=True)
    PROFILE_STAMP.write_text(PROFILE + "\n")


include: "workflows/common.smk"
include: "workflows/features.smk"
include: "workflows/teachers.smk"
include: "workflows/sampling.smk"
include: "workflows/evaluation.smk"
# One rule file per method the active profile runs (the method registry, distill/plugins: is_activated).
for _method in ACTIVE_METHODS:
    include: _method.rule_file
include: "workflows/results.smk"
include: "workflows/compare.smk"


# One target per method, named after it (`snakemake -- pd`), built from the registry; DVC's stages call these.
for _method in ACTIVE_METHODS:
    rule:
        name: _method.name
        input: _method.targets(CFG)


rule all:
    default_target: True
    input:
        final_targets(),
