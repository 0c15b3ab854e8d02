# Progressive Distillation (PD Algorithm 2, Fig. 4, Table 2). For each experiment of pd.experiments: a teacher, one
# job per halving round (its student is the next round's teacher), and the samples and evaluations of Fig. 4.
from distill.experiment_views import experiment_profile, method_experiments, spread_experiment
from distill.plugins import pd_layout as L

PD = CFG["pd"]
PD_EXPS = method_experiments(CFG, "pd")  # pd.experiments, and their copies with pd.spread_seeds (<name>_s<seed>)
# (pd.table2, the steps and the feature extractor were checked with params.yaml: distill/plugins/pd.py `check`)


def table2_rows():
    """The results-table parts of every method that reproduces a row of PD Table 2 (from the registry)."""
    from distill.reports.table2 import contributors

    return [path for m in contributors(CFG) for path in m.rows(CFG, RESULTS)]


def pd_model(exp, model):
    return L.model_dir(RESULTS, exp, PD_EXPS[exp], model) + "/model.safetensors"


def pd_reference(exp):
    """Reference statistics of an experiment's data set: the profile's unless it has data of its own."""
    return experiment_reference("pd", exp)


def pd_floor(exp):
    """The protocol's FID floor for an experiment's data set: the profile's unless it has data of its own."""
    return experiment_floor("pd", exp)


def pd_round_hp(w):
    """Only this round's settings: changing a late round's settings reruns that round and what follows it."""
    e = PD_EXPS[w.exp]
    return json.dumps({"train": e["train"], "weighting": e["weighting"], "seed": e["seed"], "device": CFG["device"],
                       "updates": L.round_updates(e, int(w.steps)), "teacher_steps": e["teacher_steps"]}, sort_keys=True) \
        + training_hp()


def pd_report_inputs(exp):
    e = PD_EXPS[exp]
    return {
        "metrics": [L.metrics_path(RESULTS, exp, ev) for ev in L.all_evaluations(e, PD["gammas"], L.table2_steps(CFG, exp))],
        "summaries": [L.model_dir(RESULTS, exp, e, m) + "/summary.json"
                      for m in [L.TEACHER] + [L.student_name(n) for n in L.student_steps(e["teacher_steps"])]],
        "published": "results/published/published.csv",
        "floor": pd_floor(exp),
        "profile": str(PROFILE_STAMP),
    }


def pd_kept():
    return [L.model_dir(RESULTS, name, e, m) + f"/{f}" for name, e in PD["experiments"].items()
            for m in [L.TEACHER] + [L.student_name(n) for n in L.student_steps(e["teacher_steps"])]
            for f in ("model.safetensors", "summary.json")] + [pd_reference(name) for name in PD["experiments"]]


KEPT["pd"] = pd_kept


wildcard_constraints:
    exp="[a-z0-9_]+",


def pd_data(w):
    return data_files(experiment_profile(CFG, "pd", w.exp)["data"])


use rule train_teacher as pd_train_teacher with:
    input:
        data=pd_data,
    output:
        weights=f"{RESULTS}/pd/{{exp}}/teacher/model.safetensors",
        summary=f"{RESULTS}/pd/{{exp}}/teacher/summary.json",
    params:
        hp=lambda w: json.dumps({k: experiment_profile(CFG, "pd", w.exp)[k] for k in ("data", "network", "teacher", "device")}
                                | {"experiment": PD_EXPS[w.exp]}, sort_keys=True) + training_hp(),
        out=f"{RESULTS}/pd/{{exp}}/teacher",
        run=lambda w: {"parameterization": PD_EXPS[w.exp]["parameterization"],
                       "weighting": PD_EXPS[w.exp]["teacher_weighting"], "seed": PD_EXPS[w.exp]["seed"]},
        experiment=lambda w: f"--method pd --experiment {w.exp}",
    log:
        f"{LOGS}/pd/{{exp}}/train_teacher.log",
    benchmark:
        f"{BENCH}/pd/{{exp}}/train_teacher.tsv"


rule pd_round:
    priority: 5  # the rounds are the critical path: each waits for the previous one
    input:
        teacher=lambda w: pd_model(w.exp, L.previous_model(int(w.steps), PD_EXPS[w.exp]["teacher_steps"])),
        data=pd_data,
    output:
        weights=f"{RESULTS}/pd/{{exp}}/n{{steps}}/model.safetensors",
        summary=f"{RESULTS}/pd/{{exp}}/n{{steps}}/summary.json",
    wildcard_constraints:
        steps=r"\d+",
    params:
        hp=pd_round_hp,
        out=f"{RESULTS}/pd/{{exp}}/n{{steps}}",
    threads: CFG["threads"]["distill"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/pd/{{exp}}/round_n{{steps}}.log",
    benchmark:
        f"{BENCH}/pd/{{exp}}/round_n{{steps}}.tsv"
    shell:
        "{DISTILL} pd-round {CLI_ARGS} --experiment {wildcards.exp} --threads {threads} --overwrite "
        "--student-steps {wildcards.steps} --teacher {input.teacher} --out {params.out} > {log} 2>&1"


rule pd_sample:
    input:
        model=lambda w: pd_model(w.exp, w.model),
    output:
        temp(f"{RESULTS}/pd_samples/{{exp}}/{{model}}/{{spec}}-n{{steps}}.npz"),
    wildcard_constraints:
        model=r"teacher|n\d+",
        spec=rf"({SAMPLER_NAMES})(-g[0-9.]+)?",
        steps=r"\d+",
    params:
        hp=hp("sampling", "evaluation", "device"),
        sampler=lambda w: L.parse_spec(w.spec)[0],
        gamma=lambda w: "" if w.spec == "ddim" else f"--gamma {L.parse_spec(w.spec)[1]}",
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/pd/{{exp}}/sample/{{model}}/{{spec}}-n{{steps}}.log",
    benchmark:
        f"{BENCH}/pd/{{exp}}/sample/{{model}}/{{spec}}-n{{steps}}.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} --threads {threads} --model {input.model} --sampler {params.sampler} "
        "--steps {wildcards.steps} {params.gamma} --out {output} > {log} 2>&1"


use rule evaluate as pd_evaluate with:
    input:
        samples=f"{RESULTS}/pd_samples/{{exp}}/{{model}}/{{spec}}-n{{steps}}.npz",
        reference=lambda w: pd_reference(w.exp),
        extractor=extractor_weights(),
    output:
        metrics=f"{RESULTS}/pd_metrics/{{exp}}/{{model}}/{{spec}}-n{{steps}}.json",
        grid=report(f"{RESULTS}/pd_metrics/{{exp}}/{{model}}/{{spec}}-n{{steps}}.png", caption="report/grid.rst",
                    category="Progressive Distillation samples",
                    labels={"experiment": "{exp}", "model": "{model}", "sampler": "{spec}", "steps": "{steps}"}),
    log:
        f"{LOGS}/pd/{{exp}}/evaluate/{{model}}/{{spec}}-n{{steps}}.log",
    benchmark:
        f"{BENCH}/pd/{{exp}}/evaluate/{{model}}/{{spec}}-n{{steps}}.tsv"


rule pd_fig4:
    input:
        unpack(lambda w: pd_report_inputs(w.exp)),
    output:
        pdf=report("reports/pd_fig4_{exp}.pdf", caption="report/pd_fig4.rst", category="Progressive Distillation"),
        csv="reports/pd_fig4_{exp}.csv",
        json=f"{RESULTS}/pd_{{exp}}.json",
        rows=f"{RESULTS}/rows/pd-{{exp}}.csv",
        plots=directory(f"{RESULTS}/plots/pd_{{exp}}"),
    params:
        hp=lambda w: json.dumps({"pd": PD_EXPS[w.exp], "gammas": PD["gammas"], "table2": L.table2_steps(CFG, w.exp)},
                                sort_keys=True),
        results=RESULTS,
        benchmarks=BENCH,
    log:
        f"{LOGS}/pd/{{exp}}/fig4.log",
    shell:
        "{DISTILL} pd-report {CLI_ARGS} --experiment {wildcards.exp} --results {params.results} "
        "--published {input.published} --benchmarks {params.benchmarks} --pdf {output.pdf} --csv {output.csv} "
        "--json {output.json} --rows {output.rows} --plots {output.plots} --floor {input.floor} > {log} 2>&1"


rule pd_table2:
    input:
        rows=table2_rows(),
        published="results/published/published.csv",
        floor=pd_floor(PD["table2"]) if PD["table2"] in PD_EXPS else floor_path(),
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/table2.pdf", caption="report/table2.rst", category="Progressive Distillation"),
        csv="reports/table2.csv",
    params:
        spread=f"{RESULTS}/spread/pd.csv {RESULTS}/spread/kd.csv",  # shown where measured (pd_spread, kd_spread)
        spread_sha=lambda w: read_if_present(f"{RESULTS}/spread/pd.csv") + read_if_present(f"{RESULTS}/spread/kd.csv"),
    log:
        f"{LOGS}/pd/table2.log",
    shell:
        "{DISTILL} table2 {CLI_ARGS} --rows {input.rows} --published {input.published} --pdf {output.pdf} "
        "--csv {output.csv} --spread {params.spread} --floor {input.floor} > {log} 2>&1"


def pd_spread_runs():
    """Every experiment with its spread copies: (experiment, training seed, name of the run's files)."""
    return [(name, e["seed"], name) for name, e in PD["experiments"].items()] + [
        (name, seed, spread_experiment(name, seed)) for name in PD["experiments"] for seed in PD.get("spread_seeds") or []]


# The students' training-seed spread: every experiment distilled again from the teacher of each pd.spread_seeds seed
# (a target of its own, not in `all`), each student evaluated with DDIM at its own steps (PD Table 2's numbers).
rule pd_spread:
    input:
        metrics=[L.metrics_path(RESULTS, run, e) for _, _, run in pd_spread_runs()
                 for e in L.spread_evaluations(PD_EXPS[run])],
        floor=floor_path(),  # named in its caption
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/pd_spread.pdf", caption="report/pd_fig4.rst", category="Progressive Distillation"),
        csv=f"{RESULTS}/spread/pd.csv",
    params:
        hp=lambda w: json.dumps({"pd": PD_EXPS, "spread_seeds": PD.get("spread_seeds")}, sort_keys=True),
    log:
        f"{LOGS}/pd/spread.log",
    shell:
        "{DISTILL} pd-spread {CLI_ARGS} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"
