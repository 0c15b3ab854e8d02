"""Feature extractors by name, through torch-fidelity; features are computed batch by batch and do not depend on the
batch size (each image's features depend on that image only).

  distill-domain      : the classifier the pipeline trains on the data set (FID/KID/PR/PRDC: 'features'; IS: 'logits')
  inception-v3-compat : torch-fidelity's Inception-v3 ('2048'; IS: 'logits_unbiased'), from a local weights file
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from distill.core import distributed
from distill.core.checkpoint import save_weights
from distill.metrics.classifier import build_classifier
from distill.metrics.fid_dataset import UInt8Images
from distill.metrics.domain_extractor import DOMAIN_EXTRACTOR  # registers the domain classifier
from distill.metrics.fidelity import create_feature_extractor, get_featuresdict_from_dataset

# extractor name -> (layer for FID/KID/PR/PRDC, layer for IS)
LAYERS = {DOMAIN_EXTRACTOR: ("features", "logits"), "inception-v3-compat": ("2048", "logits_unbiased")}
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


def check_extractor(name: str, weights_path: Optional[str]) -> None:
    if name not in LAYERS:
        raise ValueError(f"unknown feature extractor {name!r}; expected one of {sorted(LAYERS)}")
    if not weights_path:
        raise ValueError(f"feature extractor {name!r} needs a weights file (evaluation.feature_extractor_weights)")
    if not Path(weights_path).is_file():
        what = f"torch-fidelity's Inception weights ({INCEPTION_FILE})" if name.startswith("inception") else \
            f"the trained domain classifier: build it with `snakemake --cores all -- {weights_path}`"
        raise FileNotFoundError(f"feature-extractor weights {weights_path} not found: expected {what}. Nothing is "
                                "downloaded; put the file there, set evaluation.feature_extractor_weights in "
                                "params.yaml, or pass --extractor-weights FILE.")


def load_extractor(name: str, weights_path: Optional[str]):
    """A torch-fidelity feature extractor providing the FID and IS layers of `name`, loaded from a local file."""
    check_extractor(name, weights_path)
    return create_feature_extractor(name, list(LAYERS[name]), cuda=torch.cuda.is_available(), verbose=False,
                                    feature_extractor_weights_path=str(weights_path))


def extract_features(images: torch.Tensor, extractor, batch_size: int) -> dict[str, torch.Tensor]:
    """uint8 images [N, C, H, W] -> {'fid': float64 [N, D], 'isc': float64 [N, K]} via torch-fidelity. Under
    torchrun each rank embeds its share of the images and every rank gets all the features, in order."""
    share = distributed.my_share(len(images))
    images = images[share.start:share.stop]
    name = extractor.get_name()
    if name.startswith("inception") and images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)  # Inception takes RGB
    feats = get_featuresdict_from_dataset(UInt8Images(images), extractor, batch_size, torch.cuda.is_available(),
                                          save_cpu_ram=True, verbose=False)
    fid_layer, isc_layer = LAYERS[name]
    return {"fid": distributed.gather_rows(feats[fid_layer].double()),
            "isc": distributed.gather_rows(feats[isc_layer].double())}


def timing_extractor(cfg, shape: tuple[int, ...], folder: str | Path):
    """The profile's feature extractor for timing it: Inception from its weights file (`distill fetch inception`);
    the domain classifier with random weights (written to `folder`: its time does not depend on its weights)."""
    ev = cfg["evaluation"]
    if ev["feature_extractor"] != DOMAIN_EXTRACTOR:
        return load_extractor(ev["feature_extractor"], ev["feature_extractor_weights"])
    c = cfg["classifier"]
    net_cfg = {"in_channels": shape[0], "resolution": shape[-1], "num_classes": 10, "width": c["width"],
               "feature_dim": c["feature_dim"], "max_shift": c["max_shift"]}
    torch.manual_seed(0)
    path = Path(folder) / "domain-classifier.safetensors"
    save_weights(path, build_classifier(net_cfg).state_dict(), {"kind": "classifier", "classifier": net_cfg})
    return load_extractor(DOMAIN_EXTRACTOR, str(path))
