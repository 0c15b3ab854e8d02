"""Reports whose inputs were deleted. Snakemake does not remake a deleted intermediate file while the outputs built
from it are present (a deliberate choice since Snakemake 7.7), so asking for such a report says "Nothing to be
done". The workflow prints, for each such report, what is missing and the one command that rebuilds both."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def stale_reports(rules: Iterable) -> list[str]:
    """One note per rule without wildcards whose outputs all exist while some of its file inputs do not (temporary
    files, deleted by design once used, excepted)."""
    from snakemake.io import is_flagged

    rules = list(rules)
    temporary = [f for r in rules for f in r.output if is_flagged(f, "temp")]
    notes = []
    for rule in rules:
        if rule.has_wildcards() or not rule.output:
            continue
        outputs = [str(f) for f in rule.output]
        inputs = [str(f) for f in rule.input if isinstance(f, str)]
        missing = [f for f in inputs if not Path(f).exists() and not any(t.match(f) for t in temporary)]
        if missing and all(Path(f).exists() for f in outputs):
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            notes.append(f"note: {outputs[0]} is present but its input {missing[0]}{more} was deleted; Snakemake does "
                         f"not remake deleted inputs of a present output. To rebuild them and it: snakemake --cores "
                         f"all --forcerun {rule.name} -- {outputs[0]}")
    return notes
