# Reproduced vs published for every number and claim of the active profile (reports/compare.md + .pdf), from the
# results table and the methods' summaries (claim subjects). The report is always written (--exit-zero); `distill
# compare` without it is what CI runs to fail on a broken claim.

rule compare:
    input:
        results=f"{RESULTS}/results.csv",
        reports=method_targets(CFG),  # the methods' summaries (claim subjects) are written with their reports
        published="results/published/published.csv",
        profile=str(PROFILE_STAMP),
    output:
        md="reports/compare.md",
        pdf=report("reports/compare.pdf", caption="report/compare.rst", category="Comparison"),
    log:
        f"{LOGS}/compare.log",
    shell:
        "{DISTILL} compare {CLI_ARGS} --results {RESULTS} --published {input.published} --md {output.md} "
        "--pdf {output.pdf} --exit-zero > {log} 2>&1"
