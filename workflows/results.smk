# The profile's results table: every active method's rows (written by its report rule) joined into one long-format
# table, read by `distill compare` (distill.results.table documents the columns).

rule results_table:
    input:
        parts=method_rows(),
        profile=str(PROFILE_STAMP),
    output:
        f"{RESULTS}/results.csv",
    log:
        f"{LOGS}/results_table.log",
    shell:
        "{DISTILL} results {CLI_ARGS} {input.parts} --out {output} > {log} 2>&1"
