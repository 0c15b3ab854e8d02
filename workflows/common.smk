# Shared names: output folders of the active profile, the CLI call, and the target lists built from params.yaml.
import json

from distill.core.grids import GRIDS
from distill.data.artifacts import data_needs
from distill.core.parameterization import PARAMETERIZATIONS
from distill.core.samplers import SAMPLERS
from distill.core.weighting import WEIGHTINGS
from distill.pipeline.reference import extractor_weights as reference_extractor_weights
from distill.registry import active, final_targets as method_targets
from distill.plugins.table1 import run_name, spread_seeds

RESULTS = f"results/{PROFILE}"
LOGS = f"logs/{PROFILE}"
BENCH = f"{RESULTS}/benchmarks"
# Every step is a `distill` sub-command run by this same Python (so a virtual environment needs no activation).
DISTILL = f"{sys.executable} -m distill"
CLI_ARGS = f"--params {PARAMS_FILE} --profile {PROFILE} --no-progress"
# The training rules also pass --overwrite: a job Snakemake has decided to (re)run replaces the run its folder held
# (distill/core/run_folder.py; by hand, a folder of another run is an error).


def hp(*sections):
    """The params.yaml sections a rule depends on, as a string: changing them reruns the rule (params trigger)."""
    return json.dumps({s: CFG[s] for s in sections}, sort_keys=True)


def training_hp():
    """A training rule's arithmetic: empty for fp32 (the string of every run made before the setting existed, so it
    reruns nothing), else the precision, so switching a profile to bf16 reruns its training."""
    return "" if CFG["precision"] == "fp32" else json.dumps({"precision": CFG["precision"]})


def read_if_present(path):
    """A file a report reads where it exists but never asks for, because it is a costly target of its own (the
    training-seed spread): as a param its sha256 (empty when absent) reruns the report when it changes, and it is
    never a reason to build it (as an input, a committed spread file made the main job train every spread seed)."""
    from distill.core.checkpoint import file_sha256

    return file_sha256(path) if Path(path).exists() else ""


def table1_runs():
    t = CFG["table1"]
    return [run_name(p, w, s) for p in t["parameterizations"] for w in t["weightings"] for s in t["seeds"]]


def extractor_weights():
    """The feature extractor's weights: the pipeline's classifier unless params.yaml names a file."""
    return reference_extractor_weights(CFG)


def data_files(data=None):
    """The external file a data section reads (the profile's by default), made by its fetch rule (fetch.smk); none
    for embedded data."""
    return [str(n.target) for n in data_needs(data if data is not None else CFG["data"])]


def reference_stats():
    """Reference statistics of the profile's data set under its feature extractor."""
    return f"{RESULTS}/refs/{CFG['data']['name']}-{CFG['evaluation']['feature_extractor']}.npz"


def floor_path():
    """The protocol's FID floor (real images through the same protocol) for the profile's data and extractor."""
    return f"{RESULTS}/floor/{CFG['data']['name']}-{CFG['evaluation']['feature_extractor']}.json"


def experiment_data(method, exp):
    """The data section an experiment of `method` reads (its own `data`, else the profile's)."""
    from distill.experiment_views import experiment_profile

    return experiment_profile(CFG, method, exp)["data"]


def own_images(method, exp):
    """Whether an experiment's images differ from the profile's (labels aside: the mini guided experiment is the
    profile's digits with their labels, so it reuses the profile's reference statistics and floor)."""
    own = {k: v for k, v in experiment_data(method, exp).items() if k != "conditional"}
    return own != {k: v for k, v in CFG["data"].items() if k != "conditional"}


def first_with_data(method, exp):
    """The first experiment (registry order) whose data section is this one's: experiments of one data set share
    their reference statistics and floor (SFD's and DisBack's ImageNet-64 experiments)."""
    from distill.experiment_views import method_experiments

    data = experiment_data(method, exp)
    for m in ACTIVE_METHODS:
        for e in method_experiments(CFG, m.name):
            if experiment_data(m.name, e) == data:
                return m.name, e
    return method, exp


def experiment_reference(method, exp):
    """Reference statistics of an experiment's images: the profile's, or its own (experiment_reference_stats)."""
    if not own_images(method, exp):
        return reference_stats()
    m, e = first_with_data(method, exp)
    return f"{RESULTS}/refs/{m}-{e}-{CFG['evaluation']['feature_extractor']}.npz"


def experiment_floor(method, exp):
    """The FID floor of an experiment's images: the profile's, or its own (experiment_fid_floor)."""
    if not own_images(method, exp):
        return floor_path()
    m, e = first_with_data(method, exp)
    return f"{RESULTS}/{m}_metrics/{e}/floor-{CFG['evaluation']['feature_extractor']}.json"


# Names every rule's wildcards accept, read from the registries (never written by hand).
SAMPLER_NAMES = "|".join(SAMPLERS)
PARAMETERIZATION_NAMES = "|".join(PARAMETERIZATIONS)
WEIGHTING_NAMES = "|".join(WEIGHTINGS)
ACTIVE_METHODS = active(CFG)


def final_targets():
    """Every final target of the profile (get_final_output): each active method's reports, the FID-vs-N curve when
    configured, the text-to-image report when the profile has that section, and the comparison with the published
    numbers."""
    from distill.pipeline.text_to_image import targets as text_to_image_targets

    curve = ["reports/fid_vs_n.pdf"] if CFG["evaluation"]["curve"] else []
    return method_targets(CFG) + curve + text_to_image_targets(CFG) + ["reports/compare.pdf"]


# The files each method keeps (its DVC outputs), registered by its rule file. The method's target rule asks for them,
# so a deleted one is remade (a missing input of a requested job always is) and so is everything built from it:
# `snakemake -- <method>` and `dvc repro` rebuild deleted weights or samples while the reports are present.
KEPT = {}


def method_rows():
    """Every active method's parts of the results table."""
    return [path for m in ACTIVE_METHODS for path in m.rows(CFG, RESULTS)]
