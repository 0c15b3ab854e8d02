# Simple and Fast Distillation (Zhou et al. 2024) on the Table 1 teacher PD and KD distil: the teacher's own EDM
# solvers at a few NFE, one student per run of sfd.runs (SFD, SFD-v, the second stage, the ablations), each student
# sampled with its own recorded Euler grid, every point evaluated, and one report with SFD Table 2's layout. Each
# experiment of sfd.experiments (SFD Table 3 on EDM's ImageNet-64 network) runs the same rules on its own teacher and
# data: its files in a folder of its name ({sexp}: '' for the section, '<name>/' for an experiment), its report
# reports/sfd_<name>.pdf ({stag}: '' or '_<name>'), its commands run with --method sfd --experiment <name>.
from distill.experiment_views import experiment_profile
from distill.plugins import sfd as S
from distill.plugins import sfd_layout as SL

SFD = CFG["sfd"]
SFD_EXPS = SL.experiments(CFG)
SFD_PATHS = SL.paths(RESULTS, SL.RULE_TEMPLATE)  # the file layout, shared with the report (distill/reports/sfd.py)


def sfd_experiment(w):
    """The experiment a job's wildcards name (None: the section's own runs)."""
    found = w.sexp.rstrip("/") if "sexp" in w.keys() else w.stag.lstrip("_")
    return found or None


def sfd_view(w):
    """The profile as the job's experiment sees it."""
    e = sfd_experiment(w)
    return experiment_profile(CFG, "sfd", e) if e else CFG


def sfd_args(w):
    """The job's experiment, on its command line."""
    e = sfd_experiment(w)
    return f"--method sfd --experiment {e}" if e else ""


def sfd_reference(w):
    e = sfd_experiment(w)
    return experiment_reference("sfd", e) if e else reference_stats()


def sfd_floor(w):
    e = sfd_experiment(w)
    return experiment_floor("sfd", e) if e else floor_path()


def sfd_paths(w):
    return SL.paths(RESULTS, sfd_experiment(w))


def sfd_teacher_model(w):
    return f"{RESULTS}/teachers/{S.teacher_run(sfd_view(w))}/model.safetensors"


def sfd_train_inputs(w):
    settings = S.run_settings(sfd_view(w), w.srun)
    if settings["kind"] == "second-stage":
        out = {"teacher": sfd_paths(w)["student"].format(srun=settings["teacher_run"]) + "/model.safetensors"}
        if settings["perceptual"]["kind"] == "classifier":
            out["classifier"] = f"{RESULTS}/classifier/model.safetensors"
        return out
    return {"teacher": sfd_teacher_model(w)}


def sfd_solver_args(w):
    view = sfd_view(w)
    s, n = view["sfd"]["solvers"][w.ssolver], S.solver_steps(view, w.ssolver, int(w.snfe))
    name, grid_options = S.solver_grid(view, w.ssolver)
    grid = " ".join(f"--grid-option {k}={v}" for k, v in grid_options.items())
    options = " ".join(f"--option {k}={str(v).lower()}" for k, v in s["options"].items())
    return f"--sampler {s['sampler']} --grid {name} {grid} --steps {n} {options}"


def sfd_all_metrics(w):
    view, p = sfd_view(w), sfd_paths(w)
    return ([p["metrics"].format(srun=r, sn=n) for r, n in S.student_points(view)]
            + [p["curve"].format(srun=r) for r in S.curve_runs(view)]
            + [p["solver_metrics"].format(ssolver=s, snfe=nfe) for s, nfe in S.solver_points(view)]
            + [p[k].format(ssolver=s, snfe=nfe) for s, nfe in S.gits_points(view)
               for k in ("gits_metrics", "gits_schedule")])


def sfd_other_rows(w):
    """The results-table parts of the other methods whose rows SFD Table 2 lists (PD, KD: SFD's card gathers them
    from PD Table 2); none for an experiment (its own images) or when SFD distils an imported EDM network, which no
    other method distils."""
    from distill.registry import active

    if sfd_experiment(w) or sfd_view(w)["sfd"]["teacher"].get("edm"):
        return []

    sources = {("SFD", "Table 2")} | S.METHOD.gathered_from()  # the tables whose rows SFD Table 2 lists (its card)
    return [p for m in active(CFG) if m.name != "sfd" and sources & set(m.reproduces) for p in m.rows(CFG, RESULTS)]


def sfd_kept():
    views = {e: experiment_profile(CFG, "sfd", e) if e else CFG for e in [None, *SFD_EXPS]}
    return [SL.paths(RESULTS, e)["student"].format(srun=r) + f"/{f}" for e, view in views.items()
            for r in view["sfd"]["runs"] for f in ("model.safetensors", "summary.json")]


KEPT["sfd"] = sfd_kept


wildcard_constraints:
    sexp="(?:" + "|".join(f"{e}/" for e in SFD_EXPS) + ")?",
    stag="(?:" + "|".join(f"_{e}" for e in SFD_EXPS) + ")?",
    srun="[a-z0-9_]+",
    ssolver="[a-z0-9_]+",
    sn="[0-9]+",
    snfe="[0-9]+",


rule sfd_train:
    input:
        unpack(sfd_train_inputs),
    output:
        weights=SFD_PATHS["student"] + "/model.safetensors",
        summary=SFD_PATHS["student"] + "/summary.json",
    params:
        hp=lambda w: json.dumps(S.run_settings(sfd_view(w), w.srun), sort_keys=True) + training_hp(),
        view=sfd_args,
        out=SFD_PATHS["student"],
        classifier=lambda w, input: f"--classifier {input.classifier}" if "classifier" in input.keys() else "",
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/sfd/{{sexp}}{{srun}}/train.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}{{srun}}/train.tsv"
    shell:
        "{DISTILL} sfd-train {CLI_ARGS} {params.view} --run {wildcards.srun} --threads {threads} --overwrite "
        "--teacher {input.teacher} {params.classifier} --out {params.out} > {log} 2>&1"


rule sfd_sample:
    input:
        model=SFD_PATHS["student"] + "/model.safetensors",
    output:
        temp(SFD_PATHS["samples"]),
    params:
        hp=hp("sampling", "evaluation", "device"),
        view=sfd_args,
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/sfd/{{sexp}}{{srun}}/sample-n{{sn}}.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}{{srun}}/sample-n{{sn}}.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} {params.view} --threads {threads} --model {input.model} --steps {wildcards.sn} "
        "--out {output} > {log} 2>&1"


rule sfd_solver_sample:
    input:
        model=sfd_teacher_model,
    output:
        temp(SFD_PATHS["solver_samples"]),
    params:
        hp=hp("sampling", "evaluation", "device"),
        view=sfd_args,
        args=sfd_solver_args,
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/sfd/{{sexp}}solvers/{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}solvers/{{ssolver}}-nfe{{snfe}}.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} {params.view} --threads {threads} --model {input.model} {params.args} "
        "--out {output} > {log} 2>&1"


rule sfd_curve:
    input:
        model=SFD_PATHS["student"] + "/model.safetensors",
        reference=sfd_reference,
        extractor=extractor_weights(),
    output:
        directory(SFD_PATHS["curve"]),
    params:
        hp=lambda w: hp("sampling", "evaluation", "device") + json.dumps(SFD.get("curve"), sort_keys=True),
        view=sfd_args,
    threads: CFG["threads"]["evaluate"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/sfd/{{sexp}}{{srun}}/curve.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}{{srun}}/curve.tsv"
    shell:
        "{DISTILL} sfd-curve {CLI_ARGS} {params.view} --threads {threads} --run {wildcards.srun} --model {input.model} "
        "--reference {input.reference} --extractor-weights {input.extractor} --out-dir {output} > {log} 2>&1"


use rule evaluate as sfd_evaluate with:
    input:
        samples=SFD_PATHS["samples"],
        reference=sfd_reference,
        extractor=extractor_weights(),
    output:
        metrics=SFD_PATHS["metrics"],
        grid=report(SFD_PATHS["grid"], caption="report/grid.rst", category="SFD samples",
                    labels={"run": "{srun}", "num_steps": "{sn}"}),
    log:
        f"{LOGS}/sfd/{{sexp}}{{srun}}/evaluate-n{{sn}}.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}{{srun}}/evaluate-n{{sn}}.tsv"


use rule evaluate as sfd_solver_evaluate with:
    input:
        samples=SFD_PATHS["solver_samples"],
        reference=sfd_reference,
        extractor=extractor_weights(),
    output:
        metrics=SFD_PATHS["solver_metrics"],
        grid=report(SFD_PATHS["solver_grid"], caption="report/grid.rst", category="SFD samples",
                    labels={"run": "teacher {ssolver}", "num_steps": "NFE {snfe}"}),
    log:
        f"{LOGS}/sfd/{{sexp}}solvers/evaluate-{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}solvers/evaluate-{{ssolver}}-nfe{{snfe}}.tsv"


rule sfd_gits:
    input:
        model=sfd_teacher_model,
    output:
        samples=temp(SFD_PATHS["gits_samples"]),
        schedule=SFD_PATHS["gits_schedule"],
    params:
        hp=lambda w: json.dumps({k: sfd_view(w)["sfd"][k] for k in ("gits", "grid")}
                                | {"solver": sfd_view(w)["sfd"]["solvers"][w.ssolver]},
                                sort_keys=True) + hp("sampling", "evaluation", "device"),
        view=sfd_args,
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/sfd/{{sexp}}gits/{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}gits/{{ssolver}}-nfe{{snfe}}.tsv"
    shell:
        "{DISTILL} sfd-gits {CLI_ARGS} {params.view} --threads {threads} --solver {wildcards.ssolver} "
        "--nfe {wildcards.snfe} "
        "--teacher {input.model} --out {output.samples} --schedule {output.schedule} > {log} 2>&1"


use rule evaluate as sfd_gits_evaluate with:
    input:
        samples=SFD_PATHS["gits_samples"],
        reference=sfd_reference,
        extractor=extractor_weights(),
    output:
        metrics=SFD_PATHS["gits_metrics"],
        grid=report(SFD_PATHS["gits_grid"], caption="report/grid.rst", category="SFD samples",
                    labels={"run": "GITS {ssolver}", "num_steps": "NFE {snfe}"}),
    log:
        f"{LOGS}/sfd/{{sexp}}gits/evaluate-{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/{{sexp}}gits/evaluate-{{ssolver}}-nfe{{snfe}}.tsv"


rule sfd_report:
    input:
        metrics=sfd_all_metrics,
        summaries=lambda w: [sfd_paths(w)["student"].format(srun=r) + "/summary.json"
                             for r in sfd_view(w)["sfd"]["runs"]],
        others=sfd_other_rows,
        floor=sfd_floor,
        profile=str(PROFILE_STAMP),
    output:
        pdf=report(SFD_PATHS["pdf"], caption="report/sfd.rst", category="Simple and Fast Distillation"),
        csv=SFD_PATHS["csv"],
        json=SFD_PATHS["json"],
        rows=SFD_PATHS["rows"],
        plots=directory(SFD_PATHS["plots"]),
    params:
        hp=lambda w: json.dumps(sfd_view(w)["sfd"], sort_keys=True),
        spread_sha=lambda w: "".join(read_if_present(f"{RESULTS}/spread/{m}.csv") for m in ("sfd", "pd", "kd")),
        view=sfd_args,
    log:
        f"{LOGS}/sfd/report{{stag}}.log",
    shell:
        "{DISTILL} sfd-report {CLI_ARGS} {params.view} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} "
        "--json {output.json} --rows {output.rows} --plots {output.plots} --floor {input.floor} "
        "--others {input.others} > {log} 2>&1"


# The students' training-seed spread: every run without an ablation trained again with each sfd.spread_seeds seed
# from the same teacher (a target of its own, not in `all`)
rule sfd_spread:
    input:
        metrics=lambda w: [p for *_, p in S.spread_points(CFG, RESULTS)[0]],
    output:
        pdf=report("reports/sfd_spread.pdf", caption="report/sfd.rst", category="Simple and Fast Distillation"),
        csv=f"{RESULTS}/spread/sfd.csv",
    params:
        hp=lambda w: json.dumps({"runs": S.spread_runs(CFG), "seeds": SFD.get("spread_seeds")}, sort_keys=True),
    log:
        f"{LOGS}/sfd/spread.log",
    shell:
        "{DISTILL} sfd-spread {CLI_ARGS} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"
