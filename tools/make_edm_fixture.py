"""Write the EDM-format test fixtures (tests/data/edm/): tiny networks built and pickled by NVlabs' own EDM code, and
their outputs on fixed inputs, so the suite's reader (distill/nets/edm_pickle.py) is tested against the real format
and the real forward passes without EDM's code installed.

    python tools/make_edm_fixture.py PATH/TO/NVlabs-edm-checkout tests/data/edm
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

NETWORKS = {
    # DDPM++ under VP preconditioning, as edm-cifar10-32x32-uncond-vp.pkl (attention at 4x4, unconditional)
    "songunet-vp": dict(precond="VPPrecond", img_resolution=8, img_channels=3, label_dim=0, model_type="SongUNet",
                        model_channels=8, channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4], dropout=0.0),
    # ADM under EDM preconditioning, as edm-imagenet-64x64-cond-adm.pkl (class-conditional)
    "dhariwalunet-edm": dict(precond="EDMPrecond", img_resolution=8, img_channels=3, label_dim=5,
                             model_type="DhariwalUNet", model_channels=8, channel_mult=[1, 2], num_blocks=1,
                             attn_resolutions=[4], dropout=0.0),  # under 64 channels ADM has no attention head
                                                                  # (SongUNet's fixture runs the attention path)
}


def main(edm_root: str, out: str) -> None:
    sys.path.insert(0, edm_root)
    import dnnlib
    import numpy as np
    import torch
    from training import networks, loss

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, kwargs in NETWORKS.items():
        kwargs = dict(kwargs)
        torch.manual_seed(0)
        net = getattr(networks, kwargs.pop("precond"))(**kwargs)
        with torch.no_grad():  # EDM zero-initialises output layers; random weights make the test see every layer
            for p in net.parameters():
                p.copy_(torch.randn_like(p) * 0.2)
        net.eval().requires_grad_(False)
        data = {"ema": net, "loss_fn": loss.EDMLoss(), "augment_pipe": None,
                "dataset_kwargs": dnnlib.EasyDict(class_name="training.dataset.ImageFolderDataset")}
        path = out_dir / f"{name}.pkl"
        path.write_bytes(pickle.dumps(data))
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(4, 3, 8, 8, generator=gen) * 5
        sigma = torch.tensor([0.002, 0.5, 3.0, 80.0])
        labels = torch.eye(kwargs["label_dim"])[[0, 1, 2, 4]] if kwargs["label_dim"] else None
        with torch.no_grad():
            d = net(x, sigma, labels)
        np.savez(out_dir / f"{name}.npz", x=x.numpy(), sigma=sigma.numpy(), d=d.numpy(),
                 labels=np.zeros((0,)) if labels is None else labels.numpy())
        manifest[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (out_dir / "sha256.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
