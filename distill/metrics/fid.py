"""FID through torch-fidelity, over uint8 image tensors, with the extractor named in params.yaml."""

from __future__ import annotations

from typing import Optional

import torch
from torch.utils.data import Dataset

from distill.metrics.torchvision_fallback import import_torch_fidelity


class MetricInputError(ValueError):
    """Images handed to a metric are unusable (wrong dtype, shape, range, non-finite, too few)."""


class UInt8Images(Dataset):
    """A torch Dataset over a uint8 tensor [N, C, H, W], as torch-fidelity expects."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def check_images(images: torch.Tensor, what: str, min_count: int = 2) -> None:
    if images.dtype != torch.uint8:
        raise MetricInputError(f"{what}: expected uint8 images in [0, 255], got {images.dtype}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise MetricInputError(f"{what}: expected [N, C, H, W] with C in (1, 3), got shape {tuple(images.shape)}")
    if len(images) < min_count:
        raise MetricInputError(f"{what}: {len(images)} images, but the metric needs at least {min_count}")


def fid(
    generated: torch.Tensor,
    reference: torch.Tensor,
    extractor: str,
    weights_path: Optional[str] = None,
    batch_size: int = 256,
    min_count: int = 2,
) -> float:
    """Frechet distance between the extractor's features of two uint8 image sets (torch-fidelity's FID)."""
    tf = import_torch_fidelity()
    if extractor == "distill-domain":
        import distill.metrics.extractor  # noqa: F401  (registers the extractor)
    check_images(generated, "generated images", min_count)
    check_images(reference, "reference images", min_count)
    if generated.shape[1:] != reference.shape[1:]:
        raise MetricInputError(f"generated images are {tuple(generated.shape[1:])}, reference images are "
                               f"{tuple(reference.shape[1:])}: they must match")
    if extractor.startswith("inception") and generated.shape[1] == 1:
        generated, reference = generated.repeat(1, 3, 1, 1), reference.repeat(1, 3, 1, 1)
    kwargs = {"feature_extractor_weights_path": weights_path} if weights_path else {}
    metrics = tf.calculate_metrics(
        input1=UInt8Images(generated), input2=UInt8Images(reference), fid=True, feature_extractor=extractor,
        cuda=torch.cuda.is_available(), batch_size=batch_size, save_cpu_ram=True, verbose=False, cache=False, **kwargs,
    )
    return float(metrics["frechet_inception_distance"])
