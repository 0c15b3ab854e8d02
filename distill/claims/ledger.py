"""The claims ledger (distill/claims/ledger.json): each claim's expectation and tolerance as registered and as
changed since, so that a claim is judged by what was set before its results, and every relaxation is on record.

A state narrows the expectation when it drops a profile, and loosens the tolerance when it lets more results hold:
a larger tolerance for a claim of the form "value <= tol x reference" (or "within tol"), a smaller one for "value >=
tol x reference". A change that does either is a relaxation and must name the result that contradicted the claim
and why; widening an expectation or tightening a tolerance needs only its new state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

LEDGER = Path(__file__).with_name("ledger.json")


def load(path: str | Path = LEDGER) -> dict[str, list[dict[str, Any]]]:
    """The claims' histories by id (each a list of states, oldest first)."""
    return json.loads(Path(path).read_text())["claims"]


def lower_is_looser(tolerance_text: str) -> bool:
    """Whether a smaller tolerance lets more results hold: a claim of the form 'value >= tol x reference'."""
    return ">=" in tolerance_text


def relaxes(old: Mapping[str, Any], new: Mapping[str, Any], tolerance_text: str) -> list[str]:
    """What a change of state relaxes: the profiles it drops, a looser tolerance."""
    out = []
    dropped = sorted(set(old["expected_at"]) - set(new["expected_at"]))
    if dropped:
        out.append(f"no longer expected at {', '.join(dropped)}")
    looser = new["tolerance"] < old["tolerance"] if lower_is_looser(tolerance_text) else \
        new["tolerance"] > old["tolerance"]
    if looser:
        out.append(f"tolerance loosened from {old['tolerance']:g} to {new['tolerance']:g}")
    return out


def problems(claims: Iterable[Any], ledger: Mapping[str, list[Mapping[str, Any]]]) -> list[str]:
    """Where the registry and the ledger disagree, or a relaxation is not accounted for (empty: in step)."""
    out = []
    registered = {c.id: c for c in claims}
    for cid in sorted(set(ledger) - set(registered)):
        out.append(f"{cid}: in the ledger but not registered; a claim is never removed silently: keep it, or record "
                   "its removal in the ledger's history")
    for cid, claim in registered.items():
        history = ledger.get(cid)
        if not history:
            out.append(f"{cid}: not in distill/claims/ledger.json; register it there (date, commit, expected_at, "
                       "tolerance) before its results")
            continue
        for old, new in zip(history, history[1:]):
            what = relaxes(old, new, claim.tolerance_text)
            note = new.get("relaxed") or {}
            if what and not (str(note.get("result", "")).strip() and str(note.get("why", "")).strip()):
                out.append(f"{cid}: the change of {new.get('date', '?')} ({'; '.join(what)}) is a relaxation without "
                           "the result that contradicted the claim and why (its 'relaxed': {'result', 'why'})")
        last = history[-1]
        now = {"expected_at": sorted(claim.expected_at), "tolerance": claim.tolerance}
        if sorted(last["expected_at"]) != now["expected_at"] or last["tolerance"] != now["tolerance"]:
            what = relaxes(last, now, claim.tolerance_text)
            out.append(f"{cid}: registered as expected at {now['expected_at']} with tolerance {now['tolerance']:g}, "
                       f"the ledger's last state says {sorted(last['expected_at'])} and {last['tolerance']:g}; add "
                       "the new state to its history" + (f" with 'relaxed': {{'result', 'why'}}, since it is "
                                                         f"{'; '.join(what)}" if what else ""))
    return out


def relaxations(ledger: Mapping[str, list[Mapping[str, Any]]] | None = None) -> list[str]:
    """Every recorded relaxation in words, oldest first (what `distill compare` lists)."""
    ledger = load() if ledger is None else ledger
    found = []
    for cid, history in ledger.items():
        for old, new in zip(history, history[1:]):
            note = new.get("relaxed")
            if note:
                found.append((new.get("date", ""), f"{cid} ({new.get('date', '?')}, {new.get('commit', '?')}): expected "
                             f"at {', '.join(old['expected_at']) or 'none'} -> {', '.join(new['expected_at']) or 'none'}"
                             f", tolerance {old['tolerance']:g} -> {new['tolerance']:g}. Result: {note['result']}. "
                             f"Why: {note['why']}."))
    return [text for _, text in sorted(found, key=lambda x: x[0])]
