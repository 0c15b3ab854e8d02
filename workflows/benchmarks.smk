# The throughput history of every machine fingerprint: `bash tools/bench.sh` files each run under
# results/benchmarks/<fingerprint>/ (distill bench-judge); this plots them all, one page per machine, with the overhead
# ratios' aims, so a slow drift shows. Not part of `all` (the runs are made by hand, on an idle machine):
#   snakemake --cores 1 -- reports/benchmarks.pdf
import glob

BENCHMARK_RUNS = sorted(glob.glob("results/benchmarks/*/[0-9][0-9][0-9][0-9]_*.json"))


rule benchmarks_report:
    input:
        BENCHMARK_RUNS,
    output:
        pdf=report("reports/benchmarks.pdf", caption="report/benchmarks.rst", category="Benchmarks"),
        csv="reports/benchmarks.csv",
    log:
        "logs/benchmarks_report.log",
    shell:
        "{DISTILL} bench-report --store results/benchmarks --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"
