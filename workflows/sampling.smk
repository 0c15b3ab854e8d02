# Evaluation samples of a trained model with one sampler (seed i for image i).

rule sample:
    input:
        model=f"{RESULTS}/teachers/{{run}}/model.safetensors",
    output:
        f"{RESULTS}/samples/{{run}}/{{sampler}}.npz",
    wildcard_constraints:
        sampler=SAMPLER_NAMES,
    params:
        hp=hp("sampling", "evaluation", "device"),
    threads: CFG["threads"]["sample"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/sample/{{run}}/{{sampler}}.log",
    benchmark:
        f"{BENCH}/sample/{{run}}/{{sampler}}.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} --threads {threads} --model {input.model} --sampler {wildcards.sampler} "
        "--out {output} > {log} 2>&1"
