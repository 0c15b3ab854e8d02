# The evaluation protocol (distill.metrics.protocol): reference statistics computed once per data set x extractor,
# then every set of samples evaluated against them (FID, KID, IS, precision/recall, density/coverage on
# evaluation.seed_ranges disjoint ranges of evaluation.num_samples images).

rule reference_stats:
    priority: 10
    input:
        extractor=extractor_weights(),
        data=data_files(),
    output:
        reference_stats(),
    params:
        hp=hp("data", "evaluation"),
        experiment="",
    threads: CFG["threads"]["evaluate"]
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/reference_stats.log",
    benchmark:
        f"{BENCH}/reference_stats.tsv"
    shell:
        "{DISTILL} fid ref {CLI_ARGS} {params.experiment} --threads {threads} --extractor-weights {input.extractor} "
        "--out {output} > {log} 2>&1"


# What a perfect generator scores under the protocol: real images through it (distill/pipeline/floor.py). Every FID
# table and figure shows it, and every ratio claim is stated above it too.
rule fid_floor:
    input:
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        floor_path(),
    params:
        hp=hp("data", "evaluation"),
        experiment="",
    threads: CFG["threads"]["evaluate"]
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/fid_floor.log",
    benchmark:
        f"{BENCH}/fid_floor.tsv"
    shell:
        "{DISTILL} fid floor {CLI_ARGS} {params.experiment} --threads {threads} --reference {input.reference} "
        "--extractor-weights {input.extractor} --out {output} > {log} 2>&1"


# An experiment with images of its own (its `data`: guided's, DisBack's and SFD's ImageNet-64 experiments) has its own
# reference statistics and floor; {xmethod} is the params.yaml section whose experiment it is.
use rule reference_stats as experiment_reference_stats with:
    input:
        extractor=extractor_weights(),
        data=lambda w: data_files(experiment_data(w.xmethod, w.xexp)),
    output:
        f"{RESULTS}/refs/{{xmethod}}-{{xexp}}-{CFG['evaluation']['feature_extractor']}.npz",
    params:
        hp=lambda w: json.dumps(experiment_data(w.xmethod, w.xexp), sort_keys=True) + hp("evaluation"),
        experiment=lambda w: f"--method {w.xmethod} --experiment {w.xexp}",
    wildcard_constraints:
        xmethod="|".join(m.name for m in ACTIVE_METHODS),
        xexp="[a-z0-9_]+",
    log:
        f"{LOGS}/{{xmethod}}/{{xexp}}/reference_stats.log",
    benchmark:
        f"{BENCH}/{{xmethod}}/{{xexp}}/reference_stats.tsv"


use rule fid_floor as experiment_fid_floor with:
    input:
        reference=lambda w: experiment_reference(w.xmethod, w.xexp),
        extractor=extractor_weights(),
    output:
        f"{RESULTS}/{{xmethod}}_metrics/{{xexp}}/floor-{CFG['evaluation']['feature_extractor']}.json",
    params:
        hp=lambda w: json.dumps(experiment_data(w.xmethod, w.xexp), sort_keys=True) + hp("evaluation"),
        experiment=lambda w: f"--method {w.xmethod} --experiment {w.xexp}",
    wildcard_constraints:
        xmethod="|".join(m.name for m in ACTIVE_METHODS),
        xexp="[a-z0-9_]+",
    log:
        f"{LOGS}/{{xmethod}}/{{xexp}}/fid_floor.log",
    benchmark:
        f"{BENCH}/{{xmethod}}/{{xexp}}/fid_floor.tsv"


rule evaluate:
    input:
        samples=f"{RESULTS}/samples/{{run}}/{{sampler}}.npz",
        reference=reference_stats(),
        extractor=extractor_weights(),
    output:
        metrics=f"{RESULTS}/metrics/{{run}}/{{sampler}}.json",
        grid=report(f"{RESULTS}/metrics/{{run}}/{{sampler}}.png", caption="report/grid.rst", category="Samples",
                    labels={"model": "{run}", "sampler": "{sampler}"}),
    wildcard_constraints:
        sampler=SAMPLER_NAMES,
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
        "{DISTILL} evaluate {CLI_ARGS} --threads {threads} --samples {input.samples} --reference {input.reference} "
        "--extractor-weights {input.extractor} --out {output.metrics} --grid {output.grid} > {log} 2>&1"


rule fid_curve_samples:
    input:
        model=lambda w: f"{RESULTS}/teachers/{CFG['evaluation']['curve']['run']}/model.safetensors",
    output:
        temp(f"{RESULTS}/curve/samples.npz"),
    params:
        hp=hp("sampling", "evaluation", "device"),
        sampler=lambda w: CFG["evaluation"]["curve"]["sampler"],
        num_samples=lambda w: max(CFG["evaluation"]["curve"]["sizes"]) * CFG["evaluation"]["seed_ranges"],
    threads: CFG["threads"]["sample"]
    log:
        f"{LOGS}/fid_curve_samples.log",
    benchmark:
        f"{BENCH}/fid_curve_samples.tsv"
    shell:
        "{DISTILL} sample {CLI_ARGS} --threads {threads} --model {input.model} --sampler {params.sampler} "
        "--num-samples {params.num_samples} --out {output} > {log} 2>&1"


rule fid_curve:
    input:
        samples=f"{RESULTS}/curve/samples.npz",
        reference=reference_stats(),
        extractor=extractor_weights(),
        floor=floor_path(),
        profile=str(PROFILE_STAMP),
    output:
        pdf=report("reports/fid_vs_n.pdf", caption="report/fid_vs_n.rst", category="Evaluation protocol"),
        csv=f"{RESULTS}/fid_vs_n.csv",
    params:
        hp=hp("evaluation"),
    threads: CFG["threads"]["evaluate"]
    log:
        f"{LOGS}/fid_curve.log",
    shell:
        "{DISTILL} fid curve {CLI_ARGS} --threads {threads} --samples {input.samples} --reference {input.reference} "
        "--extractor-weights {input.extractor} --floor {input.floor} --pdf {output.pdf} --csv {output.csv} > {log} 2>&1"
