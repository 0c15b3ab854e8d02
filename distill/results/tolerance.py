"""The tolerance of a paper-scale reproduction of a published number: a leaf module, so the method cards (which
state their own tables' tolerances) and `distill compare` share the type without importing each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NumberTolerance:
    kind: str  # "abs": |reproduced - published| <= value; "rel": |reproduced / published - 1| <= value
    value: float
    why: str

    def within(self, published: float, reproduced: float) -> bool:
        if self.kind == "abs":
            return abs(reproduced - published) <= self.value
        return abs(reproduced / published - 1.0) <= self.value

    def describe(self) -> str:
        return f"±{self.value:g}" if self.kind == "abs" else f"±{self.value:.0%}"


FEW_STEP = "few-step FIDs move by several percent between seeds and FID implementations"
