# DisBack (Zhang et al. 2025). For each experiment of disback.experiments: the degradation path of its Table 1
# teacher (stage 1, one job), one job per run (DisBack and the baseline at every training seed, the ablation's DisBack
# runs), one evaluation job per run (every saved point and the final generator), the report; and the toy2d
# experiment (one CPU job) with its report.
from distill.plugins import disback as DB

DISBACK_EXPS = CFG["disback"]["experiments"]
DISBACK_TOY = CFG["disback"].get("toy2d")
# (the evaluation points and runs were checked with params.yaml: distill/plugins/disback.py `check`)


def disback_paths(exp):
    return DB.paths(RESULTS, exp)


def disback_teacher(w):
    return f"{RESULTS}/teachers/{DB.teacher_run(DISBACK_EXPS[w.dexp])}/model.safetensors"


def disback_hp(w, *keys):
    e = DISBACK_EXPS[w.dexp]
    return json.dumps({k: e[k] for k in keys} | {"device": CFG["device"]}, sort_keys=True)


def disback_path_of(w):
    """DisBack's runs read the path; the baseline's do not."""
    if DB.run_settings(DISBACK_EXPS[w.dexp], w.drun)["method"] == "disback":
        return disback_paths(w.dexp)["path"] + "/summary.json"
    return []


def disback_path_arg(w):
    if DB.run_settings(DISBACK_EXPS[w.dexp], w.drun)["method"] == "disback":
        return f"--path {disback_paths(w.dexp)['path']}"
    return ""


def disback_others():
    """The rows of the methods whose one-step models share the teacher (the one-step comparison)."""
    return [p for m in ACTIVE_METHODS if m.name in DB.ONE_STEP_METHODS for p in m.rows(CFG, RESULTS)]


def disback_kept():
    out = []
    for exp, e in DISBACK_EXPS.items():
        p = disback_paths(exp)
        out.append(p["path"] + "/summary.json")
        out += [p["run"].format(drun=r) + f for r in DB.runs(e) for f in ("/model.safetensors", "/summary.json")]
    return out


KEPT["disback"] = disback_kept


wildcard_constraints:
    dexp="|".join(DISBACK_EXPS),  # the experiments' names only: reports/disback_toy2d.pdf is the toy2d report's
    drun="(disback|baseline)-[sni][0-9]+",


rule disback_path:
    input:
        teacher=disback_teacher,
    output:
        summary=disback_paths("{dexp}")["path"] + "/summary.json",
    params:
        hp=lambda w: disback_hp(w, "core", "path", "train", "ablation") + training_hp(),
        out=disback_paths("{dexp}")["path"],
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/disback/{{dexp}}/path.log",
    benchmark:
        f"{BENCH}/disback/{{dexp}}/path.tsv"
    shell:
        "{DISTILL} disback-path {CLI_ARGS} --experiment {wildcards.dexp} --threads {threads} --overwrite "
        "--teacher {input.teacher} --out {params.out} > {log} 2>&1"


rule disback_train:
    input:
        teacher=disback_teacher,
        path=disback_path_of,
    output:
        weights=disback_paths("{dexp}")["run"] + "/model.safetensors",
        summary=disback_paths("{dexp}")["run"] + "/summary.json",
    params:
        hp=lambda w: disback_hp(w, "core", "path", "stage_two", "train", "eval_every", "seeds") + training_hp(),
        out=disback_paths("{dexp}")["run"],
        path=disback_path_arg,
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/disback/{{dexp}}/{{drun}}/train.log",
    benchmark:
        f"{BENCH}/disback/{{dexp}}/{{drun}}/train.tsv"
    shell:
        "{DISTILL} disback-train {CLI_ARGS} --experiment {wildcards.dexp} --threads {threads} --overwrite "
        "--teacher {input.teacher} --run {wildcards.drun} {params.path} --out {params.out} > {log} 2>&1"


rule disback_curve:
    input:
        teacher=disback_teacher,
        path=disback_path_of,
        weights=disback_paths("{dexp}")["run"] + "/model.safetensors",
        summary=disback_paths("{dexp}")["run"] + "/summary.json",
        reference=lambda w: experiment_reference("disback", w.dexp),
        extractor=extractor_weights(),
    output:
        curve=disback_paths("{dexp}")["metrics"] + "/curve.csv",
        final=disback_paths("{dexp}")["metrics"] + "/final.json",
    params:
        hp=lambda w: disback_hp(w, "curve", "core") + hp("sampling", "evaluation", "device"),
        run_dir=disback_paths("{dexp}")["run"],
        out=disback_paths("{dexp}")["metrics"],
        path=disback_path_arg,
    threads: CFG["threads"]["evaluate"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/disback/{{dexp}}/{{drun}}/curve.log",
    benchmark:
        f"{BENCH}/disback/{{dexp}}/{{drun}}/curve.tsv"
    shell:
        "{DISTILL} disback-curve {CLI_ARGS} --experiment {wildcards.dexp} --threads {threads} --teacher {input.teacher} "
        "--run {wildcards.drun} --run-dir {params.run_dir} {params.path} --reference {input.reference} "
        "--extractor-weights {input.extractor} --out-dir {params.out} > {log} 2>&1"


rule disback_report:
    input:
        curves=lambda w: [disback_paths(w.dexp)["metrics"].format(drun=r) + f for r in DB.runs(DISBACK_EXPS[w.dexp])
                          for f in ("/curve.csv", "/final.json")],
        summaries=lambda w: [disback_paths(w.dexp)["run"].format(drun=r) + "/summary.json"
                             for r in DB.runs(DISBACK_EXPS[w.dexp])],
        path=lambda w: disback_paths(w.dexp)["path"] + "/summary.json",
        floor=lambda w: experiment_floor("disback", w.dexp),
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/disback_{dexp}.pdf", caption="report/disback.rst", category="DisBack"),
        csv="reports/disback_{dexp}.csv",
        json=f"{RESULTS}/disback_{{dexp}}.json",
        rows=f"{RESULTS}/rows/disback-{{dexp}}.csv",
    params:
        hp=lambda w: json.dumps(DISBACK_EXPS[w.dexp], sort_keys=True),
        # the one-step comparison reads the other methods' rows where they are present (never built for it: as
        # inputs they would make `snakemake -- disback` run PD, KD and SFD); their sha256 reruns the report
        others=lambda w: " ".join(p for p in disback_others() if Path(p).exists()),
        others_sha=lambda w: [read_if_present(p) for p in disback_others()],
    log:
        f"{LOGS}/disback/{{dexp}}/report.log",
    shell:
        "{DISTILL} disback-report {CLI_ARGS} --experiment {wildcards.dexp} --results {RESULTS} --pdf {output.pdf} "
        "--csv {output.csv} --json {output.json} --rows {output.rows} --floor {input.floor} "
        "--others {params.others} > {log} 2>&1"


if DISBACK_TOY:

    rule disback_toy2d:
        output:
            curves=f"{RESULTS}/disback_toy2d/curves.csv",
            summary=f"{RESULTS}/disback_toy2d/summary.json",
        params:
            hp=json.dumps(DISBACK_TOY, sort_keys=True),
            out=f"{RESULTS}/disback_toy2d",
        threads: 1
        resources:
            mem_mb=2000,
        log:
            f"{LOGS}/disback/toy2d.log",
        benchmark:
            f"{BENCH}/disback/toy2d.tsv"
        shell:
            "{DISTILL} disback-toy2d {CLI_ARGS} --threads {threads} --out {params.out} > {log} 2>&1"

    rule disback_toy2d_report:
        input:
            curves=f"{RESULTS}/disback_toy2d/curves.csv",
            profile=str(PROFILE_STAMP),
        output:
            pdf=report("reports/disback_toy2d.pdf", caption="report/disback_toy2d.rst", category="DisBack"),
            csv="reports/disback_toy2d.csv",
            json=f"{RESULTS}/disback_toy2d.json",
        params:
            hp=json.dumps(DISBACK_TOY, sort_keys=True),
        log:
            f"{LOGS}/disback/toy2d_report.log",
        shell:
            "{DISTILL} disback-toy2d-report {CLI_ARGS} --curves {input.curves} --pdf {output.pdf} --csv {output.csv} "
            "--json {output.json} > {log} 2>&1"


if DISBACK_TOY and DISBACK_TOY.get("trend"):

    # The budget trend: toy2d run again with disback.toy2d.trend's settings multiplied by each factor, its claims
    # checked at each budget (a target of its own, not in `all`)
    rule disback_toy2d_trend_run:
        output:
            curves=f"{RESULTS}/disback_toy2d_x{{factor}}/curves.csv",
            summary=f"{RESULTS}/disback_toy2d_x{{factor}}/summary.json",
        params:
            hp=json.dumps(DISBACK_TOY, sort_keys=True),
            out=f"{RESULTS}/disback_toy2d_x{{factor}}",
        threads: 1
        resources:
            mem_mb=2000,
        log:
            f"{LOGS}/disback/toy2d_x{{factor}}.log",
        benchmark:
            f"{BENCH}/disback/toy2d_x{{factor}}.tsv"
        shell:
            "{DISTILL} disback-toy2d {CLI_ARGS} --threads {threads} --factor {wildcards.factor} --out {params.out} "
            "> {log} 2>&1"

    rule disback_toy2d_trend_report:
        input:
            curves=f"{RESULTS}/disback_toy2d_x{{factor}}/curves.csv",
        output:
            pdf=f"{RESULTS}/trend/disback_toy2d_x{{factor}}.pdf",
            csv=f"{RESULTS}/trend/disback_toy2d_x{{factor}}.csv",
            json=f"{RESULTS}/disback_toy2d_x{{factor}}.json",
        log:
            f"{LOGS}/disback/toy2d_x{{factor}}_report.log",
        shell:
            "{DISTILL} disback-toy2d-report {CLI_ARGS} --curves {input.curves} --pdf {output.pdf} --csv {output.csv} "
            "--json {output.json} > {log} 2>&1"

    rule disback_trend:
        input:
            summaries=[f"{RESULTS}/disback_toy2d.json"]
                      + [f"{RESULTS}/disback_toy2d_x{k}.json" for k in DISBACK_TOY["trend"]["factors"]],
        output:
            pdf=report("reports/disback_trend.pdf", caption="report/disback_toy2d.rst", category="DisBack"),
            csv=f"{RESULTS}/trend/disback.csv",
        params:
            labels=" ".join(["x1"] + [f"x{k}" for k in DISBACK_TOY["trend"]["factors"]]),
            budgets=", ".join(["x1"] + [f"x{k}" for k in DISBACK_TOY["trend"]["factors"]]),
            hp=json.dumps(DISBACK_TOY["trend"], sort_keys=True),
        log:
            f"{LOGS}/disback/trend.log",
        shell:
            "{DISTILL} claim-trend {CLI_ARGS} --kind disback --summaries {input.summaries} --labels {params.labels} "
            "--title 'DisBack on toy2d (exact truth): the claims at training budgets {params.budgets}' "
            "--pdf {output.pdf} "
            "--csv {output.csv} > {log} 2>&1"
