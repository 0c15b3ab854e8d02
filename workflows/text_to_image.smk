# Text-to-image teachers through diffusers (params.yaml `text_to_image`; distill/pipeline/text_to_image.py plans it):
# each experiment's pipeline fetched at its recorded commit and imported, SFD and DisBack run by their own commands on
# the profile as the experiment sees it (--method text_to_image --experiment <name>), guided distillation, PD and CD
# on the caption set encoded by the teacher's VAE (encode-captions), every point of its table sampled in parts of seeds
# (sample-text), each part's Inception features and CLIP scores, the parts joined into the point's FID and CLIP
# score, and one report.
from distill.data.artifacts import hub_need
from distill.pipeline import text_to_image as T2I
from distill.plugins import disback as DB

T2I_SECTION = T2I.section(CFG)

if T2I_SECTION:  # checked across keys with params.yaml (distill.config.text_to_image_problems)
    T2I_PATHS = T2I.paths(RESULTS)
    T2I_FILES = T2I.files(CFG)
    T2I_ARGS = f"{CLI_ARGS} --method {T2I.METHOD}"
    T2I_EXPS = T2I_SECTION["experiments"]
    T2I_TEACHERS = sorted({e["teacher"]["diffusers"] for e in T2I_EXPS.values()})

    def t2i_hp(w, *keys):
        return json.dumps({k: T2I_EXPS[w.texp].get(k) for k in keys} | {"device": CFG["device"]}, sort_keys=True)

    def t2i_teacher(w):
        return T2I.teacher_model(RESULTS, CFG, w.texp)

    def t2i_point(w):
        return T2I.point(CFG, RESULTS, w.texp, w.point)

    def t2i_part(w):
        first, n = T2I.parts(CFG)[int(w.part)]
        return f"--first-seed {first} --num-samples {n}"

    def t2i_captions(w):
        """The caption latents of the experiment's teacher (its manifest, written last)."""
        return T2I_PATHS["captions"].format(tteacher=T2I.teacher_artifact(CFG, w.texp)) + "/manifest.json"

    wildcard_constraints:
        texp="|".join(T2I_EXPS),
        tteacher="|".join(T2I_TEACHERS),
        point="[a-z0-9_-]+",
        part=r"\d+",
        gline=r"w[0-9.]*",
        gsteps=r"\d+",
        pdn=r"\d+",

    rule t2i_import:
        input:
            folder=lambda w: str(hub_need(w.tteacher).target),
        output:
            weights=f"{RESULTS}/teachers/{{tteacher}}/model.safetensors",
            summary=f"{RESULTS}/teachers/{{tteacher}}/summary.json",
        params:
            folder=lambda w: str(hub_need(w.tteacher).folder),
            resolution=lambda w: T2I.resolution_of(CFG, w.tteacher),
            out=f"{RESULTS}/teachers/{{tteacher}}",
        log:
            f"{LOGS}/text_to_image/import-{{tteacher}}.log",
        shell:
            "{DISTILL} import-diffusers {CLI_ARGS} --name {wildcards.tteacher} --folder {params.folder} "
            "--resolution {params.resolution} --overwrite --out {params.out} > {log} 2>&1"

    rule t2i_sfd_train:
        input:
            teacher=t2i_teacher,
            prompts=T2I_FILES["prompts"],
        output:
            weights=T2I_PATHS["sfd"] + "/model.safetensors",
            summary=T2I_PATHS["sfd"] + "/summary.json",
        params:
            hp=lambda w: t2i_hp(w, "sfd") + training_hp(),
            out=T2I_PATHS["sfd"],
        threads: CFG["threads"]["distill"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/sfd-{{srun}}.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/sfd-{{srun}}.tsv"
        shell:
            "{DISTILL} sfd-train {T2I_ARGS} --experiment {wildcards.texp} --run {wildcards.srun} --threads {threads} "
            "--overwrite --teacher {input.teacher} --prompts {input.prompts} --out {params.out} > {log} 2>&1"

    rule t2i_disback_path:
        input:
            teacher=t2i_teacher,
            prompts=T2I_FILES["prompts"],
        output:
            summary=T2I_PATHS["path"] + "/summary.json",
        params:
            hp=lambda w: t2i_hp(w, "disback") + training_hp(),
            out=T2I_PATHS["path"],
        threads: CFG["threads"]["distill"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/disback-path.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/disback-path.tsv"
        shell:
            "{DISTILL} disback-path {T2I_ARGS} --experiment {wildcards.texp} --threads {threads} --overwrite "
            "--teacher {input.teacher} --prompts {input.prompts} --out {params.out} > {log} 2>&1"

    def t2i_disback_path(w):
        """DisBack's runs read the path; the baseline's do not."""
        exp = T2I.view(CFG, w.texp)["disback"]["experiments"][w.texp]
        if DB.run_settings(exp, w.drun)["method"] == "disback":
            return T2I_PATHS["path"].format(texp=w.texp) + "/summary.json"
        return []

    rule t2i_disback_train:
        input:
            teacher=t2i_teacher,
            prompts=T2I_FILES["prompts"],
            path=t2i_disback_path,
        output:
            weights=T2I_PATHS["disback"] + "/model.safetensors",
            summary=T2I_PATHS["disback"] + "/summary.json",
        params:
            hp=lambda w: t2i_hp(w, "disback") + training_hp(),
            out=T2I_PATHS["disback"],
            path=lambda w, input: f"--path {Path(input.path).parent}" if input.path else "",
        threads: CFG["threads"]["distill"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/{{drun}}.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/{{drun}}.tsv"
        shell:
            "{DISTILL} disback-train {T2I_ARGS} --experiment {wildcards.texp} --threads {threads} --overwrite "
            "--teacher {input.teacher} --run {wildcards.drun} {params.path} --prompts {input.prompts} "
            "--out {params.out} > {log} 2>&1"

    rule t2i_encode:
        input:
            teacher=f"{RESULTS}/teachers/{{tteacher}}/model.safetensors",
            images=T2I_FILES.get("images_file", []),
            annotations=T2I_FILES.get("annotations", []),
        output:
            T2I_PATHS["captions"] + "/manifest.json",
        params:
            images=T2I_FILES.get("images"),
            out=T2I_PATHS["captions"],
        threads: CFG["threads"]["sample"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/encode-{{tteacher}}.log",
        benchmark:
            f"{BENCH}/text_to_image/encode-{{tteacher}}.tsv"
        shell:
            "{DISTILL} encode-captions {CLI_ARGS} --threads {threads} --teacher {input.teacher} --images "
            "{params.images} --annotations {input.annotations} --out {params.out} > {log} 2>&1"

    rule t2i_guided_stage_one:
        input:
            teacher=t2i_teacher,
            captions=t2i_captions,
        output:
            weights=T2I_PATHS["guided_stage_one"] + "/model.safetensors",
            summary=T2I_PATHS["guided_stage_one"] + "/summary.json",
        params:
            hp=lambda w: t2i_hp(w, "guided") + training_hp(),
            out=T2I_PATHS["guided_stage_one"],
            captions=lambda w, input: Path(input.captions).parent,
        threads: CFG["threads"]["distill"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/guided-{{gline}}-stage1.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/guided-{{gline}}-stage1.tsv"
        shell:
            "{DISTILL} guided-stage-one {T2I_ARGS} --experiment {wildcards.texp} --line {wildcards.gline} "
            "--threads {threads} --overwrite --teacher {input.teacher} --captions {params.captions} "
            "--out {params.out} > {log} 2>&1"

    def t2i_guided_parent(w):
        """A round's teacher: the stage-one student for the first round, else the previous round's student."""
        start = T2I.view(CFG, w.texp)["guided"]["experiments"][w.texp]["stage_two"]["start_steps"]
        n = int(w.gsteps)
        if 2 * n == start:
            return T2I_PATHS["guided_stage_one"].format(texp=w.texp, gline=w.gline) + "/model.safetensors"
        return T2I_PATHS["guided_round"].format(texp=w.texp, gline=w.gline, gsteps=2 * n) + "/model.safetensors"

    rule t2i_guided_round:
        input:
            teacher=t2i_guided_parent,
            captions=t2i_captions,
        output:
            weights=T2I_PATHS["guided_round"] + "/model.safetensors",
            summary=T2I_PATHS["guided_round"] + "/summary.json",
        params:
            hp=lambda w: t2i_hp(w, "guided") + training_hp(),
            out=T2I_PATHS["guided_round"],
            captions=lambda w, input: Path(input.captions).parent,
        threads: CFG["threads"]["distill"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/guided-{{gline}}-n{{gsteps}}.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/guided-{{gline}}-n{{gsteps}}.tsv"
        shell:
            "{DISTILL} guided-round {T2I_ARGS} --experiment {wildcards.texp} --line {wildcards.gline} "
            "--student-steps {wildcards.gsteps} --threads {threads} --overwrite --teacher {input.teacher} "
            "--captions {params.captions} --out {params.out} > {log} 2>&1"

    def t2i_pd_parent(w):
        """A PD round's teacher: the imported teacher for the first round, else the previous round's student."""
        start = T2I.view(CFG, w.texp)["pd"]["experiments"][w.texp]["teacher_steps"]
        n = int(w.pdn)
        if 2 * n == start:
            return t2i_teacher(w)
        return T2I_PATHS["pd"].format(texp=w.texp, pdn=2 * n) + "/model.safetensors"

    rule t2i_pd_round:
        input:
            teacher=t2i_pd_parent,
            captions=t2i_captions,
        output:
            weights=T2I_PATHS["pd"] + "/model.safetensors",
            summary=T2I_PATHS["pd"] + "/summary.json",
        params:
            hp=lambda w: t2i_hp(w, "pd") + training_hp(),
            out=T2I_PATHS["pd"],
            captions=lambda w, input: Path(input.captions).parent,
        threads: CFG["threads"]["distill"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/pd-n{{pdn}}.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/pd-n{{pdn}}.tsv"
        shell:
            "{DISTILL} pd-round {T2I_ARGS} --experiment {wildcards.texp} --student-steps {wildcards.pdn} "
            "--threads {threads} --overwrite --teacher {input.teacher} --captions {params.captions} "
            "--out {params.out} > {log} 2>&1"

    rule t2i_cd_train:
        input:
            teacher=t2i_teacher,
            captions=t2i_captions,
        output:
            weights=T2I_PATHS["cd"] + "/model.safetensors",
            summary=T2I_PATHS["cd"] + "/summary.json",
        params:
            hp=lambda w: t2i_hp(w, "cd") + training_hp(),
            out=T2I_PATHS["cd"],
            captions=lambda w, input: Path(input.captions).parent,
        threads: CFG["threads"]["distill"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/cd.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/cd.tsv"
        shell:
            "{DISTILL} cd-train {T2I_ARGS} --experiment {wildcards.texp} --threads {threads} --overwrite "
            "--teacher {input.teacher} --captions {params.captions} --out {params.out} > {log} 2>&1"

    rule t2i_sample:
        input:
            model=lambda w: t2i_point(w).model,
            prompts=T2I_FILES["prompts"],
        output:
            temp(T2I_PATHS["samples"]),
        params:
            hp=lambda w: t2i_hp(w, "guidance") + hp("sampling") + json.dumps(T2I.parts(CFG)),
            args=lambda w: " ".join(t2i_point(w).args),
            part=t2i_part,
        threads: CFG["threads"]["sample"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/{{point}}/sample-{{part}}.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/{{point}}/sample-{{part}}.tsv"
        shell:
            "{DISTILL} sample-text {CLI_ARGS} --threads {threads} --model {input.model} --prompts {input.prompts} "
            "{params.args} {params.part} --out {output} > {log} 2>&1"

    rule t2i_features:
        input:
            samples=T2I_PATHS["samples"],
            prompts=T2I_FILES["prompts"],
            clip=T2I_FILES["clip_file"],
            inception=T2I_FILES["inception"],
        output:
            temp(T2I_PATHS["features"]),
        params:
            hp=hp("evaluation", "device"),
            clip=T2I_FILES["clip"],
        threads: CFG["threads"]["evaluate"]
        resources:
            mem_mb=16000,
        log:
            f"{LOGS}/text_to_image/{{texp}}/{{point}}/features-{{part}}.log",
        benchmark:
            f"{BENCH}/text_to_image/{{texp}}/{{point}}/features-{{part}}.tsv"
        shell:
            "{DISTILL} text-features {CLI_ARGS} --threads {threads} --samples {input.samples} --prompts "
            "{input.prompts} --clip {params.clip} --extractor-weights {input.inception} --out {output} > {log} 2>&1"

    rule t2i_point:
        input:
            parts=lambda w: [T2I_PATHS["features"].format(texp=w.texp, point=w.point, part=k)
                             for k in range(len(T2I.parts(CFG)))],
            statistics=T2I_FILES["statistics"],
        output:
            T2I_PATHS["scores"],
        log:
            f"{LOGS}/text_to_image/{{texp}}/{{point}}/point.log",
        shell:
            "{DISTILL} text-point {CLI_ARGS} --parts {input.parts} --statistics {input.statistics} --out {output} "
            "> {log} 2>&1"

    rule t2i_report:
        input:
            scores=T2I.scores(CFG, RESULTS),
            summaries=T2I.summaries(CFG, RESULTS),
            profile=str(PROFILE_STAMP),
        output:
            pdf=report("reports/text_to_image.pdf", caption="report/text_to_image.rst", category="Text-to-image"),
            csv="reports/text_to_image.csv",
            json=f"{RESULTS}/text_to_image.json",
        params:
            hp=json.dumps(T2I_SECTION, sort_keys=True),
        log:
            f"{LOGS}/text_to_image/report.log",
        shell:
            "{DISTILL} text-report {CLI_ARGS} --results {RESULTS} --pdf {output.pdf} --csv {output.csv} "
            "--json {output.json} > {log} 2>&1"


    rule text_to_image:
        input:
            T2I.targets(CFG),
