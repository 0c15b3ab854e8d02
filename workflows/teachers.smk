# Teachers (PD Algorithm 1): one job per parameterization x loss weighting x seed. Interrupted jobs resume from
# their training state (train_state.pt, not a declared output, so Snakemake keeps it when a job fails).

rule train_teacher:
    input:
        data=data_files(),
    output:
        weights=f"{RESULTS}/teachers/{{param}}-{{weighting}}-s{{seed}}/model.safetensors",
        summary=f"{RESULTS}/teachers/{{param}}-{{weighting}}-s{{seed}}/summary.json",
    wildcard_constraints:
        param=PARAMETERIZATION_NAMES,
        weighting=WEIGHTING_NAMES,
        seed=r"\d+",
    params:
        hp=hp("data", "network", "teacher", "device") + training_hp(),
        out=f"{RESULTS}/teachers/{{param}}-{{weighting}}-s{{seed}}",
        run=lambda w: {"parameterization": w.param, "weighting": w.weighting, "seed": w.seed},
        experiment="",
    threads: CFG["threads"]["teacher"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/train_teacher/{{param}}-{{weighting}}-s{{seed}}.log",
    benchmark:
        f"{BENCH}/train_teacher/{{param}}-{{weighting}}-s{{seed}}.tsv"
    shell:
        "{DISTILL} train-teacher {CLI_ARGS} {params.experiment} --threads {threads} --overwrite "
        "--parameterization {params.run[parameterization]} --weighting {params.run[weighting]} "
        "--seed {params.run[seed]} --out {params.out} > {log} 2>&1"
