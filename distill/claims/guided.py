"""Guided distillation's claims (Meng et al. 2023, the abstract and the paper's comparisons as PUBLISHED.md 2 gives
them), checked on each experiment's summary (the subject 'guided': results/<profile>/guided_<experiment>.json, one
point per model, sampler, step count and w)."""

from __future__ import annotations


from distill.claims import spreads
from distill.claims.registry import FAILS, HOLDS, NOT_CHECKED, Claim
from distill.claims.spreads import overlap_text
from distill.plugins.guided import VARIANTS, W_LINE, fixed_line, model_id, wtag

PAPER_VARIANTS = [v for v in VARIANTS if v.key in ("D", "S")]  # the paper's D and S (not the S ablation)


def _fid(summary, model: str, sampler: str, steps: int, w: float) -> float | None:
    for p in summary["points"]:
        if (p["model"], p["sampler"], p["steps"]) == (model, sampler, steps) and abs(p["w"] - w) < 1e-9:
            return p["fid"]
    return None


def _metric_by_w(summary, model: str, sampler: str, steps: int, metric: str) -> dict[float, float]:
    return {p["w"]: p[metric] for p in summary["points"]
            if (p["model"], p["sampler"], p["steps"]) == (model, sampler, steps) and p[metric] is not None}


def _variant_fid(summary, key: str, steps: int, w: float) -> float | None:
    """The w-conditioned student's FID at `steps` with the variant `key` (D, S, S-same), None where absent."""
    variant = next(v for v in VARIANTS if v.key == key)
    model = variant.model(W_LINE, steps)
    return None if model is None else _fid(summary, model, variant.sampler, steps, w)


def _best_student(summary, steps: int, w: float) -> float | None:
    """The student's better FID of the paper's D and S samplers at this step count and w."""
    found = [f for v in PAPER_VARIANTS if (f := _variant_fid(summary, v.key, steps, w)) is not None]
    return min(found) if found else None


def _spread(summary, model: str, label: str, steps: int, w: float, value: float | None):
    """The training-seed spread of one point (guided_spread's cell), where measured for this value."""
    return spreads.of(summary, "guided", f"{summary.get('experiment')} {model} {label}{steps} w{wtag(w)}", value)


def _variant_spread(summary, steps: int, w: float, value: float):
    """The spread of the paper's variant (D or S) whose FID at (steps, w) is `value`."""
    for v in PAPER_VARIANTS:
        model = v.model(W_LINE, steps)
        if model is not None and _variant_fid(summary, v.key, steps, w) == value:
            return _spread(summary, model, v.key, steps, w, value)
    return None


def four_steps_comparable(summary, tol: float) -> tuple[str, str]:
    """The abstract: 4-step students with FID/IS comparable to the guided teacher's."""
    full, parts, worst, at = summary["teacher_steps"], [], 0.0, None
    for w in summary["sweep"]:
        student, teacher = _best_student(summary, 4, w), _fid(summary, "teacher", "ddim", full, w)
        if student is None or teacher is None:
            return NOT_CHECKED, f"no 4-step student or no full-step teacher FID at w = {wtag(w)}"
        if student / teacher >= worst:
            worst, at = student / teacher, (w, student, teacher)
        parts.append(f"w {wtag(w)}: {student:.2f} vs {teacher:.2f}")
    w, student, teacher = at
    spread = overlap_text(f"the 4-step student at w {wtag(w)}", _variant_spread(summary, 4, w, student), "the teacher",
                          _spread(summary, "teacher", "teacher", full, w, teacher))
    return (HOLDS if worst <= tol else FAILS), f"worst ratio {worst:.2f}; " + "; ".join(parts) + spread


def w_student_matches_fixed(summary, tol: float) -> tuple[str, str]:
    """One w-conditioned student is as good as students distilled at one fixed w each."""
    pairs = [r for r in summary["fixed_w"] if r["fixed_fid"] is not None and r["w_fid"] is not None]
    if not pairs:
        return NOT_CHECKED, "no fixed-w student beside the w-conditioned one"
    worst = max(pairs, key=lambda r: r["w_fid"] / r["fixed_fid"])
    text = "; ".join(f"w {wtag(r['w'])} {r.get('variant', r['sampler'])}: {r['w_fid']:.2f} vs fixed {r['fixed_fid']:.2f}"
                     for r in pairs)
    variant = next((v for v in PAPER_VARIANTS if v.key == worst.get("variant")), None)
    if variant is not None:
        w, n = worst["w"], worst["steps"]
        text += overlap_text(f"w {wtag(w)} {variant.key}: the w-conditioned student",
                             _spread(summary, variant.model(W_LINE, n), variant.key, n, w, worst["w_fid"]), "the fixed",
                             _spread(summary, variant.model(fixed_line(w), n), variant.key, n, w,
                                     worst["fixed_fid"]))
    return (HOLDS if worst["w_fid"] <= tol * worst["fixed_fid"] else FAILS), text


def _tradeoff_breaks(fid: dict[float, float], inception: dict[float, float], tol: float) -> list[str]:
    """Where IS falls as w grows, or FID falls again after its minimum (each beyond a relative slack of tol)."""
    ws = sorted(set(fid) & set(inception))
    out = [f"IS {inception[a]:.2f} -> {inception[b]:.2f} at w {wtag(a)} -> {wtag(b)}"
           for a, b in zip(ws, ws[1:]) if inception[b] < inception[a] * (1 - tol)]
    best = min(ws, key=lambda w: fid[w]) if ws else None
    after = [w for w in ws if best is not None and w >= best]
    out += [f"FID {fid[a]:.2f} -> {fid[b]:.2f} at w {wtag(a)} -> {wtag(b)} (past its minimum)"
            for a, b in zip(after, after[1:]) if fid[b] < fid[a] * (1 - tol)]
    return out


def tradeoff_monotone(summary, tol: float) -> tuple[str, str]:
    """The FID-IS figure: raising w raises IS and, past the best w, FID, for the teacher and the students."""
    models = [("teacher", summary["teacher_steps"])] + [(model_id(W_LINE, n), n) for n in (8, 4, 1)]
    checked, breaks = [], []
    for model, n in models:
        fid, inception = (_metric_by_w(summary, model, "ddim", n, m) for m in ("fid", "is"))
        if len(set(fid) & set(inception)) < 3:
            continue
        checked.append(f"{model} ({n} steps)")
        breaks += [f"{model}: {b}" for b in _tradeoff_breaks(fid, inception, tol)]
    if not checked:
        return NOT_CHECKED, "fewer than three values of w for every model"
    return (FAILS if breaks else HOLDS), ("; ".join(breaks) if breaks else "monotone for " + ", ".join(checked))


def speedup_at_equal_quality(summary, tol: float) -> tuple[str, str]:
    """The abstract's speed-up: the fewest student steps whose FID is within tol of the full-step teacher's at every
    w, and the ratio of their NFE (the teacher's two evaluations per step counted)."""
    full = summary["teacher_steps"]
    steps = sorted({p["steps"] for p in summary["points"] if p["model"].startswith(f"{W_LINE}-n")})
    for n in steps:
        pairs = [(_best_student(summary, n, w), _fid(summary, "teacher", "ddim", full, w)) for w in summary["sweep"]]
        if all(s is not None and t is not None and s <= tol * t for s, t in pairs):
            return HOLDS, (f"{n}-step student within {tol:g}x of the teacher's {full}-step FID at every w: "
                           f"{2 * full // n}x fewer network evaluations ({2 * full} vs {n})")
    return FAILS, f"no student of {steps} steps is within {tol:g}x of the teacher's {full}-step FID at every w"


def stochastic_beats_deterministic(summary, tol: float) -> tuple[str, str]:
    """An observation: the paper's S (the N/2-step model) against D at the fewest steps where S differs from D (2);
    the S ablation (the N-step model) is quoted beside them."""
    n = min((p["steps"] for p in summary["points"] if p["sampler"] == "renoise"), default=None)
    if n is None:
        return NOT_CHECKED, "no stochastic-sampler point"
    pairs = [(w, _variant_fid(summary, "S", n, w), _variant_fid(summary, "D", n, w),
              _variant_fid(summary, "S-same", n, w)) for w in summary["sweep"]]
    pairs = [(w, s, d, a) for w, s, d, a in pairs if s is not None and d is not None]
    if not pairs:
        return NOT_CHECKED, f"no D and S FIDs at {n} steps"
    wins = sum(s <= tol * d for _, s, d, _ in pairs)
    text = f"{n} steps: " + "; ".join(f"w {wtag(w)}: S {s:.2f}, D {d:.2f}"
                                      + (f", S ablation {a:.2f}" if a is not None else "") for w, s, d, a in pairs)
    return (HOLDS if wins == len(pairs) else FAILS), text


SHORT = ("the mini students train for a few hundred updates per stage on a CPU from an 8x8 teacher; the paper's "
         "training settings are NOT FOUND (PUBLISHED.md 2(b))")
# measured by the budget trend (reports/guided_trend.pdf, results/mini/trend/guided.csv: the w line at 4x every budget)
TREND = ("measured trend (reports/guided_trend.pdf): with 4x every training budget of the w line the 4-step "
         "student's worst ratio to the full-step teacher falls from 2.86 to 1.54 (at w = 0: 40.1, then 21.6, against "
         "the teacher's 14.0; at w >= 1 the student is better than the teacher at both budgets), so the reduced "
         "budget holds the claim back and 4x is not yet enough for its 1.25")
SMOKE = "the smoke profile trains each student for ten updates: it checks the pipeline, not numbers"
CLAIMS = (
    Claim("guided.abstract.four_step_comparable", "Guided", "abstract",
          "4-step students have FID comparable to the guided teacher's at full steps, at every w", "guided",
          four_steps_comparable, 1.25,
          "the 4-step student's FID (the better of D and S) <= {tol} x the full-step teacher's at every w of the sweep "
          "('comparable': few-step FIDs move by several percent between seeds; a quarter allows for that and for the "
          "unknown w and protocol of the paper)", ("paper",), TREND),
    Claim("guided.baseline.w_student_matches_fixed", "Guided", "fixed-w baseline (S8)",
          "one w-conditioned student is as good as students distilled at one fixed w each", "guided",
          w_student_matches_fixed, 1.25,
          "the w-conditioned student's FID <= {tol} x the fixed-w student's, at each fixed w and sampler",
          ("paper",), "at mini stage one's 400 updates are spread over w in [0, 4] for the w-conditioned student "
          "but spent at one w by each fixed-w student; measured at 4 steps: the gap is at the smallest w only "
          "(w = 0.3, D 32.8 against 20.4), while at w = 1 and 2 the w-conditioned student is as good or better (D "
          "56.7 and 117.7 against 64.9 and 126.2); " + SHORT),
    Claim("guided.figure.tradeoff_monotone", "Guided", "FID/IS against w (S8)",
          "raising w trades FID for IS monotonically, for the teacher and the students", "guided", tradeoff_monotone,
          0.02, "IS never falls by more than a fraction {tol} from one w to the next, nor FID past its minimum",
          ("paper", "mini"), SMOKE),
    Claim("guided.abstract.speedup", "Guided", "abstract",
          "a distilled student matches the guided teacher with many times fewer network evaluations", "guided",
          speedup_at_equal_quality, 1.25,
          "the fewest student steps with FID <= {tol} x the full-step teacher's at every w; speed-up = NFE ratio",
          ("paper",), "no student of 1 to 16 steps is within 1.25x of the teacher at every w at x1 or at 4x the "
          "budget; " + TREND),
    Claim("guided.observation.stochastic_vs_deterministic", "Guided", "observation (D vs S)",
          "the stochastic sampler beats the deterministic one at the fewest steps where they differ", "guided",
          stochastic_beats_deterministic, 1.0, "S's FID <= {tol} x D's at every w, at 2 steps", (),
          "which sampler the paper finds better at which step count is NOT FOUND (PUBLISHED.md 2(a)); an "
          "observation of the suite, never expected"),
)
