# FID of one set of samples, through torch-fidelity with the profile's feature extractor.

rule evaluate:
    input:
        samples=f"{RESULTS}/samples/{{run}}/{{sampler}}.npz",
        extractor=extractor_weights(),
    output:
        f"{RESULTS}/metrics/{{run}}/{{sampler}}.json",
    wildcard_constraints:
        sampler="ddim|ancestral",
    params:
        hp=hp("evaluation", "data"),
    threads: CFG["threads"]["evaluate"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/evaluate/{{run}}/{{sampler}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{run}}/{{sampler}}.tsv"
    shell:
        "{DISTILL} evaluate {CLI_ARGS} --threads {threads} --samples {input.samples} "
        "--extractor-weights {input.extractor} --out {output} > {log} 2>&1"
