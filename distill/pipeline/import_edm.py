"""Step: an EDM network pickle (NVlabs' published teachers) as a suite model folder: its weights as safetensors and a
model.json whose network is {kind: edm, pickle, pickle_sha256}, so `distill sample`, the solvers and every method
load it like a trained teacher (distill/pipeline/common.py builds it from the pickle through distill/nets/edm_pickle.py,
which never runs the code the pickle carries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.core.checkpoint import save_weights
from distill.core.provenance import write_record
from distill.data.artifacts import ARTIFACTS, EDM_FOLDER
from distill.data.download import sha256_of
from distill.data.first_fetch import RECORDED, record_or_verify
from distill.nets.edm_pickle import load_edm_pickle


def run(artifact: str, out_dir: str | Path, pickle_path: str | Path | None = None) -> dict[str, Any]:
    if artifact not in ARTIFACTS or not artifact.startswith("edm_"):
        raise ValueError(f"{artifact!r} is not an EDM network of the artifact registry "
                         f"({sorted(a for a in ARTIFACTS if a.startswith('edm_'))})")
    a = ARTIFACTS[artifact]
    path = Path(pickle_path) if pickle_path else EDM_FOLDER / a.file
    if a.sha256 is None:  # no published digest: the record of its first fetch is checked before anything is read
        record_or_verify(a.name, {a.file: path})
    net = load_edm_pickle(path, sha256=a.sha256)  # the registry's sha256 is checked before anything is read
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shape = [int(net.img_channels), int(net.img_resolution), int(net.img_resolution)]
    config = {"kind": "teacher", "source": f"NVlabs EDM: {a.url}", "artifact": artifact,
              "digest": "published" if a.sha256 else RECORDED,
              "parameterization": "edm", "data": {"shape": shape, "num_classes": int(net.label_dim)},
              "network": {"kind": "edm", "pickle": str(path), "pickle_sha256": sha256_of(path),
                          "precond": type(net).__name__, "model": type(net.model).__name__}}
    save_weights(out_dir / "model.safetensors", {k: v.contiguous() for k, v in net.state_dict().items()},
                 {**config, "status": "completed"})
    # not trained here: no wall time of this suite's (SFD's Figure 1 then shifts by the paper's one hour)
    summary = {"status": "completed", "imported": artifact, "wall_seconds": None, "steps": 0,
               "parameters": sum(p.numel() for p in net.parameters())}
    write_record(out_dir / "summary.json", summary, {"pickle": path, "weights": out_dir / "model.safetensors"})
    return summary
