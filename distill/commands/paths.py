"""The files a command reads and writes, checked before it does any work: an output never replaces one of the
command's inputs (the same file, through a symlink, a hard link or another spelling of its path, or an input inside
an output folder), two outputs are never one file, and every output can be written where it is asked for (no file
in the way of its folder, no read-only folder).

Outputs are the options a command declares with `output` (a file, or a folder: a training run's); every other option
whose value names an existing file or folder is an input (the params file, weights, samples, statistics, a results
folder), and so is what it reads beside one (a weights file's config). A folder whose files the command reads (a
path's nodes, a run's points: declared with `input_folder`) holds no output.
"""

from __future__ import annotations

import argparse
import errno
import os
import tempfile
from pathlib import Path

from distill.core.checkpoint import config_path
from distill.errors import ConfigError


def output(p: argparse.ArgumentParser, flag: str, folder: bool = False, **kwargs) -> argparse.Action:
    """Add an option that names what the command writes (a file, or with `folder` a folder of files)."""
    action = p.add_argument(flag, **kwargs)
    declared = dict(p.get_default("output_paths") or {})
    declared[action.dest] = folder
    p.set_defaults(output_paths=declared)
    return action


def input_folder(p: argparse.ArgumentParser, flag: str, **kwargs) -> argparse.Action:
    """Add an option that names a folder whose files the command reads (a DisBack path's nodes, a run's evaluation
    points): no output may lie inside it."""
    action = p.add_argument(flag, **kwargs)
    p.set_defaults(read_folders=(*(p.get_default("read_folders") or ()), action.dest))
    return action


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _values(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def outputs(args: argparse.Namespace) -> dict[str, tuple[Path, bool]]:
    """dest -> (the path given, whether it is a folder)."""
    declared = getattr(args, "output_paths", None) or {}
    return {dest: (Path(v), folder) for dest, folder in declared.items() for v in _values(getattr(args, dest, None))
            if v}


def implied(path: Path) -> list[Path]:
    """The files a command reads because it reads `path`, found beside it: a weights file's config (`model.json`
    beside `model.safetensors`, distill/core/checkpoint.py config_path)."""
    if path.suffix == ".safetensors":
        companion = config_path(path)
        return [companion] if os.path.lexists(companion) else []
    return []


def inputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(option, path) of every input: each option's existing file or folder, and what is read beside it."""
    declared = getattr(args, "output_paths", None) or {}
    found = []
    for dest, value in vars(args).items():
        if dest in declared or dest in ("spec", "command", "output_paths", "read_folders"):
            continue
        for v in _values(value):
            if v and os.path.lexists(v):
                found.append((dest, Path(v)))
                found += [(dest, extra) for extra in implied(Path(v))]
    return found


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _inside(child: Path, folder: Path) -> bool:
    child, folder = child.resolve(), folder.resolve()
    return folder in child.parents


def check(args: argparse.Namespace) -> None:
    """Raise ConfigError naming the clash or the unwritable output; nothing is written (a write probe aside, removed
    at once)."""
    outs = outputs(args)
    ins = inputs(args)
    read_whole = getattr(args, "read_folders", None) or ()
    for dest, (out, folder) in outs.items():
        for in_dest, path in ins:
            if _same(out, path):
                raise ConfigError(f"{_flag(dest)} {out} is the input {_flag(in_dest)} {path}: writing it would "
                                  f"destroy the input; choose another {_flag(dest)}")
            if folder and _inside(path, out):
                raise ConfigError(f"{_flag(dest)} {out} is a folder that holds the input {_flag(in_dest)} {path}: "
                                  f"writing there could replace it; choose another {_flag(dest)}")
            if in_dest in read_whole and _inside(out, path):  # a path's nodes, a run's points
                raise ConfigError(f"{_flag(dest)} {out} lies inside the input folder {_flag(in_dest)} {path}, whose "
                                  f"files the command reads; choose another {_flag(dest)} outside it")
    seen: dict[Path, str] = {}
    for dest, (out, _) in outs.items():
        key = out.resolve()
        if key in seen:
            raise ConfigError(f"{_flag(dest)} and {_flag(seen[key])} are one file ({out}); give each its own path")
        seen[key] = dest
    for dest, (out, folder) in outs.items():
        writable(out, _flag(dest), folder)


def writable(path: Path, what: str, folder: bool = False) -> None:
    """Raise ConfigError unless `path` can be written: a file is not in the way of a folder on its path, a folder
    output is not a file and a file output is not a folder, and the nearest existing folder takes a new file."""
    if folder and path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is a file, not a folder; choose a folder path")
    if not folder and path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; give the path of a file (in it, or elsewhere)")
    parent = path if folder else path.parent
    parent = Path(os.path.abspath(parent))
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{what} {path}: {parent} is a file, so no folder can be made there; choose another path")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".distill-write-probe-")
    except OSError as exc:
        reason = "the file system is read-only" if exc.errno == errno.EROFS else exc.strerror
        raise ConfigError(f"{what} {path}: cannot write in {parent} ({reason}); choose a writable path") from None
    os.close(fd)
    os.unlink(probe)


def run_folder(p: argparse.ArgumentParser, contents: str) -> None:
    """--out of a training command (a run's folder, resumed when it holds this run's training state) and
    --overwrite (replace a run of other settings found there)."""
    output(p, "--out", folder=True, required=True, help=f"output folder ({contents}); holding this run's training "
                                                         "state, the run resumes from it")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run of other settings (or of unknown settings: finished, its training state gone) "
                        "that --out holds; without it, such a folder is an error and is left as it is")
