# Simple and Fast Distillation (Zhou et al. 2024) on the Table 1 teacher PD and KD distil: the teacher's own EDM
# solvers at a few NFE, one student per run of sfd.runs (SFD, SFD-v, the second stage, the ablations), each student
# sampled with its own recorded Euler grid, every point evaluated, and one report with SFD Table 2's layout.
from distill.plugins import sfd as S

SFD = CFG["sfd"]
SFD_PATHS = S.paths(RESULTS)  # the file layout, shared with the report (distill/reports/sfd.py)


def sfd_teacher_model():
    return f"{RESULTS}/teachers/{S.teacher_run(CFG)}/model.safetensors"


def sfd_train_inputs(w):
    settings = S.run_settings(CFG, w.srun)
    if settings["kind"] == "second-stage":
        out = {"teacher": SFD_PATHS["student"].format(srun=settings["teacher_run"]) + "/model.safetensors"}
        if settings["perceptual"]["kind"] == "classifier":
            out["classifier"] = f"{RESULTS}/classifier/model.safetensors"
        return out
    return {"teacher": sfd_teacher_model()}


def sfd_solver_args(w):
    s, n = SFD["solvers"][w.ssolver], S.solver_steps(CFG, w.ssolver, int(w.snfe))
    name, grid_options = S.solver_grid(CFG, w.ssolver)
    grid = " ".join(f"--grid-option {k}={v}" for k, v in grid_options.items())
    options = " ".join(f"--option {k}={str(v).lower()}" for k, v in s["options"].items())
    return f"--sampler {s['sampler']} --grid {name} {grid} --steps {n} {options}"


def sfd_all_metrics():
    return ([SFD_PATHS["metrics"].format(srun=r, sn=n) for r, n in S.student_points(CFG)]
            + [SFD_PATHS["curve"].format(srun=r) for r in S.curve_runs(CFG)]
            + [SFD_PATHS["solver_metrics"].format(ssolver=s, snfe=nfe) for s, nfe in S.solver_points(CFG)]
            + [SFD_PATHS[k].format(ssolver=s, snfe=nfe) for s, nfe in S.gits_points(CFG)
               for k in ("gits_metrics", "gits_schedule")])


def sfd_other_rows():
    """The results-table parts of the other methods whose rows SFD Table 2 lists (PD, KD: SFD's card gathers them
    from PD Table 2); none when SFD distils an imported EDM network, which no other method distils."""
    from distill.registry import active

    if SFD["teacher"].get("edm"):
        return []

    sources = {("SFD", "Table 2")} | S.METHOD.gathered_from()  # the tables whose rows SFD Table 2 lists (its card)
    return [p for m in active(CFG) if m.name != "sfd" and sources & set(m.reproduces) for p in m.rows(CFG, RESULTS)]


def sfd_kept():
    return [SFD_PATHS["student"].format(srun=r) + f"/{f}" for r in SFD["runs"]
            for f in ("model.safetensors", "summary.json")]


KEPT["sfd"] = sfd_kept


wildcard_constraints:
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
        hp=lambda w: json.dumps(S.run_settings(CFG, w.srun), sort_keys=True) + training_hp(),
        out=SFD_PATHS["student"],
        classifier=lambda w, input: f"--classifier {input.classifier}" if "classifier" in input.keys() else "",
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/sfd/{{srun}}/train.log",
    benchmark:
        f"{BENCH}/sfd/{{srun}}/train.tsv"
    shell:
        "{DISTILL} sfd-train {CLI_ARGS} --run {wildcards.srun} --threads {threads} --overwrite "
        "--teacher {input.teacher} {params.classifier} --out {params.out} > {log} 2>&1"


rule sfd_sample:
    input:
        model=SFD_PATHS["student"] + "/model.safetensors",
    output:
        temp(SFD_PATHS["samples"]),
    params:
        hp=hp("sampling", "evaluation", "device"),
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/sfd/{{srun}}/sample-n{{sn}}.log",
    benchmark:
        f"{BENCH}/sfd/{{srun}}/sample-n{{sn}}.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} --threads {threads} --model {input.model} --steps {wildcards.sn} "
        "--out {output} > {log} 2>&1"


rule sfd_solver_sample:
    input:
        model=sfd_teacher_model(),
    output:
        temp(SFD_PATHS["solver_samples"]),
    params:
        hp=hp("sampling", "evaluation", "device"),
        args=sfd_solver_args,
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/sfd/solvers/{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/solvers/{{ssolver}}-nfe{{snfe}}.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} --threads {threads} --model {input.model} {params.args} --out {output} "
        "> {log} 2>&1"


rule sfd_curve:
    input:
        model=SFD_PATHS["student"] + "/model.safetensors",
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        directory(SFD_PATHS["curve"]),
    params:
        hp=lambda w: hp("sampling", "evaluation", "device") + json.dumps(SFD.get("curve"), sort_keys=True),
    threads: CFG["threads"]["evaluate"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/sfd/{{srun}}/curve.log",
    benchmark:
        f"{BENCH}/sfd/{{srun}}/curve.tsv"
    shell:
        "{DISTILL} sfd-curve {CLI_ARGS} --threads {threads} --run {wildcards.srun} --model {input.model} "
        "--reference {input.reference} --extractor-weights {input.extractor} --out-dir {output} > {log} 2>&1"


use rule evaluate as sfd_evaluate with:
    input:
        samples=SFD_PATHS["samples"],
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        metrics=SFD_PATHS["metrics"],
        grid=report(SFD_PATHS["grid"], caption="report/grid.rst", category="SFD samples",
                    labels={"run": "{srun}", "num_steps": "{sn}"}),
    log:
        f"{LOGS}/sfd/{{srun}}/evaluate-n{{sn}}.log",
    benchmark:
        f"{BENCH}/sfd/{{srun}}/evaluate-n{{sn}}.tsv"


use rule evaluate as sfd_solver_evaluate with:
    input:
        samples=SFD_PATHS["solver_samples"],
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        metrics=SFD_PATHS["solver_metrics"],
        grid=report(SFD_PATHS["solver_grid"], caption="report/grid.rst", category="SFD samples",
                    labels={"run": "teacher {ssolver}", "num_steps": "NFE {snfe}"}),
    log:
        f"{LOGS}/sfd/solvers/evaluate-{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/solvers/evaluate-{{ssolver}}-nfe{{snfe}}.tsv"


rule sfd_gits:
    input:
        model=sfd_teacher_model(),
    output:
        samples=temp(SFD_PATHS["gits_samples"]),
        schedule=SFD_PATHS["gits_schedule"],
    params:
        hp=lambda w: json.dumps({"gits": SFD["gits"], "solver": SFD["solvers"][w.ssolver], "grid": SFD["grid"]},
                                sort_keys=True) + hp("sampling", "evaluation", "device"),
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/sfd/gits/{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/gits/{{ssolver}}-nfe{{snfe}}.tsv"
    shell:
        "{DISTILL} sfd-gits {CLI_ARGS} --threads {threads} --solver {wildcards.ssolver} --nfe {wildcards.snfe} "
        "--teacher {input.model} --out {output.samples} --schedule {output.schedule} > {log} 2>&1"


use rule evaluate as sfd_gits_evaluate with:
    input:
        samples=SFD_PATHS["gits_samples"],
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        metrics=SFD_PATHS["gits_metrics"],
        grid=report(SFD_PATHS["gits_grid"], caption="report/grid.rst", category="SFD samples",
                    labels={"run": "GITS {ssolver}", "num_steps": "NFE {snfe}"}),
    log:
        f"{LOGS}/sfd/gits/evaluate-{{ssolver}}-nfe{{snfe}}.log",
    benchmark:
        f"{BENCH}/sfd/gits/evaluate-{{ssolver}}-nfe{{snfe}}.tsv"


rule sfd_report:
    input:
        metrics=sfd_all_metrics(),
        summaries=[SFD_PATHS["student"].format(srun=r) + "/summary.json" for r in SFD["runs"]],
        others=sfd_other_rows(),
        floor=floor_path(),
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/sfd.pdf", caption="report/sfd.rst", category="Simple and Fast Distillation"),
        csv="reports/sfd.csv",
        json=f"{RESULTS}/sfd.json",
        rows=f"{RESULTS}/rows/sfd.csv",
        plots=directory(f"{RESULTS}/plots/sfd"),
    params:
        hp=json.dumps(SFD, sort_keys=True),
        spread_sha=lambda w: "".join(read_if_present(f"{RESULTS}/spread/{m}.csv") for m in ("sfd", "pd", "kd")),
    log:
        f"{LOGS}/sfd/report.log",
    shell:
        "{DISTILL} sfd-report {CLI_ARGS} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} "
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
