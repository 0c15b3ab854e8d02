"""The sampler registry: every sampler's name, function, display label, declared options and network-evaluation
count. The VP samplers (distill/core/samplers.py) and the EDM sigma-form solvers (distill/core/sigma_solvers.py)
register here; the CLI's choices, the schema's enums, the Snakemake wildcard constraints and the report labels are
read from it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class Option:
    """A sampler's own keyword option: its type, its allowed range (or, for a str, its choices), what it means, and
    the value it takes when not given where that value is the sampler's own (recorded with every sample)."""
    kind: type
    low: float | None = None
    high: float | None = None
    help: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None

    def check(self, sampler: str, name: str, value: Any) -> Any:
        if self.kind is str:
            if value not in self.choices:
                raise ValueError(f"sampler {sampler!r}: option {name} must be one of {list(self.choices)}, got {value!r}")
            return value
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"sampler {sampler!r}: option {name} must be true or false, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float) if self.kind is float else self.kind):
            raise ValueError(f"sampler {sampler!r}: option {name} must be a {self.kind.__name__}, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"sampler {sampler!r}: option {name} must be a finite number, got {value}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"sampler {sampler!r}: option {name} must lie in [{self.low}, {self.high}], got {value}")
        return self.kind(value)


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    fn: Callable[..., torch.Tensor]
    label: str  # display name in tables and figures
    stochastic: bool
    options: Mapping[str, Option] = field(default_factory=dict)
    # network evaluations of `steps` steps with these options (a guided denoiser doubles them: evaluations_per_step)
    evaluations: Callable[[int, Mapping[str, Any]], int] = lambda steps, options: steps
    # a sigma-form solver's own function, solver(D, x, sigmas, on_step=..., **options), for a method that runs it on
    # a grid of its own (SFD's teacher and student, GITS); None for the VP samplers
    solver: Callable[..., torch.Tensor] | None = None

    def nfe(self, steps: int, options: Mapping[str, Any] | None = None, per_call: int = 1) -> int:
        return self.evaluations(steps, dict(options or {})) * per_call

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"sampler {self.name!r} takes no option {', '.join(unknown)}; its options: "
                             f"{sorted(self.options) or 'none'}")
        return {k: self.options[k].check(self.name, k, v) for k, v in options.items()}

    def with_defaults(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The checked options with the sampler's own defaults filled in (e.g. a solver's clipping), so that a samples
        file records what ran."""
        given = self.check_options(options)
        return {**{k: o.default for k, o in self.options.items() if o.default is not None}, **given}

    @property
    def clips_itself(self) -> bool:
        """Whether its x-hat clipping is its own option (the sigma-form solvers), not the sampling setting clip_x."""
        return "clip" in self.options


SAMPLERS: dict[str, SamplerSpec] = {}


def register_sampler(name: str, label: str, stochastic: bool = False,
                     evaluations: Callable[[int, Mapping[str, Any]], int] | None = None,
                     solver: Callable[..., torch.Tensor] | None = None, **options: Option):
    def add(fn):
        if name in SAMPLERS:
            raise ValueError(f"sampler {name!r} is registered twice")
        SAMPLERS[name] = SamplerSpec(name, fn, label, stochastic, options,
                                     *([evaluations] if evaluations is not None else []), solver=solver)
        return fn
    return add


def get_solver(name: str) -> Callable[..., torch.Tensor]:
    """The sigma-form solver function of a registered solver (euler, heun, ...): an error for a VP sampler."""
    spec = get_sampler(name)
    if spec.solver is None:
        raise ValueError(f"sampler {name!r} is not a sigma-form solver; the solvers: "
                         f"{sorted(n for n, s in SAMPLERS.items() if s.solver is not None)}")
    return spec.solver


def get_sampler(name: str) -> SamplerSpec:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {sorted(SAMPLERS)}")
    return SAMPLERS[name]
