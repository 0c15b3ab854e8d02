"""Options several `distill` sub-commands share, and the parsing of their values."""

from __future__ import annotations

import argparse
import math

from distill.config import DEFAULT_PARAMS
from distill.errors import ConfigError
from distill.results import PUBLISHED_CSV
from distill.commands.paths import output
from distill.core.samplers import get_sampler
from distill.metrics.images import FLOAT_RANGES


def _int_at_least(low: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (zero or a negative count is an error, never a default)."""
    return _int_at_least(1, text)


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed)."""
    return _int_at_least(0, text)


def finite_float(text: str) -> float:
    """A finite number (NaN and infinities pass every range check unnoticed, so they are refused here)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def common(p: argparse.ArgumentParser) -> None:
    """The options every step shares."""
    p.add_argument("--params", default=str(DEFAULT_PARAMS), help="params file (default: %(default)s)")
    p.add_argument("--profile", default=None, help="profile in params.yaml: smoke, mini or paper (default: the file's)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--method", default=None, help="with --experiment: the method (params.yaml section) it belongs to")
    p.add_argument("--experiment", default=None,
                   help="an experiment of --method's section: use its data, network and teacher training where it "
                        "sets them instead of the profile's")


def prompts_option(p: argparse.ArgumentParser) -> None:
    """--prompts of a training command: a text-to-image teacher's prompts (distill/pipeline/conditions.py)."""
    p.add_argument("--prompts", help="a text-to-image teacher's training prompts: one per line, or a CSV with a 'text' "
                                     "column (SFD's sfd-main draws MS-COCO_val2014_30k_captions.csv's)")


def captions_option(p: argparse.ArgumentParser) -> None:
    """--captions of a training command that draws x from data: a text-to-image teacher's caption latents."""
    p.add_argument("--captions", help="a text-to-image teacher's training data: the caption-latents folder `distill "
                                      "encode-captions` wrote (its images' latents and captions)")


def extractor_weights_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extractor-weights", default=None,
                   help="feature-extractor weights (default: evaluation.feature_extractor_weights, or for the "
                        "distill-domain extractor the classifier the pipeline trains, "
                        "results/<profile>/classifier/model.safetensors)")


def float_range(p: argparse.ArgumentParser) -> None:
    p.add_argument("--range", default=None, choices=list(FLOAT_RANGES),
                   help="the value range of float images: signed [-1, 1], unit [0, 1] or byte [0, 255]. Required for "
                        "float images (the two common ranges give plausible, different FIDs); uint8 images need none")


def report_io(p: argparse.ArgumentParser, json_help: str | None = None, results: bool = True) -> None:
    """The inputs and outputs every report command shares."""
    if results:
        p.add_argument("--results", required=True, help="results/<profile> folder")
        p.add_argument("--benchmarks", default=None,
                       help="folder of Snakemake benchmark .tsv files; their total job time goes in the report")
    p.add_argument("--published", default=str(PUBLISHED_CSV), help="published numbers (CSV; default: %(default)s)")
    output(p, "--pdf", required=True, help="output PDF")
    output(p, "--csv", required=True, help="output CSV")
    if json_help:
        output(p, "--json", required=True, help=json_help)
        output(p, "--plots", folder=True, required=True,
                       help="output folder of plot data for `dvc plots show` (a CSV per line: training losses, curves)")


def key_values(items: list[str] | None, flag: str, example: str) -> list[tuple[str, str]]:
    """KEY=VALUE pairs of a repeatable option, in order; a pair without '=' or a key given twice is an error."""
    pairs: list[tuple[str, str]] = []
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} expects KEY=VALUE (e.g. {example}), got {item!r}")
        if key in dict(pairs):
            raise ConfigError(f"{flag} {key} is given twice; give it once")
        pairs.append((key, text))
    return pairs


def _number(flag: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{flag} {key}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{flag} {key}: {text!r} is not a finite number")
    return value


def parse_cond(items: list[str] | None) -> dict[str, float]:
    """--cond KEY=VALUE pairs (a scalar per sample, e.g. w=2.0, or label=3) as a dict; bad text is an error."""
    return {key: _number("--cond", key, text) for key, text in key_values(items, "--cond", "w=2.0 or label=3")}


def parse_grid_options(items: list[str] | None) -> dict[str, float]:
    """--grid-option KEY=VALUE pairs, each a finite number (the grid checks the names and ranges)."""
    return {key: _number("--grid-option", key, text)
            for key, text in key_values(items, "--grid-option", "sigma_min=0.002")}


def parse_sampler_options(sampler: str, items: list[str] | None) -> dict:
    """--option KEY=VALUE pairs, each read as the type the sampler declares for KEY (true/false for a flag) and then
    range-checked by the sampler; an option it does not declare is an error naming the ones it does."""
    spec = get_sampler(sampler)
    out: dict = {}
    for key, text in key_values(items, "--option", "afs=true"):
        if key not in spec.options:
            raise ConfigError(f"--option {key}: sampler {sampler!r} takes no option {key!r}; its options: "
                              f"{sorted(spec.options) or 'none'}")
        kind = spec.options[key].kind
        if kind is float:
            out[key] = _number("--option", key, text)
        elif kind is bool and text.lower() in ("true", "false"):
            out[key] = text.lower() == "true"
        elif kind is int and text.lstrip("-").isdigit():
            out[key] = int(text)
        elif kind is str and text in spec.options[key].choices:
            out[key] = text
        else:
            expected = {bool: "true or false", int: "an integer"}.get(kind, f"one of {list(spec.options[key].choices)}")
            raise ConfigError(f"--option {key}: expected {expected}, got {text!r}")
    return spec.check_options(out)


def experiment_report_io(p: argparse.ArgumentParser, json_help: str = "output JSON summary") -> None:
    """A method's report of one experiment: the shared report inputs and outputs, the FID floor, its results rows."""
    report_io(p, json_help)
    floor_option(p)
    p.add_argument("--rows", required=True, help="output: this experiment's part of the results table (CSV)")


def floor_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--floor", default=None,
                   help="the protocol's FID floor (`distill fid floor` JSON): shown beside every FID, and ratio "
                        "claims stated above it too")


def spread_io(p: argparse.ArgumentParser) -> None:
    """The inputs and outputs of a training-seed spread command (table1-spread, pd-spread)."""
    p.add_argument("--results", required=True, help="results/<profile> folder")
    output(p, "--pdf", required=True, help="output PDF")
    output(p, "--csv", required=True, help="output CSV")
