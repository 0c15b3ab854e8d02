# Guided distillation (Meng et al. 2023), pixel space. For each experiment of guided.experiments: a class-conditional
# teacher trained with label dropout (its own data, network and teacher training; the profile's classifier and
# reference statistics), stage one per line (the w-conditioned student; one per fixed w), one job per stage-two round,
# one sweep job per (model, sampler, steps) that samples and evaluates every w, and the report.
from distill.experiment_views import experiment_profile, method_experiments
from distill.plugins import guided as G

GUIDED_EXPS = method_experiments(CFG, "guided")  # guided.experiments, and copies with guided.spread_seeds
# (the lines, sweeps and step counts were checked with params.yaml: distill/plugins/guided.py `check`)


def guided_paths(exp):
    return G.paths(RESULTS, exp)


def guided_data(w):
    return data_files(experiment_data("guided", w.gexp))


def guided_teacher(w):
    return guided_paths(w.gexp)["teacher"] + "/model.safetensors"


def guided_round_teacher(w):
    """A round's teacher: the line's stage-one student for the first round, else the previous round's student."""
    e = GUIDED_EXPS[w.gexp]
    start, n = e["stage_two"]["start_steps"], int(w.gsteps)
    p = guided_paths(w.gexp)
    if 2 * n == start:
        return p["stage_one"].format(gline=w.gline) + "/model.safetensors"
    return p["round"].format(gline=w.gline, gsteps=2 * n) + "/model.safetensors"


def guided_hp(w, *keys):
    e = GUIDED_EXPS[w.gexp]
    return json.dumps({k: e[k] for k in keys} | {"device": CFG["device"]}, sort_keys=True)


def guided_sweeps(exp):
    return [guided_paths(exp)["sweep"].format(gmodel=m, gsampler=s, gsteps=n) for m, s, n, _ in G.sweeps(GUIDED_EXPS[exp])]


def guided_sweep_weights(w):
    for m, s, n, ws in G.sweeps(GUIDED_EXPS[w.gexp]):
        if (m, s, n) == (w.gmodel, w.gsampler, int(w.gsteps)):
            return ",".join(G.wtag(v) for v in ws)
    return "none"  # not a sweep of params.yaml (a path asked for by hand): guided-sweep refuses it, naming --weights


def guided_summaries(exp):
    e, p = GUIDED_EXPS[exp], guided_paths(exp)
    out = [p["teacher"] + "/summary.json"]
    for line in G.lines(e):
        out.append(p["stage_one"].format(gline=line) + "/summary.json")
        out += [p["round"].format(gline=line, gsteps=n) + "/summary.json" for n in G.line_steps(e, line)]
    return out


def guided_kept():
    return [path for exp in CFG["guided"]["experiments"] for s in guided_summaries(exp)
            for path in (s, s.replace("summary.json", "model.safetensors"))]


KEPT["guided"] = guided_kept


wildcard_constraints:
    gexp="|".join(GUIDED_EXPS),  # the experiments and their copies only: reports/guided_spread.pdf is another rule's
    gline=r"w[0-9.]*",
    gmodel=r"teacher|w[0-9.]*-n\d+",
    gsampler=SAMPLER_NAMES,
    gsteps=r"\d+",


use rule train_teacher as guided_train_teacher with:
    input:
        data=guided_data,
    output:
        weights=f"{RESULTS}/guided/{{gexp}}/teacher/model.safetensors",
        summary=f"{RESULTS}/guided/{{gexp}}/teacher/summary.json",
    params:
        hp=lambda w: json.dumps({k: experiment_profile(CFG, "guided", w.gexp)[k] for k in ("data", "network", "teacher", "device")}
                                | {"run": {k: GUIDED_EXPS[w.gexp][k] for k in ("parameterization", "teacher_weighting", "seed")}},
                                sort_keys=True) + training_hp(),
        out=f"{RESULTS}/guided/{{gexp}}/teacher",
        run=lambda w: {"parameterization": GUIDED_EXPS[w.gexp]["parameterization"],
                       "weighting": GUIDED_EXPS[w.gexp]["teacher_weighting"], "seed": GUIDED_EXPS[w.gexp]["seed"]},
        experiment=lambda w: f"--method guided --experiment {w.gexp}",
    log:
        f"{LOGS}/guided/{{gexp}}/train_teacher.log",
    benchmark:
        f"{BENCH}/guided/{{gexp}}/train_teacher.tsv"


rule guided_stage_one:
    input:
        teacher=guided_teacher,
        data=guided_data,
    output:
        weights=f"{RESULTS}/guided/{{gexp}}/{{gline}}/stage1/model.safetensors",
        summary=f"{RESULTS}/guided/{{gexp}}/{{gline}}/stage1/summary.json",
    params:
        hp=lambda w: guided_hp(w, "train", "stage_one", "w_range", "fixed_w", "seed") + training_hp(),
        out=f"{RESULTS}/guided/{{gexp}}/{{gline}}/stage1",
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/guided/{{gexp}}/{{gline}}/stage1.log",
    benchmark:
        f"{BENCH}/guided/{{gexp}}/{{gline}}/stage1.tsv"
    shell:
        "{DISTILL} guided-stage-one {CLI_ARGS} --experiment {wildcards.gexp} --line {wildcards.gline} "
        "--threads {threads} --overwrite --teacher {input.teacher} --out {params.out} > {log} 2>&1"


rule guided_round:
    priority: 5  # the rounds are the critical path: each waits for the previous one
    input:
        teacher=guided_round_teacher,
        data=guided_data,
    output:
        weights=f"{RESULTS}/guided/{{gexp}}/{{gline}}/n{{gsteps}}/model.safetensors",
        summary=f"{RESULTS}/guided/{{gexp}}/{{gline}}/n{{gsteps}}/summary.json",
    params:
        hp=lambda w: guided_hp(w, "train", "stage_two", "w_range", "fixed_w", "seed") + training_hp(),
        out=f"{RESULTS}/guided/{{gexp}}/{{gline}}/n{{gsteps}}",
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/guided/{{gexp}}/{{gline}}/round_n{{gsteps}}.log",
    benchmark:
        f"{BENCH}/guided/{{gexp}}/{{gline}}/round_n{{gsteps}}.tsv"
    shell:
        "{DISTILL} guided-round {CLI_ARGS} --experiment {wildcards.gexp} --line {wildcards.gline} --threads {threads} "
        "--overwrite --student-steps {wildcards.gsteps} --teacher {input.teacher} --out {params.out} > {log} 2>&1"


rule guided_sweep:
    input:
        model=lambda w: G.model_path(RESULTS, w.gexp, w.gmodel),
        reference=lambda w: experiment_reference("guided", w.gexp),
        extractor=extractor_weights(),
    output:
        directory(f"{RESULTS}/guided_metrics/{{gexp}}/{{gmodel}}/{{gsampler}}-n{{gsteps}}"),
    params:
        hp=lambda w: hp("sampling", "evaluation", "device") + guided_hp(w, "kid_subsets"),
        weights=guided_sweep_weights,
    threads: CFG["threads"]["evaluate"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/guided/{{gexp}}/sweep/{{gmodel}}/{{gsampler}}-n{{gsteps}}.log",
    benchmark:
        f"{BENCH}/guided/{{gexp}}/sweep/{{gmodel}}/{{gsampler}}-n{{gsteps}}.tsv"
    shell:
        "{DISTILL} guided-sweep {CLI_ARGS} --experiment {wildcards.gexp} --threads {threads} --model {wildcards.gmodel} "
        "--sampler {wildcards.gsampler} --steps {wildcards.gsteps} --weights {params.weights} "
        "--reference {input.reference} --extractor-weights {input.extractor} --out-dir {output} > {log} 2>&1"


rule guided_report:
    input:
        sweeps=lambda w: guided_sweeps(w.gexp),
        summaries=lambda w: guided_summaries(w.gexp),
        floor=lambda w: experiment_floor("guided", w.gexp),
        published="results/published/published.csv",
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/guided_{gexp}.pdf", caption="report/guided.rst", category="Guided distillation"),
        csv="reports/guided_{gexp}.csv",
        json=f"{RESULTS}/guided_{{gexp}}.json",
        rows=f"{RESULTS}/rows/guided-{{gexp}}.csv",
        plots=directory(f"{RESULTS}/plots/guided_{{gexp}}"),
    params:
        hp=lambda w: json.dumps(GUIDED_EXPS[w.gexp], sort_keys=True),
        spread_sha=lambda w: read_if_present(f"{RESULTS}/spread/guided.csv"),
        # PD's cost on the same machine, shown beside the stages' where PD's rows are present (never built for it)
        pd_rows=lambda w: [read_if_present(p) for p in sorted(Path(RESULTS, "rows").glob("pd-*.csv"))],
    log:
        f"{LOGS}/guided/{{gexp}}/report.log",
    shell:
        "{DISTILL} guided-report {CLI_ARGS} --experiment {wildcards.gexp} --results {RESULTS} --pdf {output.pdf} "
        "--csv {output.csv} --json {output.json} --rows {output.rows} --plots {output.plots} --floor {input.floor} "
        "> {log} 2>&1"


# The headline numbers' training-seed spread: every experiment run again (teacher, stage one, rounds, fixed-w students)
# with each guided.spread_seeds seed (a target of its own, not in `all`)
rule guided_spread:
    input:
        metrics=lambda w: sorted({str(Path(p).parent) for *_, p in G.spread_points(CFG, RESULTS)[0]}),
    output:
        pdf=report("reports/guided_spread.pdf", caption="report/guided.rst", category="Guided distillation"),
        csv=f"{RESULTS}/spread/guided.csv",
    params:
        hp=lambda w: json.dumps({"guided": GUIDED_EXPS}, sort_keys=True),
    log:
        f"{LOGS}/guided/spread.log",
    shell:
        "{DISTILL} guided-spread {CLI_ARGS} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"


# The budget trend: every experiment run again with its training budgets multiplied by each guided.trend factor
# (<experiment>_x<factor>: the w line only) and its claims checked at each budget (a target of its own, not in `all`)
rule guided_trend:
    input:
        summaries=lambda w: [f"{RESULTS}/guided_{e}.json" for name in CFG["guided"]["experiments"]
                             for e in [name] + [f"{name}_x{k}" for k in CFG["guided"]["trend"]["factors"]]],
    output:
        pdf=report("reports/guided_trend.pdf", caption="report/guided.rst", category="Guided distillation"),
        csv=f"{RESULTS}/trend/guided.csv",
    params:
        labels=lambda w: " ".join(["x1"] + [f"x{k}" for k in CFG["guided"]["trend"]["factors"]]),
        budgets=lambda w: ", ".join(["x1"] + [f"x{k}" for k in CFG["guided"]["trend"]["factors"]]),
        hp=lambda w: json.dumps(CFG["guided"]["trend"], sort_keys=True),
    log:
        f"{LOGS}/guided/trend.log",
    shell:
        "{DISTILL} claim-trend {CLI_ARGS} --kind guided --summaries {input.summaries} --labels {params.labels} "
        "--title 'Guided distillation: the claims at training budgets {params.budgets}' --pdf {output.pdf} "
        "--csv {output.csv} > {log} 2>&1"
