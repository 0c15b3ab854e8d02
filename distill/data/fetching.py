"""Put one artifact of the registry (distill/data/artifacts.py) in place: download it resumably and verify it against
its published sha256, or against the record of its first fetch where none is published (a Hugging Face model at its
recorded commit), unpack an archive (tar or zip) beside it, or verify a file placed by hand where the profile reads
it."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from distill.data.artifacts import Need
from distill.data.download import DownloadError, download, matches, sha256_of
from distill.data.first_fetch import LOCK, record_or_verify
from distill.data.hub import hub_fetch


def fetch(need: Need, progress: Callable[[int, int | None], None] | None = None, lock: Path = LOCK) -> str:
    """Put one artifact in place (download, verify, unpack) or verify it where it is; returns what was done."""
    a, folder = need.artifact, need.folder
    if a.hub is not None:
        client = import_module("distill.data.hub_client")  # by name: huggingface_hub only when a hub model is fetched
        return hub_fetch(a.name, a.hub, folder, lock, client.download, client.resolve)
    if a.url is not None and a.sha256 is None:
        return _fetch_unpublished(need, progress, lock)
    if a.url is None:
        if not need.target.exists():
            raise FileNotFoundError(f"{a.what} is not at {folder} (expected {need.target}) and cannot be downloaded "
                                    f"without a login: get it from {a.by_hand}")
        return f"{a.name}: present at {folder} (placed by hand; no published checksum)"
    download_to = folder / a.file if a.unpacks_to else need.target  # a weights file goes where the profile reads it
    if a.unpacks_to and need.target.exists() and not download_to.exists():
        return (f"{a.name}: {need.target} present (placed by hand; its archive {a.file} is not here to verify: "
                f"delete {folder / Path(a.unpacks_to).parts[0]} and fetch again to check it)")
    if download_to.exists():
        digest = sha256_of(download_to)
        if not matches(digest, a.sha256):
            raise DownloadError(f"{download_to} has sha256 {digest}, expected {a.sha256}: not the file this suite "
                                f"knows. Delete it and run `distill fetch {a.name}` again (source: {a.url})")
        done = f"{a.name}: {download_to} verified (sha256 {a.sha256})"
    else:
        download(a.url, download_to, a.sha256, progress=progress)
        done = f"{a.name}: downloaded and verified {download_to} (sha256 {a.sha256})"
    if a.unpacks_to and not need.target.exists():
        _unpack(download_to, folder)
        if not need.target.exists():
            raise DownloadError(f"{download_to} unpacked without {a.unpacks_to}: not the archive this suite knows")
        done += f"; unpacked into {folder}"
    return done


def _fetch_unpublished(need: Need, progress, lock: Path) -> str:
    """A file whose source publishes no digest: downloaded if absent, then recorded at its first fetch or verified
    against that record (a fresh download that differs is deleted); an archive is then unpacked into its folder."""
    a = need.artifact
    download_to = need.folder / a.file if a.unpacks_to else need.target
    if a.unpacks_to and need.target.exists() and not download_to.exists():
        return (f"{a.name}: {need.target} present (placed by hand; its archive {a.file} is not here to record or "
                "verify)")
    fresh = not download_to.exists()
    if fresh:
        download(a.url, download_to, None, progress=progress)
    try:
        done = record_or_verify(a.name, {a.file: download_to}, lock)
    except DownloadError:
        if fresh:
            download_to.unlink()
        raise
    if a.unpacks_to and not need.target.exists():
        _unpack(download_to, need.folder)
        if not need.target.exists():
            raise DownloadError(f"{download_to} unpacked without {a.unpacks_to}: not the archive this suite knows")
        done += f"; unpacked into {need.folder}"
    return f"{'downloaded ' + str(download_to) + '; ' if fresh else ''}{done}"


def _unpack(archive: Path, folder: Path) -> None:
    """Extract into a temporary folder beside the destination, then move each top-level entry into place: a crash
    leaves no half-extracted folder where the data set is read."""
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder))
    try:
        if zipfile.is_zipfile(archive):  # MS-COCO's archives
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)  # zipfile drops absolute paths and '..' from member names
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        for entry in tmp.iterdir():
            dest = folder / entry.name
            if dest.exists():
                shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
            entry.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
