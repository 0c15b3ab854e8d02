"""How far a paper-scale reproduction may be from a published number before `distill compare` fails. Only the
`paper` profile is held to these: the reduced profiles run other data at other scales (their numbers are shown
beside the published ones, not tested and without a ratio)."""

from __future__ import annotations

from distill.registry import methods
from distill.results.tolerance import NumberTolerance


def tolerances() -> dict[tuple[str, str, str], NumberTolerance]:
    """(paper, table, metric) -> its tolerance, from every registered method's card (`Method.tolerances`): a method
    states how far its own published tables may be missed."""
    out: dict[tuple[str, str, str], NumberTolerance] = {}
    for card in methods():
        for key, tol in card.tolerances.items():
            if key in out and out[key] != tol:
                raise ValueError(f"two methods give {key} different tolerances; one card owns a published table")
            out[key] = tol
    return out
