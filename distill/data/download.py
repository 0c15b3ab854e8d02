"""Resumable, verified downloads: bytes go to `<file>.part` beside the destination (resumed with an HTTP Range request
when a previous attempt was cut off), the sha256 is checked, and only then is the file renamed into place. A wrong
checksum, a truncated transfer or no network is an error that names the file and the fix; nothing half-written is
ever left at the destination."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from distill.core.checkpoint import _umask

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download that could not be completed or verified."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def matches(digest: str, expected: str) -> bool:
    """A full sha256, or a published prefix of one (torch.hub's file names carry the first 8 hex digits)."""
    return digest.startswith(expected.lower())


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def download(url: str, dest: str | Path, sha256: str | None, timeout: float = 60.0,
             progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Fetch `url` into `dest`, resuming a `.part` left by an earlier attempt, and verify its sha256 (or prefix);
    None: no published digest, so the caller verifies it against its first fetch (distill/data/first_fetch.py)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    if part.is_symlink():  # a link where the .part goes is never written through (nor resumed): start afresh
        part.unlink()
    elif part.exists() and not part.is_file():
        raise DownloadError(f"{part} is not a file; move it away, then run the same command again")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have and response.status == 206
            if have and not resumed:  # the server ignored the Range request: start again
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if resumed else os.O_TRUNC)
            with os.fdopen(os.open(part, flags, 0o600), "ab" if resumed else "wb") as f:  # never through a link
                got = have
                while block := response.read(CHUNK):
                    f.write(block)
                    got += len(block)
                    if progress:
                        progress(got, total)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already complete (or longer than the file): verify it below
            total = got = have
        else:
            raise DownloadError(f"{url} answered HTTP {exc.code} ({exc.reason}); check the address, or download "
                                f"the file by hand and put it at {dest}") from None
    except http.client.IncompleteRead:  # the server closed the connection before Content-Length bytes
        raise DownloadError(f"{url} was cut off after {part.stat().st_size} bytes; run the same command again to "
                            f"resume from {part}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        kept = f"; the {part.stat().st_size} bytes received are kept in {part} and resumed next time" \
            if part.exists() and part.stat().st_size else ""
        raise DownloadError(f"cannot download {url}: {reason}{kept}. On a machine without network, download it "
                            f"elsewhere and put it at {dest}; then the same command verifies it") from None
    if total is not None and got < total:
        raise DownloadError(f"{url} was cut off after {got} of {total} bytes; run the same command again to resume "
                            f"from {part}")
    digest = sha256_of(part)
    if sha256 is not None and not matches(digest, sha256):
        part.unlink()
        raise DownloadError(f"{url} downloaded with sha256 {digest}, expected {sha256}: the transfer was corrupted "
                            f"or the file changed at its source. The bad download was deleted; run the same command "
                            f"again, and if it fails the same way, the published file is not the one this suite knows")
    os.chmod(part, 0o666 & ~_umask())  # readable by the group as the umask allows (a shared file system)
    os.replace(part, dest)
    return dest
