# Teachers (PD Algorithm 1): one job per parameterization x loss weighting x seed. Interrupted jobs resume from
# their training state (train_state.pt, not a declared output, so Snakemake keeps it when a job fails).

from distill.data.artifacts import ARTIFACTS, EDM_FOLDER  # the official EDM networks imported as teachers

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


# An official EDM network as a teacher (a method section's `teacher: {edm: <artifact>}`): the pickle fetched and
# verified by its fetch rule, read without EDM's code (distill/nets/edm_pickle.py), written as a suite model folder.
rule import_edm_teacher:
    input:
        pickle=lambda w: str(EDM_FOLDER / ARTIFACTS[w.artifact].file),
    output:
        weights=f"{RESULTS}/teachers/{{artifact}}/model.safetensors",
        summary=f"{RESULTS}/teachers/{{artifact}}/summary.json",
    wildcard_constraints:
        artifact="edm_[a-z0-9_]+",
    params:
        out=f"{RESULTS}/teachers/{{artifact}}",
    log:
        f"{LOGS}/import_edm/{{artifact}}.log",
    shell:
        "{DISTILL} import-edm {CLI_ARGS} --artifact {wildcards.artifact} --pickle {input.pickle} --overwrite "
        "--out {params.out} > {log} 2>&1"
