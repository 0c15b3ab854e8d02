"""The domain classifier registered with torch-fidelity as a feature extractor, so FID goes through torch-fidelity.

Name: `distill-domain`. Construct with `feature_extractor_weights_path=<model.safetensors>`; provided features:
'features' (penultimate activations, used for FID/KID/PRC) and 'logits' (for IS). It runs in float64, so an image's
features do not depend on the batch it is computed in.
"""

from __future__ import annotations

import torch

from distill.metrics.classifier import load_classifier
from distill.metrics.fidelity import FeatureExtractorBase, torch_fidelity

DOMAIN_EXTRACTOR = "distill-domain"



class DomainFeatureExtractor(FeatureExtractorBase):
    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"{DOMAIN_EXTRACTOR} needs feature_extractor_weights_path (the trained classifier)")
        self.net = load_classifier(feature_extractor_weights_path,
                                   f"the domain classifier the {DOMAIN_EXTRACTOR} extractor needs (--extractor-weights)")
        self.net.double().eval()  # float64 inside: features do not depend on the batch size (to ~1e-12)

    @staticmethod
    def get_provided_features_list():
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits"}.get(metric, "features")

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        raise NotImplementedError

    def forward(self, x: torch.Tensor):
        if x.dtype != torch.uint8:
            raise TypeError(f"{DOMAIN_EXTRACTOR} expects uint8 images, got {x.dtype}")
        feats, logits = self.net.forward_features(x.double() / 127.5 - 1.0)
        out = {"features": feats, "logits": logits}
        return tuple(out[name] for name in self.features_list)


if DOMAIN_EXTRACTOR not in torch_fidelity.registry.FEATURE_EXTRACTORS_REGISTRY:
    torch_fidelity.register_feature_extractor(DOMAIN_EXTRACTOR, DomainFeatureExtractor)
