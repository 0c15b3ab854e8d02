# distill workflow: every table and figure of the papers is a target here.
#   snakemake --cores all -- reports/table1.pdf                      # the active profile (params.yaml: profile)
#   snakemake --cores all --config profile=smoke -- reports/table1.pdf
# Hyperparameters live in params.yaml only; the only key --config may set is `profile`.
import sys
from pathlib import Path

from distill.config import ConfigError, load_params, load_schema, select_profile, validate

PARAMS_FILE = "params.yaml"
configfile: PARAMS_FILE

try:
    _file = load_params(PARAMS_FILE)  # the file alone: schema and cross-key checks
    _changed = sorted(k for k in set(config) | set(_file) if k != "profile" and config.get(k) != _file.get(k))
    if _changed:
        raise ConfigError(f"--config may only set `profile` (it set {', '.join(_changed)}); change hyperparameters "
                          "in params.yaml (one source of truth)")
    validate(config, load_schema(PARAMS_FILE), PARAMS_FILE + " (with --config profile=...)")
    PROFILE = config["profile"]
    CFG = select_profile(config, PROFILE)
except ConfigError as exc:
    sys.exit(f"error: {exc}")


# One live run per clone (distill/workflow/lock.py; the default profile turns Snakemake's own lock off so a killed
# run leaves nothing to unlock): the main Snakemake process takes the clone's lock while it reads this file and holds
# it until it ends. A second run is refused before its first job (onstart); a dry run only reads, and is never refused.
from distill.workflow import lock as run_lock

RUN_LOCKED = True
if workflow.is_main_process:
    RUN_LOCKED, _taken_over = run_lock.acquire()
    if _taken_over:
        print(_taken_over, file=sys.stderr)

# reports/ holds the active profile's tables. This stamp changes (and only then) when the profile does, so every
# report built for another profile is older than it and is rebuilt from this profile's results.
PROFILE_STAMP = Path("results/active_profile.txt")
if RUN_LOCKED and (not PROFILE_STAMP.exists() or PROFILE_STAMP.read_text().strip() != PROFILE):
    PROFILE_STAMP.parent.mkdir(parents=True, exist_ok=True)
    PROFILE_STAMP.write_text(PROFILE + "\n")


include: "workflows/common.smk"
include: "workflows/fetch.smk"
include: "workflows/features.smk"
include: "workflows/teachers.smk"
include: "workflows/sampling.smk"
include: "workflows/evaluation.smk"
# One rule file per method the active profile runs (the method registry, distill/plugins: is_activated).
for _method in ACTIVE_METHODS:
    include: _method.rule_file
include: "workflows/text_to_image.smk"
include: "workflows/results.smk"
include: "workflows/compare.smk"
include: "workflows/benchmarks.smk"


# One target per method, named after it (`snakemake -- pd`), built from the registry; DVC's stages call these. It
# asks for the method's kept files too (KEPT), so a deleted weights or samples file is rebuilt with what used it.
for _method in ACTIVE_METHODS:
    rule:
        name: _method.name
        input: _method.targets(CFG), KEPT[_method.name]()


rule all:
    default_target: True
    input:
        final_targets(),


# Cluster resources derived from each rule's distill command (distill/workflow/resources.py): GPU rules ask for a GPU,
# light rules (reports, tables, figures, compare, fetch, targets) are local rules.
from distill.workflow.resources import apply as apply_resources

apply_resources(workflow, CFG)


# Before the first job: a second live run in this clone stops here (see the lock above). Then, on this machine, how
# many jobs and roughly how long, from the job times the project keeps, scaled by this machine's speed against the
# machine that made them (distill/workflow/speed.py; a cluster run, which sets no total of cores, is estimated by
# `distill gpu-hours` instead).
onstart:
    if not RUN_LOCKED:
        sys.exit(f"error: {run_lock.refusal()}")
    run_lock.claim()
    from distill.workflow.estimate import estimate
    from snakemake.exceptions import WorkflowError

    try:
        _cores = workflow.cores
    except WorkflowError:
        _cores = None
    if _cores:
        from distill.workflow.speed import factor as machine_factor

        _jobs = list(workflow.dag.needrun_jobs())
        print(estimate(_jobs, _cores, BENCH, machine_factor(BENCH) if _jobs else None), file=sys.stderr)


# A present report whose inputs were deleted is not rebuilt by Snakemake: say so, with the command that rebuilds it.
from distill.workflow.stale import stale_reports

if not {"--forcerun", "-R", "--forceall", "-F", "--force", "-f"} & set(sys.argv):  # unless the user forces a rerun
    for _note in stale_reports(workflow.rules, PROFILE):
        print(_note, file=sys.stderr)


# When the run ends: the committed results it re-made and wrote over (a fresh clone re-makes the mini ones), each
# judged against the committed number (distill/results/remade.py; `distill remade` lists them all).
onsuccess:
    run_lock.release()
    if RUN_LOCKED:
        from distill.results.remade import summary as remade_summary

        _remade = remade_summary(Path(workflow.basedir), PROFILE)
        if _remade:
            print(_remade, file=sys.stderr)


onerror:
    run_lock.release()
