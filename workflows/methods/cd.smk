# Consistency distillation (Song et al. 2023) on the teacher PD, KD and SFD distil: the consistency model (one job,
# resumable), its samples and evaluations at each step count of its time lists, its report and results rows.
from distill.experiment_views import method_experiments
from distill.plugins.cd import paths as cd_paths, step_counts as cd_step_counts, teacher_run as cd_teacher_run

CD_EXPS = method_experiments(CFG, "cd")  # cd.experiments, and their copies with cd.spread_seeds (<name>_s<seed>)
CD = cd_paths(RESULTS, "{cexp}")  # the file layout, shared with the report (distill/reports/cd.py)


def cd_teacher(w):
    return f"{RESULTS}/teachers/{cd_teacher_run(CD_EXPS[w.cexp])}/model.safetensors"


def cd_hp(w, *keys):
    e = CD_EXPS[w.cexp]
    return json.dumps({k: e[k] for k in keys} | {"device": CFG["device"]}, sort_keys=True)


def cd_metrics(w):
    return [CD["metrics"].replace("{k}", str(k)).replace("{cexp}", w.cexp) for k in cd_step_counts(CD_EXPS[w.cexp])]


def cd_kept():
    return [f"{cd_paths(RESULTS, name)['student']}/{f}" for name in CFG["cd"]["experiments"]
            for f in ("model.safetensors", "summary.json")]


def cd_spread_points():
    from distill.plugins.cd import spread_points

    return spread_points(CFG, RESULTS)[0]


def cd_other_rows():
    from distill.reports.cd import other_rows_files

    return other_rows_files(CFG, RESULTS)


KEPT["cd"] = cd_kept


wildcard_constraints:
    cexp="|".join(CD_EXPS),  # the experiments and their copies only: reports/cd_spread.pdf is another rule's
    ck=r"\d+",


rule cd_train:
    input:
        teacher=cd_teacher,
    output:
        weights=CD["student"] + "/model.safetensors",
        summary=CD["student"] + "/summary.json",
    params:
        hp=lambda w: cd_hp(w, "teacher", "seed", "num_scales", "sigma_min", "sigma_max", "rho", "solver", "distance",
                           "target_ema", "updates", "train") + hp("data") + training_hp(),
        out=CD["student"],
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/cd/{{cexp}}/train.log",
    benchmark:
        f"{BENCH}/cd/{{cexp}}/train.tsv"
    shell:
        "{DISTILL} cd-train {CLI_ARGS} --experiment {wildcards.cexp} --threads {threads} --overwrite "
        "--teacher {input.teacher} --out {params.out} > {log} 2>&1"


rule cd_sample:
    input:
        model=CD["student"] + "/model.safetensors",
    output:
        temp(CD["samples"].replace("{k}", "{ck}")),
    params:
        hp=lambda w: cd_hp(w, "multistep", "num_scales", "sigma_min", "sigma_max", "rho") + hp("sampling", "evaluation"),
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/cd/{{cexp}}/sample-n{{ck}}.log",
    benchmark:
        f"{BENCH}/cd/{{cexp}}/sample-n{{ck}}.tsv"
    shell:
        "{DISTILL} cd-sample {CLI_ARGS} --experiment {wildcards.cexp} --threads {threads} --model {input.model} "
        "--steps {wildcards.ck} --out {output} > {log} 2>&1"


use rule evaluate as cd_evaluate with:
    input:
        samples=CD["samples"].replace("{k}", "{ck}"),
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        metrics=CD["metrics"].replace("{k}", "{ck}"),
        grid=report(CD["grid"].replace("{k}", "{ck}"), caption="report/grid.rst", category="Consistency distillation samples",
                    labels={"experiment": "{cexp}", "steps": "{ck}"}),
    log:
        f"{LOGS}/cd/{{cexp}}/evaluate-n{{ck}}.log",
    benchmark:
        f"{BENCH}/cd/{{cexp}}/evaluate-n{{ck}}.tsv"


rule cd_report:
    input:
        metrics=cd_metrics,
        summary=CD["student"] + "/summary.json",
        floor=floor_path(),
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/cd_{cexp}.pdf", caption="report/cd.rst", category="Consistency distillation"),
        csv="reports/cd_{cexp}.csv",
        json=f"{RESULTS}/cd_{{cexp}}.json",
        rows=f"{RESULTS}/rows/cd-{{cexp}}.csv",
        plots=directory(f"{RESULTS}/plots/cd_{{cexp}}"),
    params:
        hp=lambda w: json.dumps(CD_EXPS[w.cexp], sort_keys=True),
        # the other methods' students of the same teacher, shown beside its own where they were made (never a reason
        # to make them: SFD's and PD's runs are targets of their own)
        others=lambda w: [read_if_present(p) for p in cd_other_rows()],
        spread_sha=lambda w: read_if_present(f"{RESULTS}/spread/cd.csv"),
    log:
        f"{LOGS}/cd/{{cexp}}/report.log",
    shell:
        "{DISTILL} cd-report {CLI_ARGS} --experiment {wildcards.cexp} --results {RESULTS} --pdf {output.pdf} "
        "--csv {output.csv} --json {output.json} --rows {output.rows} --plots {output.plots} --floor {input.floor} "
        "> {log} 2>&1"


# The consistency models' training-seed spread: every experiment trained again with each cd.spread_seeds seed from the
# same teacher (a target of its own, not in `all`)
rule cd_spread:
    input:
        metrics=lambda w: [p for *_, p in cd_spread_points()],
    output:
        pdf=report("reports/cd_spread.pdf", caption="report/cd.rst", category="Consistency distillation"),
        csv=f"{RESULTS}/spread/cd.csv",
    params:
        hp=lambda w: json.dumps({"cd": CD_EXPS}, sort_keys=True),
    log:
        f"{LOGS}/cd/spread.log",
    shell:
        "{DISTILL} cd-spread {CLI_ARGS} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"


# The budget trend: every experiment run again with cd.trend's settings multiplied by each factor
# (<experiment>_x<factor>) and its claims checked at each budget (a target of its own, not in `all`)
if CFG["cd"].get("trend"):

    rule cd_trend:
        input:
            summaries=lambda w: [f"{RESULTS}/cd_{e}.json" for name in CFG["cd"]["experiments"]
                                 for e in [name] + [f"{name}_x{k}" for k in CFG["cd"]["trend"]["factors"]]],
        output:
            pdf=report("reports/cd_trend.pdf", caption="report/cd.rst", category="Consistency distillation"),
            csv=f"{RESULTS}/trend/cd.csv",
        params:
            labels=lambda w: " ".join(["x1"] + [f"x{k}" for k in CFG["cd"]["trend"]["factors"]]),
            budgets=lambda w: ", ".join(["x1"] + [f"x{k}" for k in CFG["cd"]["trend"]["factors"]]),
            hp=lambda w: json.dumps(CFG["cd"]["trend"], sort_keys=True),
        log:
            f"{LOGS}/cd/trend.log",
        shell:
            "{DISTILL} claim-trend {CLI_ARGS} --kind cd --summaries {input.summaries} --labels {params.labels} "
            "--title 'Consistency distillation: the claims at training budgets {params.budgets}' --pdf {output.pdf} "
            "--csv {output.csv} > {log} 2>&1"
