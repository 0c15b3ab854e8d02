"""The Hugging Face hub's client for distill/data/hub.py: the commit a branch points at, and a snapshot of a model's
files at a commit. Imported by name (distill/data/fetching.py) only when a hub model is fetched: huggingface_hub
takes a third of a second to import, which every Snakemake run would pay."""

from __future__ import annotations

from huggingface_hub import HfApi, snapshot_download

from distill.data.download import DownloadError


def resolve(repo: str, branch: str) -> str:
    try:
        return HfApi().model_info(repo, revision=branch).sha
    except Exception as exc:  # no network, no such repository, a gated model without a token
        raise DownloadError(f"cannot resolve {repo}@{branch} on the Hugging Face hub ({exc}); place the diffusers "
                            "folder by hand, or log in (`huggingface-cli login`) for a gated model") from None


def download(repo: str, **kwargs) -> str:
    try:
        return snapshot_download(repo, **kwargs)
    except Exception as exc:
        raise DownloadError(f"cannot download {repo} at {kwargs.get('revision')} from the Hugging Face hub ({exc}); "
                            "fetch again (finished files are kept) or place the folder by hand") from None
