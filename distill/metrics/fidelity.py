"""torch-fidelity and clean-fid, the metric libraries, imported in one place: after the torchvision stand-in.

Both import torchvision when they are imported, and the real torchvision may not import next to this torch
(distill/metrics/torchvision_fallback.py registers a minimal stand-in then). Every module of the suite takes what it
needs of them from here, at its top."""

from distill.metrics.torchvision_fallback import import_torch_fidelity

torch_fidelity = import_torch_fidelity()  # the stand-in first, where the real torchvision is missing

import cleanfid.fid  # noqa: E402
from torch_fidelity.feature_extractor_base import FeatureExtractorBase  # noqa: E402
from torch_fidelity.metric_fid import (KEY_METRIC_FID, fid_features_to_statistics,  # noqa: E402
                                       fid_statistics_to_metric)
from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, isc_features_to_metric  # noqa: E402
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric  # noqa: E402
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric  # noqa: E402
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset  # noqa: E402

frechet_distance = cleanfid.fid.frechet_distance  # clean-fid's Frechet distance (the second FID backend)

__all__ = ["FeatureExtractorBase", "KEY_METRIC_FID", "KEY_METRIC_ISC_MEAN", "KEY_METRIC_KID_MEAN",
           "KEY_METRIC_PRECISION", "KEY_METRIC_RECALL", "create_feature_extractor", "fid_features_to_statistics",
           "fid_statistics_to_metric", "frechet_distance", "get_featuresdict_from_dataset", "isc_features_to_metric",
           "kid_features_to_metric", "prc_features_to_metric", "torch_fidelity"]
