# Knowledge distillation (Luhman & Luhman 2021), the one-step baseline of PD Table 2: the teacher's (z_1, x) pairs
# (one job), the one-step student (one job, resumable), its one-step evaluation, its report and results rows.
from distill.experiment_views import method_experiments
from distill.plugins.kd import teacher_run
from distill.plugins.kd import SAMPLER as KD_SAMPLER, STEPS as KD_STEPS, paths as kd_paths


def kd_spread_points():
    from distill.plugins.kd import spread_points

    return spread_points(CFG, RESULTS)[0]

KD_EXPS = method_experiments(CFG, "kd")  # kd.experiments, and their copies with kd.spread_seeds (<name>_s<seed>)
KD = kd_paths(RESULTS, "{kexp}")  # the file layout, shared with the report (distill/reports/kd.py)


def kd_teacher(w):
    return f"{RESULTS}/teachers/{teacher_run(KD_EXPS[w.kexp])}/model.safetensors"


def kd_hp(w, *keys):
    e = KD_EXPS[w.kexp]
    return json.dumps({k: e[k] for k in keys} | {"device": CFG["device"]}, sort_keys=True)


def kd_kept():
    return [path for name in CFG["kd"]["experiments"] for path in (kd_paths(RESULTS, name)["pairs"],
                                                  kd_paths(RESULTS, name)["student"] + "/model.safetensors",
                                                  kd_paths(RESULTS, name)["student"] + "/summary.json")]


KEPT["kd"] = kd_kept


wildcard_constraints:
    kexp="|".join(KD_EXPS),  # the experiments and their copies only: reports/kd_spread.pdf is another rule's


rule kd_pairs:
    input:
        teacher=kd_teacher,
    output:
        KD["pairs"],
    params:
        hp=lambda w: kd_hp(w, "teacher_steps", "pairs", "pairs_first_seed") + hp("sampling"),
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/kd/{{kexp}}/pairs.log",
    benchmark:
        f"{BENCH}/kd/{{kexp}}/pairs.tsv"
    shell:
        "{DISTILL} kd-pairs {CLI_ARGS} --experiment {wildcards.kexp} --threads {threads} --teacher {input.teacher} "
        "--out {output} > {log} 2>&1"


rule kd_train:
    input:
        teacher=kd_teacher,
        pairs=KD["pairs"],
    output:
        weights=KD["student"] + "/model.safetensors",
        summary=KD["student"] + "/summary.json",
    params:
        hp=lambda w: kd_hp(w, "updates", "train", "seed") + training_hp(),
        out=KD["student"],
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/kd/{{kexp}}/train.log",
    benchmark:
        f"{BENCH}/kd/{{kexp}}/train.tsv"
    shell:
        "{DISTILL} kd-train {CLI_ARGS} --experiment {wildcards.kexp} --threads {threads} --overwrite "
        "--teacher {input.teacher} --pairs {input.pairs} --out {params.out} > {log} 2>&1"


rule kd_sample:
    input:
        model=KD["student"] + "/model.safetensors",
    output:
        temp(KD["samples"]),
    params:
        hp=hp("sampling", "evaluation", "device"),
        sampler=KD_SAMPLER,
        steps=KD_STEPS,
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/kd/{{kexp}}/sample.log",
    benchmark:
        f"{BENCH}/kd/{{kexp}}/sample.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} --threads {threads} --model {input.model} --sampler {params.sampler} --steps {params.steps} "
        "--out {output} > {log} 2>&1"


use rule evaluate as kd_evaluate with:
    input:
        samples=KD["samples"],
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        metrics=KD["metrics"],
        grid=report(KD["grid"], caption="report/grid.rst",
                    category="Knowledge distillation samples", labels={"experiment": "{kexp}", "steps": "1"}),
    log:
        f"{LOGS}/kd/{{kexp}}/evaluate.log",
    benchmark:
        f"{BENCH}/kd/{{kexp}}/evaluate.tsv"


rule kd_report:
    input:
        metrics=KD["metrics"],
        summary=KD["student"] + "/summary.json",
        floor=floor_path(),
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/kd_{kexp}.pdf", caption="report/kd.rst", category="Knowledge distillation"),
        csv="reports/kd_{kexp}.csv",
        json=f"{RESULTS}/kd_{{kexp}}.json",
        rows=f"{RESULTS}/rows/kd-{{kexp}}.csv",
        plots=directory(f"{RESULTS}/plots/kd_{{kexp}}"),
    params:
        hp=lambda w: json.dumps(KD_EXPS[w.kexp], sort_keys=True),
        spread_sha=lambda w: read_if_present(f"{RESULTS}/spread/kd.csv"),
    log:
        f"{LOGS}/kd/{{kexp}}/report.log",
    shell:
        "{DISTILL} kd-report {CLI_ARGS} --experiment {wildcards.kexp} --results {RESULTS} --pdf {output.pdf} "
        "--csv {output.csv} --json {output.json} --rows {output.rows} --plots {output.plots} --floor {input.floor} "
        "> {log} 2>&1"


# The one-step students' training-seed spread: every experiment trained again with each kd.spread_seeds seed from the
# Table 1 teacher of that seed (a target of its own, not in `all`)
rule kd_spread:
    input:
        metrics=lambda w: [p for *_, p in kd_spread_points()],
    output:
        pdf=report("reports/kd_spread.pdf", caption="report/kd.rst", category="Knowledge distillation"),
        csv=f"{RESULTS}/spread/kd.csv",
    params:
        hp=lambda w: json.dumps({"kd": KD_EXPS}, sort_keys=True),
    log:
        f"{LOGS}/kd/spread.log",
    shell:
        "{DISTILL} kd-spread {CLI_ARGS} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"
