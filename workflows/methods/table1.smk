# PD Table 1: the parameterization x weighting grid, reproduced beside the published CIFAR-10 numbers.

rule pd_table1:
    input:
        metrics=[f"{RESULTS}/metrics/{r}/{s}.json" for r in table1_runs() for s in CFG["table1"]["samplers"]],
        summaries=[f"{RESULTS}/teachers/{r}/summary.json" for r in table1_runs()],
        published="results/published/published.csv",
        floor=floor_path(),
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/table1.pdf", caption="report/table1.rst", category="Progressive Distillation"),
        csv="reports/table1.csv",
        json=f"{RESULTS}/table1.json",
        rows=f"{RESULTS}/rows/table1.csv",
        plots=directory(f"{RESULTS}/plots/table1"),
    params:
        hp=hp("table1"),
        results=RESULTS,
        benchmarks=BENCH,
        spread=f"{RESULTS}/spread/table1.csv",  # shown where measured for these numbers (table1_spread)
        spread_sha=lambda w: read_if_present(f"{RESULTS}/spread/table1.csv"),
        remade=f"{RESULTS}/remade/table1.csv",  # the cross-machine figure, where measured (distill remade --write)
        remade_sha=lambda w: read_if_present(f"{RESULTS}/remade/table1.csv"),
    log:
        f"{LOGS}/pd_table1.log",
    shell:
        "{DISTILL} table1 {CLI_ARGS} --results {params.results} --published {input.published} "
        "--benchmarks {params.benchmarks} --pdf {output.pdf} --csv {output.csv} --json {output.json} "
        "--rows {output.rows} --plots {output.plots} --spread {params.spread} --floor {input.floor} "
        "--remade {params.remade} > {log} 2>&1"


def table1_kept():
    runs = table1_runs()
    return ([f"{RESULTS}/teachers/{r}/{f}" for r in runs for f in ("model.safetensors", "summary.json")]
            + [f"{RESULTS}/samples/{r}/{s}.npz" for r in runs for s in CFG["table1"]["samplers"]]
            + [reference_stats(), extractor_weights(), floor_path()])


KEPT["table1"] = table1_kept


def spread_runs():
    t = CFG["table1"]
    return [run_name(p, w, s) for p in t["parameterizations"] for w in t["weightings"] for s in spread_seeds(t)]


# The training-seed spread: every cell over table1.seeds + table1.spread_seeds (a target of its own, not in `all`:
# it multiplies Table 1's cost). Its CSV holds the tolerance `distill verify` judges a re-run by.
rule table1_spread:
    input:
        metrics=[f"{RESULTS}/metrics/{r}/{s}.json" for r in spread_runs() for s in CFG["table1"]["samplers"]],
        summaries=[f"{RESULTS}/teachers/{r}/summary.json" for r in spread_runs()],
        floor=floor_path(),  # named in its caption
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/table1_spread.pdf", caption="report/table1.rst", category="Progressive Distillation"),
        csv=f"{RESULTS}/spread/table1.csv",
    params:
        hp=hp("table1"),
        results=RESULTS,
    log:
        f"{LOGS}/table1_spread.log",
    shell:
        "{DISTILL} table1-spread {CLI_ARGS} --results {params.results} --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"
