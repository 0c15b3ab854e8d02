# The domain feature extractor: a classifier trained on the profile's data set (FID features on embedded data).

rule train_classifier:
    priority: 10  # every evaluation waits for it: run it first
    input:
        data=data_files(),
    output:
        weights=f"{RESULTS}/classifier/model.safetensors",
        metrics=f"{RESULTS}/classifier/metrics.json",
    params:
        hp=hp("data", "classifier"),
        out=f"{RESULTS}/classifier",
    threads: CFG["threads"]["classifier"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/train_classifier.log",
    benchmark:
        f"{BENCH}/train_classifier.tsv"
    shell:
        "{DISTILL} train-classifier {CLI_ARGS} --threads {threads} --overwrite --out {params.out} > {log} 2>&1"
