"""Artifacts without a published digest: the first fetch records every file's sha256 in a committed lock
(`artifacts.lock.json`), and every later fetch verifies against it and refuses a mismatch.

NVlabs publishes no checksum of EDM's ImageNet-64, FFHQ-64 and AFHQv2-64 networks, and a Hugging Face model is a
folder of files; neither can be checked against a number from its source. What the suite can promise instead is that
every run after the first reads the very files the first one did: the lock names each file (its path inside the
artifact) and its sha256, and a report row from such an artifact says "digest recorded at first fetch".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from distill.core.checkpoint import atomic_write
from distill.core.path_locks import exclusive
from distill.data.download import DownloadError, sha256_of

LOCK = Path("artifacts.lock.json")
RECORDED = "digest recorded at first fetch"  # what a report says of a row from such an artifact


def digests(files: Mapping[str, Path]) -> dict[str, str]:
    """{name inside the artifact: sha256} of its files."""
    return {name: sha256_of(Path(path)) for name, path in sorted(files.items())}


def files_of(folder: Path) -> dict[str, Path]:
    """Every file under a folder artifact (a Hugging Face model), by its path inside the folder, without a download's
    own bookkeeping (huggingface_hub's .cache folder)."""
    found = {p.relative_to(folder).as_posix(): p for p in sorted(Path(folder).rglob("*")) if p.is_file()}
    found = {k: v for k, v in found.items() if not k.startswith(".cache/")}
    if not found:
        raise DownloadError(f"{folder} holds no file: not the artifact (fetch it again, or name the folder that "
                            "holds it)")
    return found


def _read(lock: Path) -> dict:
    if not lock.exists():
        return {}
    try:
        return json.loads(lock.read_text())
    except json.JSONDecodeError as exc:
        raise DownloadError(f"{lock} is not valid JSON ({exc}); restore it from git (`git checkout {lock}`)") from None


def recorded_files(name: str, lock: Path = LOCK) -> list[str]:
    """The files the artifact's first fetch recorded (none: not fetched yet)."""
    return sorted(_read(lock).get(name, {}).get("files", {}))


def recorded_revision(name: str, lock: Path = LOCK) -> str | None:
    """The commit a hub model's first fetch resolved (None: not fetched yet, or placed by hand)."""
    return _read(lock).get(name, {}).get("revision")


def record_or_verify(name: str, files: Mapping[str, Path], lock: Path = LOCK, revision: str | None = None) -> str:
    """Verify the artifact's files against the lock's record of them, or, at its first fetch, record them (and the
    commit `revision` they were downloaded at, where there is one); returns what was done. A missing, extra or
    changed file is refused, naming each."""
    found = digests(files)
    with exclusive(lock, "distill-artifact-locks"):  # two imports at once: neither loses the other's record
        recorded = _read(lock)
        if name not in recorded:
            recorded[name] = {"files": found, "note": RECORDED} | ({"revision": revision} if revision else {})
            atomic_write(lock, lambda p: Path(p).write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n"))
            return f"{name}: {len(found)} file(s) hashed; {RECORDED}: commit {lock}"
    want = recorded[name]["files"]
    problems = [f"{f}: recorded {want[f][:12]}..., found {found[f][:12]}..." for f in sorted(set(want) & set(found))
                if want[f] != found[f]]
    problems += [f"{f}: recorded, missing" for f in sorted(set(want) - set(found))]
    problems += [f"{f}: not recorded" for f in sorted(set(found) - set(want))]
    if problems:
        raise DownloadError(f"{name} differs from the files its first fetch recorded in {lock}:\n  - "
                            + "\n  - ".join(problems) + "\nFetch it again (delete what is there); if its source "
                            f"really changed, delete the entry {name!r} from {lock} and commit the new record with "
                            "the reason, since every earlier number came from the recorded files.")
    return f"{name}: {len(found)} file(s) verified against {lock} ({RECORDED})"
