# PD Table 1: the parameterization x weighting grid, reproduced beside the published CIFAR-10 numbers.

rule pd_table1:
    input:
        metrics=[f"{RESULTS}/metrics/{r}/{s}.json" for r in table1_runs() for s in CFG["table1"]["samplers"]],
        summaries=[f"{RESULTS}/teachers/{r}/summary.json" for r in table1_runs()],
        published="results/published/published.csv",
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/table1.pdf", caption="report/table1.rst", category="Progressive Distillation"),
        csv="reports/table1.csv",
        json=f"{RESULTS}/table1.json",
        rows=f"{RESULTS}/rows/table1.csv",
    params:
        hp=hp("table1"),
        results=RESULTS,
        benchmarks=BENCH,
    log:
        f"{LOGS}/pd_table1.log",
    shell:
        "{DISTILL} table1 {CLI_ARGS} --results {params.results} --published {input.published} "
        "--benchmarks {params.benchmarks} --pdf {output.pdf} --csv {output.csv} --json {output.json} --rows {output.rows} > {log} 2>&1"
