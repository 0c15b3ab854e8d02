"""The external files a profile needs (data sets, Inception weights), where each comes from and how it is verified.

Each artifact has a known sha256 (with its source), downloads resumably and is checked before it is put in place
(distill.data.download); one behind a login cannot be fetched and is verified where the user put it, with an error
saying where to get it; one whose source publishes no digest is checked against the record of its first fetch
(distill/data/first_fetch.py: artifacts.lock.json). `distill fetch` and the workflow's fetch rules (workflows/fetch.smk)
use this registry; distill/data/fetching.py puts an artifact in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.data.hub import HUB_FOLDER, HubModel, pipeline_files


@dataclass(frozen=True)
class Artifact:
    name: str
    what: str
    url: str | None  # None: behind a login, placed by the user
    sha256: str | None  # full digest, or the published prefix of one; None with a url: recorded at first fetch
    file: str  # the downloaded file's name (in the artifact's folder, or the target itself when not unpacked)
    unpacks_to: str | None = None  # an archive's member the profile reads, relative to the folder (None: no archive)
    by_hand: str = ""  # where to get it by hand
    hub: HubModel | None = None  # a Hugging Face model folder (url None): fetched at its recorded commit


INCEPTION_EXTRACTOR = "inception-v3-compat"  # torch-fidelity's name for the network of the `inception` weights


ARTIFACTS = {a.name: a for a in (
    Artifact(
        "cifar10", "CIFAR-10, python version (the training images of PD, Meng et al., SFD and DisBack)",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        # sha256 of cifar-10-python.tar.gz as public download scripts check it; the archive's md5 is the
        # c58f30108f718f92721af3b95e74349a that torchvision's CIFAR10 checks
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        file="cifar-10-python.tar.gz", unpacks_to="cifar-10-batches-py/test_batch",
        by_hand="https://www.cs.toronto.edu/~kriz/cifar.html (CIFAR-10 python version)",
    ),
    Artifact(
        "inception", "torch-fidelity's Inception-v3 weights (FID, IS, KID at the paper scale)",
        # torch-fidelity 0.4.0, feature_extractor_inceptionv3.py: URL_INCEPTION_V3
        url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
            "weights-inception-2015-12-05-6726825d.pth",
        # the first 8 hex digits of its sha256, as torch.hub names checked files (the full digest is not published)
        sha256="6726825d", file="weights-inception-2015-12-05-6726825d.pth",
        by_hand="the URL above (GitHub release of torch-fidelity)",
    ),
    Artifact(
        "edm_cifar10_vp", "NVlabs' EDM network for unconditional CIFAR-10 (DDPM++, VP), SFD's and DisBack's teacher",
        url="https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/edm-cifar10-32x32-uncond-vp.pkl",
        # sha256 as several independent training scripts check this file
        sha256="4d5dcc1f1d0d41c8934ad21626eeddbdc0460182becf9fc059a0631b1eedb4da",
        file="edm-cifar10-32x32-uncond-vp.pkl",
        by_hand="the URL above (NVlabs/edm README: pre-trained models)",
    ),
    *(Artifact(
        f"edm_{name}", f"NVlabs' EDM network for {what} (SFD Table 3, DisBack's ImageNet-64 row)",
        url=f"https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/{file}",  # NVlabs/edm README: pre-trained models
        sha256=None, file=file,  # NVlabs publishes no checksum: recorded at first fetch
        by_hand="the URL above (NVlabs/edm README: pre-trained models)",
    ) for name, what, file in (
        ("imagenet64_cond", "class-conditional ImageNet 64x64 (ADM)", "edm-imagenet-64x64-cond-adm.pkl"),
        ("ffhq64_vp", "unconditional FFHQ 64x64 (DDPM++, VP)", "edm-ffhq-64x64-uncond-vp.pkl"),
        ("afhqv2_64_vp", "unconditional AFHQv2 64x64 (DDPM++, VP)", "edm-afhqv2-64x64-uncond-vp.pkl"),
    )),
    # NVlabs/edm README.md ("fid-refs"): the statistics the published ImageNet-64 FIDs are computed against (SFD
    # Table 3, DisBack's abstract): fid.py ref of dataset_tool.py's 64x64 center crops of ILSVRC's training images
    Artifact(
        "edm_ref_imagenet64", "EDM's FID statistics of ImageNet 64x64 (mean and covariance; the published ImageNet-64 "
                              "FIDs' reference)",
        url="https://nvlabs-fi-cdn.nvidia.com/edm/fid-refs/imagenet-64x64.npz",
        sha256=None, file="imagenet-64x64.npz",  # no checksum published: recorded at first fetch
        by_hand="the URL above (NVlabs/edm README: FID reference statistics)",
    ),
    # The text-to-image teachers and evaluation (the paper profile's text_to_image section). No digest is published
    # for any of them: the first fetch records the commit (hub models) and every file's sha256 (artifacts.lock.json).
    Artifact(
        "sd15", "Stable Diffusion 1.5 in diffusers' layout (SFD's Stable Diffusion teacher, v1-5-pruned-emaonly)",
        url=None, sha256=None, file="model_index.json",
        # the runwayml repository sfd-main's download_util.py names was withdrawn; this is its maintained copy
        hub=HubModel("stable-diffusion-v1-5/stable-diffusion-v1-5",
                     pipeline_files("unet", "vae", "text_encoder", tokenizers=("tokenizer",)),
                     requires=("model_index.json", "unet/diffusion_pytorch_model.safetensors")),
        by_hand="https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5 (the diffusers folder)",
    ),
    Artifact(
        "sdxl", "Stable Diffusion XL base 1.0 in diffusers' layout (DisBack's and DMD2's SDXL teacher)",
        url=None, sha256=None, file="model_index.json",
        hub=HubModel("stabilityai/stable-diffusion-xl-base-1.0",  # DisBack experiments/sdxl/*.sh --model_id
                     pipeline_files("unet", "vae", "text_encoder", "text_encoder_2",
                                    tokenizers=("tokenizer", "tokenizer_2")),
                     requires=("model_index.json", "unet/diffusion_pytorch_model.safetensors")),
        by_hand="https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0 (the diffusers folder)",
    ),
    Artifact(
        "clip_vit_g14", "OpenCLIP ViT-g-14 (laion2b_s34b_b88k) in transformers' layout, the CLIP score's model "
                        "(sfd-main/clip_score.py)",
        url=None, sha256=None, file="config.json",
        hub=HubModel("laion/CLIP-ViT-g-14-laion2B-s34B-b88K",
                     ("config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
                      "vocab.json", "merges.txt", "special_tokens_map.json", "model.safetensors"),
                     requires=("config.json", "model.safetensors")),
        by_hand="https://huggingface.co/laion/CLIP-ViT-g-14-laion2B-s34B-b88K (config.json, model.safetensors, the "
                "tokenizer and preprocessor files)",
    ),
    # sfd-main/torch_utils/download_util.py "prompts"; T2IBenchmark/datasets/coco2014 (both files)
    Artifact(
        "coco_captions", "the 30,000 MS-COCO val2014 captions of the FID-30k protocol (SFD's and DMD2's prompts)",
        url="https://github.com/boomb0om/text2image-benchmark/releases/download/v0.0.1/"
            "MS-COCO_val2014_30k_captions.csv",
        sha256=None, file="MS-COCO_val2014_30k_captions.csv", by_hand="the URL above",
    ),
    Artifact(
        "coco_fid_stats", "Inception statistics (mu, sigma) of the MS-COCO val2014 images for FID-30k "
                          "(text2image-benchmark: center crop, bicubic resize to 299, the 2015-12-05 Inception)",
        url="https://github.com/boomb0om/text2image-benchmark/releases/download/v0.0.1/"
            "MS-COCO_val2014_fid_stats.npz",
        sha256=None, file="MS-COCO_val2014_fid_stats.npz", by_hand="the URL above",
    ),
    # The image-caption training set of PD and guided distillation on a text-to-image teacher: MS-COCO 2014's
    # training images and their captions, from the data set's own server (cocodataset.org/#download); no digest is
    # published, so both archives are recorded at their first fetch.
    Artifact(
        "coco_train2014_images", "MS-COCO train2014: 82,783 training images (JPEG), the images of the caption set",
        url="http://images.cocodataset.org/zips/train2014.zip", sha256=None, file="train2014.zip",
        unpacks_to="train2014/COCO_train2014_000000000009.jpg",  # the set's first image (id 9)
        by_hand="the URL above (cocodataset.org/#download, 2014 Train images), unzipped into the folder",
    ),
    Artifact(
        "coco_train2014_captions", "MS-COCO 2014 annotations: captions_train2014.json, about five captions per image",
        url="http://images.cocodataset.org/annotations/annotations_trainval2014.zip", sha256=None,
        file="annotations_trainval2014.zip", unpacks_to="annotations/captions_train2014.json",
        by_hand="the URL above (cocodataset.org/#download, 2014 Train/Val annotations), unzipped into the folder",
    ),
    Artifact(
        "imagenet64", "downsampled ImageNet 64x64 (npz batches train_data_batch_1..10)",
        url=None, sha256=None, file="train_data_batch_1.npz",
        by_hand="https://image-net.org/download-images.php (after login: 'Downsampled ImageNet 64x64', the npz "
                "archives Imagenet64_train_part1/part2), unpacked so that the folder holds train_data_batch_1.npz "
                "... train_data_batch_10.npz",
    ),
)}


@dataclass(frozen=True)
class Need:
    """An artifact where a profile reads it: `target` is the file that exists once it is in place."""
    artifact: Artifact
    folder: Path
    target: Path


EDM_FOLDER = Path("data/edm")  # where the EDM network pickles and FID statistics go


def data_needs(data: Mapping[str, Any]) -> list[Need]:
    """The artifacts a data section reads: its data set (none for embedded data), under its data.root, and its
    published FID statistics (`fid_statistics`), under data/edm."""
    name, root, stats = data.get("name"), data.get("root"), data.get("fid_statistics")
    out = []
    if name in ARTIFACTS and root:
        a = ARTIFACTS[name]
        out.append(Need(a, Path(root), Path(root) / (a.unpacks_to or a.file)))
    if stats:
        out.append(statistics_need(stats))
    return out


def statistics_need(name: str) -> Need:
    """Published FID statistics (a data section's `fid_statistics`) under data/edm."""
    return Need(ARTIFACTS[name], EDM_FOLDER, EDM_FOLDER / ARTIFACTS[name].file)


def _teachers(cfg: Mapping[str, Any]):
    """Every `teacher:` mapping of the profile's method sections and their experiments."""
    for section in cfg.values():
        if not isinstance(section, Mapping):
            continue
        experiments = section.get("experiments") if isinstance(section.get("experiments"), Mapping) else {}
        for owner in (section, *(e for e in experiments.values() if isinstance(e, Mapping))):
            if isinstance(owner.get("teacher"), Mapping):
                yield owner["teacher"]


def hub_need(name: str) -> Need:
    """A Hugging Face model artifact in its folder under data/hf."""
    a = ARTIFACTS[name]
    return Need(a, HUB_FOLDER / name, HUB_FOLDER / name / a.file)


def teacher_needs(cfg: Mapping[str, Any]) -> list[Need]:
    """The imported teachers a profile's methods distil: EDM network pickles (`teacher: {edm: <artifact>}`, under
    data/edm) and diffusers pipelines (`teacher: {diffusers: <artifact>}`, under data/hf)."""
    out = []
    for teacher in _teachers(cfg):
        if teacher.get("edm"):
            a = ARTIFACTS[teacher["edm"]]
            out.append(Need(a, EDM_FOLDER, EDM_FOLDER / a.file))
        if teacher.get("diffusers"):
            out.append(hub_need(teacher["diffusers"]))
    return out


TEXT_FOLDER = Path("data/coco")  # the prompt file and the FID statistics of the text-to-image evaluation
# The image-caption training sets by their text_to_image.captions name: (images artifact, captions artifact).
CAPTION_SETS = {"coco_train2014": ("coco_train2014_images", "coco_train2014_captions")}
CAPTION_METHODS = ("pd", "guided", "cd")  # the methods that draw x from data: on a text-to-image teacher, a caption set


def caption_set(name: str) -> tuple[Need, Need]:
    """(the images, the captions file) of a caption set, unpacked under data/coco: the images' folder is the parent
    of the first Need's target."""
    images, captions = (ARTIFACTS[a] for a in CAPTION_SETS[name])
    return Need(images, TEXT_FOLDER, TEXT_FOLDER / images.unpacks_to), \
        Need(captions, TEXT_FOLDER, TEXT_FOLDER / captions.unpacks_to)


def text_needs(cfg: Mapping[str, Any]) -> list[Need]:
    """The text-to-image evaluation's files (the text_to_image section): its prompt file, FID statistics (under
    data/coco) and CLIP model (under data/hf); and the caption set its methods that draw data train on."""
    t = cfg.get("text_to_image")
    if not isinstance(t, Mapping):
        return []
    out = [Need(ARTIFACTS[t[k]], TEXT_FOLDER, TEXT_FOLDER / ARTIFACTS[t[k]].file) for k in ("prompts", "fid_reference")]
    drawn = any(e.get(m) for e in t["experiments"].values() for m in CAPTION_METHODS)
    return out + [hub_need(t["clip"])] + (list(caption_set(t["captions"])) if drawn and t.get("captions") else [])


def needs(cfg: Mapping[str, Any]) -> list[Need]:
    """Every artifact the profile reads: its data set and its experiments' (each under its data.root), the EDM
    networks and diffusers pipelines its methods distil (under data/edm, data/hf), the text-to-image evaluation's
    files, and the Inception weights where the evaluation uses them (at evaluation.feature_extractor_weights)."""
    datas = [cfg["data"]]
    for section in cfg.values():
        if isinstance(section, Mapping) and isinstance(section.get("experiments"), Mapping):
            datas += [e["data"] for e in section["experiments"].values() if isinstance(e, Mapping) and e.get("data")]
    out = [n for d in datas for n in data_needs(d)] + teacher_needs(cfg) + text_needs(cfg)
    ev = cfg.get("evaluation", {})
    if ev.get("feature_extractor") == INCEPTION_EXTRACTOR and ev.get("feature_extractor_weights"):
        weights = Path(ev["feature_extractor_weights"])
        out.append(Need(ARTIFACTS["inception"], weights.parent, weights))
    unique = {}
    for n in out:
        unique.setdefault(n.target, n)
    return list(unique.values())
