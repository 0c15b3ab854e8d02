"""Hugging Face model folders as artifacts: fetched at a pinned revision (a commit of the model's repository),
verified file by file against the record of their first fetch (distill/data/first_fetch.py).

A model on the hub publishes no digest a suite could check before its first download, and a branch such as `main`
moves. So the first fetch resolves the branch to its commit, downloads the files the suite reads at that commit, and
records the commit and every file's sha256 in `artifacts.lock.json`; every later fetch downloads at the recorded
commit and is refused where a file differs. A folder a user placed by hand (the same layout) is verified, or
recorded, where it is, without a download.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from distill.data.download import DownloadError
from distill.data.first_fetch import files_of, record_or_verify, recorded_files, recorded_revision

HUB_FOLDER = Path("data/hf")  # where the Hugging Face models go, one folder each


@dataclass(frozen=True)
class HubModel:
    repo: str  # owner/name on the hub
    patterns: tuple[str, ...]  # the files the suite reads (snapshot_download's allow_patterns)
    requires: tuple[str, ...]  # files that must be there once fetched (the loaders read them)
    branch: str = "main"  # resolved to its commit at the first fetch


# The fp32 safetensors of a diffusers pipeline's parts, their configs and tokenizers (no .bin, no fp16 variant).
def pipeline_files(*parts: str, tokenizers: tuple[str, ...]) -> tuple[str, ...]:
    weights = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model", "text_encoder": "model",
               "text_encoder_2": "model"}
    return ("model_index.json", "scheduler/*", *(f"{t}/*" for t in tokenizers),
            *(f"{p}/config.json" for p in parts), *(f"{p}/{weights[p]}.safetensors" for p in parts))


def hub_fetch(name: str, hub: HubModel, folder: Path, lock: Path, download: Callable[..., str],
              resolve: Callable[[str, str], str]) -> str:
    """Put the model `name` in `folder` at its recorded commit (the first fetch: `hub.branch` resolved to its commit)
    and verify or record its files; returns what was done. `download` and `resolve`: huggingface_hub's
    snapshot_download and the commit of a branch (distill/data/hub_client.py; tests give their own)."""
    folder = Path(folder)
    revision = recorded_revision(name, lock)
    placed = all((folder / f).is_file() for f in (*hub.requires, *recorded_files(name, lock)))
    if placed and revision is None and not _downloaded_here(folder):
        done = record_or_verify(name, files_of(folder), lock)  # no commit to record: placed by hand
        return f"{name}: {folder} placed by hand; {done}"
    if not placed or revision is None:
        if revision is None:
            revision = resolve(hub.repo, hub.branch)
        download(hub.repo, revision=revision, local_dir=str(folder), allow_patterns=list(hub.patterns))
    missing = [f for f in hub.requires if not (folder / f).is_file()]
    if missing:
        raise DownloadError(f"{hub.repo} at {revision} has no {missing}: not the model this suite reads (a repository "
                            f"in another layout); place the diffusers folder in {folder} by hand")
    done = record_or_verify(name, files_of(folder), lock, revision=revision)
    return f"{name}: {hub.repo} at commit {revision} in {folder}; {done}"


def _downloaded_here(folder: Path) -> bool:
    return (folder / ".cache" / "huggingface").is_dir()
